"""``cloudmotion info``: parse, then :func:`cloudmotion.tools.info.describe`."""

from __future__ import annotations

import json

import click

from cloudmotion.cli.main import set_verbosity, warn
from cloudmotion.cli.options import complete_setting, verbosity
from cloudmotion.errors import DataError, UsageError
from cloudmotion.settings.params import spec_of


@click.command("info")
@click.argument("frames", nargs=-1, required=True, metavar="FRAME...", type=click.Path(readable=False))
@click.option("--band", type=click.IntRange(min=1), help="Band to describe, as for track.")
@click.option(
    "--channels",
    type=click.Choice(spec_of("channels").choices()),
    help="Reduce all bands to one channel, as for track.",
)
@click.option("--nodata", type=float, help="Extra NoData value in stored units, as for track.")
@click.option("--wkt", is_flag=True, help="Print the CRS as WKT too.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@click.option(
    "--cloud-model",
    shell_complete=complete_setting(spec_of("cloud_model")),
    metavar="FILE.toml|auto",
    help="Report the cloud model (auto: fitted on each frame) and each frame's cloud share, as track uses it.",
)
@click.option("--cloud-mask", metavar="FILE|DIR", help="Report the cloud share from a GOES ACM clear-sky mask.")
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    frames: tuple[str, ...],
    band: int | None,
    channels: str | None,
    nodata: float | None,
    wkt: bool,
    as_json: bool,
    cloud_model: str | None,
    cloud_mask: str | None,
    quiet: bool,
    verbose: int,
) -> None:
    """What the reader sees in each FRAME, and whether they form one trackable sequence.

    Exit status 1 when the frames cannot be tracked together (the mismatch is named).
    """
    from cloudmotion.tools.info import describe, format_facts, format_sequence

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    if cloud_model is not None and (problem := spec_of("cloud_model").rule(cloud_model)):
        raise UsageError(f"--cloud-model: {problem}, got {cloud_model!r}")
    facts, seq = describe(
        frames, band=band, channels=channels, nodata=nodata, wkt=wkt, cloud_model=cloud_model, cloud_mask=cloud_mask
    )
    if as_json:
        click.echo(json.dumps({"frames": facts, "sequence": seq}, indent=1, default=str))
    else:
        click.echo("\n\n".join(format_facts(f) for f in facts))
        if seq is not None:
            click.echo("\n" + format_sequence(seq))
    for f in facts:
        for msg in f.get("warnings", []):
            warn(ctx, f"{f['path']}: {msg}")
    if seq is not None and not seq["ok"]:
        raise DataError(f"{frames[0]} ...: not one trackable sequence: {seq['problems'][0]}")
