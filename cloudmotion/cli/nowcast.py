"""``cloudmotion nowcast``: parse, then :func:`cloudmotion.tools.nowcast.run_nowcast`."""

from __future__ import annotations

import click

from cloudmotion.cli.main import compile_notice, warn
from cloudmotion.cli.options import (
    setting_options,
    settings_from,
    tracker_options,
    verbosity,
)

_EXTRA = ("pairs", "flow_smoothing")


@click.command("nowcast")
@click.argument("frames", nargs=-1, required=True, metavar="FRAME FRAME [FRAME ...]")
@click.option(
    "--lead", default="60min", show_default=True, metavar="DURATION", help="Longest lead time: 60min, 2h or seconds."
)
@click.option("--every", default="10min", show_default=True, metavar="DURATION", help="Spacing of the lead times.")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH.tif",
    help="One GeoTIFF per lead time: {lead} (minutes, e.g. {lead:03d}) and {valid_time:%Y%m%dT%H%M}.",
)
@click.option(
    "--flow",
    metavar="PATH.tif",
    help="Also write the dense motion field: bands dx, dy (px per frame interval), u, v (m/s).",
)
@setting_options(*_EXTRA)
@tracker_options
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (otherwise refused before any work).")
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    frames: tuple[str, ...],
    lead: str,
    every: str,
    output: str,
    flow: str | None,
    overwrite: bool,
    quiet: bool,
    verbose: bool,
    **opts,
) -> None:
    """Extrapolate the latest FRAME along the measured motion, one GeoTIFF per lead time.

    The good vectors of the latest pair (or an ee-weighted mean of the last --pairs N)
    are interpolated onto every pixel, relaxing to the scene's median motion far from
    them; each output pixel is traced back along that steady field in sub-steps of at
    most 1 px and the latest frame is sampled there once with a cubic spline (Lagrangian
    persistence). Outputs are in the frame's grid and units, NaN NoData, TIFFTAG_DATETIME
    the valid time.
    """
    from cloudmotion.batch.plan import parse_duration
    from cloudmotion.tools.nowcast import run_nowcast

    ctx.obj.update(quiet=quiet, verbose=verbose)
    settings = settings_from(opts, ctx, extra=_EXTRA)
    compile_notice(ctx)
    result = run_nowcast(
        frames,
        output,
        settings,
        lead=parse_duration(lead, "--lead"),
        every=parse_duration(every, "--every"),
        flow=flow,
        overwrite=overwrite,
        on_warning=lambda msg: warn(ctx, msg),
    )
    if verbose:
        mx, my = result.median
        click.echo(
            f"cloudmotion: {len(result.paths)} nowcast(s), median motion dx {mx:.2f} dy {my:.2f} px "
            f"per frame interval: {', '.join(result.paths)}",
            err=True,
        )
