"""``cloudmotion synth``: parse, then :func:`cloudmotion.tools.synth.synthesize`."""

from __future__ import annotations

import click

from cloudmotion.cli.main import set_verbosity
from cloudmotion.cli.options import verbosity


@click.command("synth")
@click.argument("outdir", type=click.Path(readable=False))
@click.option(
    "--frames",
    "nframes",
    type=click.IntRange(min=2, max=1000),
    default=3,
    show_default=True,
    help="Number of frames to write (2 to 1000), --interval seconds apart.",
)
@click.option(
    "--motion",
    default="uniform:1.25,-0.5",
    show_default=True,
    metavar="SPEC",
    help="Displacement per frame step in px: uniform:DX,DY | vortex:STRENGTH[,RADIUS[,ROW,COL]] | "
    "shear:AMOUNT, several joined by +.",
)
@click.option(
    "--from",
    "from_frame",
    metavar="FRAME",
    type=click.Path(readable=False),
    help="Warp this real frame instead of synthetic texture.",
)
@click.option(
    "--noise",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Independent Gaussian noise per frame, % of frame 0's standard deviation.",
)
@click.option(
    "--corr-length",
    type=click.FloatRange(min=0, min_open=True),
    default=3.0,
    show_default=True,
    help="Correlation length of the synthetic texture, px.",
)
@click.option(
    "--size",
    default="512x512",
    show_default=True,
    metavar="ROWSxCOLS",
    help="Rows and columns of the synthetic texture, px (ignored with --from).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds between frames.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Random seed of the texture and the noise: the same seed writes the same frames.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing frames and truth.tif in OUTDIR.")
@verbosity
@click.pass_context
def command(ctx: click.Context, outdir: str, quiet: bool, verbose: int, **opts) -> None:
    """Write frames with a known motion, and truth.tif with the true displacement.

    Without --from the texture is spatially correlated noise (FFT-filtered white noise)
    on a GOES-16-like 2 km fixed grid near nadir. Frames get short GOES names
    (synth_G16_F_C13_s...tif; with --from those of that frame) that track times and
    batch groups. Prints the paths written.
    """
    from cloudmotion.tools.synth import synthesize

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    for path in synthesize(outdir, **opts):
        click.echo(path)
