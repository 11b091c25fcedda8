"""``cloudmotion nowcast``: parse, then :func:`cloudmotion.tools.nowcast.run_nowcast`."""

from __future__ import annotations

import sys

import click

from cloudmotion.cli.main import compile_notice, warn
from cloudmotion.cli.options import (
    GroupedCommand,
    setting_options,
    settings_from,
    tracker_options,
    verbosity,
)
from cloudmotion.errors import UsageError

_EXTRA = ("pairs", "flow_smoothing")


@click.command("nowcast", cls=GroupedCommand)
@click.argument("frames", nargs=-1, required=True, metavar="FRAME FRAME [FRAME ...]")
@click.option(
    "--lead", default="60min", show_default=True, metavar="DURATION", help="Longest lead time: 60min, 2h or seconds."
)
@click.option("--every", default="10min", show_default=True, metavar="DURATION", help="Spacing of the lead times.")
@click.option(
    "-o",
    "--output",
    metavar="PATH.tif",
    help="One GeoTIFF per lead time: {lead} (minutes, e.g. {lead:03d}) and {valid_time:%Y%m%dT%H%M}. "
    "Required unless --sites is given.",
)
@click.option(
    "--flow",
    metavar="PATH.tif",
    help="Also write the dense motion field: bands dx, dy (px per frame interval), u, v (m/s).",
)
@click.option("--sites", metavar="SITES.csv", help="Nowcast at these sites (CSV with site,lon,lat), as an ensemble.")
@click.option(
    "--site-output",
    metavar="PATH.csv",
    help="Where the site nowcast goes: one row per site and lead time (.csv, or - for stdout).",
)
@click.option("--members", type=click.IntRange(min=2), help="Ensemble size at the sites.  [default: 20]")
@click.option("--write-members", is_flag=True, help="Add one column per member to the site table.")
@click.option(
    "--advect",
    type=click.Choice(["value", "cloud"]),
    default="value",
    show_default=True,
    help="Nowcast the frame's value, or the probability of cloud from the cloud model.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the ensemble perturbations.")
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
    output: str | None,
    flow: str | None,
    sites: str | None,
    site_output: str | None,
    members: int | None,
    write_members: bool,
    advect: str,
    seed: int,
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
    from cloudmotion.files.stdout import data_stdout
    from cloudmotion.tools.nowcast import run_nowcast

    ctx.obj.update(quiet=quiet, verbose=verbose)
    settings = settings_from(opts, ctx, extra=_EXTRA)
    compile_notice(ctx, threads=settings.params.threads)
    if sites is None and site_output is None:
        for given, name in ((members, "--members"), (write_members or None, "--write-members")):
            if given is not None:
                raise UsageError(f"{name}: only with --sites")
        if advect != "value":
            raise UsageError("--advect cloud: only with --sites (the frame nowcast advects the value)")
    if output is None and flow is not None:
        raise UsageError("--flow: the motion field is written beside the nowcast GeoTIFFs; give -o as well")
    if output is None and sites is None:
        raise UsageError("-o/--output: missing; name the nowcast GeoTIFFs (or give --sites and --site-output)")
    site = None
    if sites is not None or site_output is not None:
        from cloudmotion.tools.site_nowcast import run_site_nowcast
        from cloudmotion.tools.site_winds import check_site_output

        check_site_output(sites, site_output, stdout_taken=False)
        site = run_site_nowcast(
            frames,
            settings,
            sites=sites,
            site_output=site_output,
            lead=parse_duration(lead, "--lead"),
            every=parse_duration(every, "--every"),
            members=members or 20,
            write_members=write_members,
            advect=advect,
            seed=seed,
            stdout=data_stdout(sys.stdout),
            overwrite=overwrite,
            on_warning=lambda msg: warn(ctx, msg),
        )
        if verbose:
            click.echo(f"cloudmotion: sites: {site.note}", err=True)
        if output is None:
            return
    result = run_nowcast(
        frames,
        output,
        settings,
        lead=parse_duration(lead, "--lead"),
        every=parse_duration(every, "--every"),
        flow=flow,
        overwrite=overwrite,
        on_warning=lambda msg: warn(ctx, msg),
        tracked=site.pairs if site is not None else None,
    )
    if verbose:
        mx, my = result.median
        click.echo(
            f"cloudmotion: {len(result.paths)} nowcast(s), median motion dx {mx:.2f} dy {my:.2f} px "
            f"per frame interval: {', '.join(result.paths)}",
            err=True,
        )
