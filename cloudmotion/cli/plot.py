"""``cloudmotion plot``: parse, then :func:`cloudmotion.tools.plot.plot_file`."""

from __future__ import annotations

import click

from .main import set_verbosity
from .options import verbosity


@click.command("plot")
@click.argument("vectors", metavar="VECTORS.(csv|tif)|-", type=click.Path(allow_dash=True, readable=False))
@click.argument("frame", type=click.Path(readable=False))
@click.option("-o", "--output", required=True, metavar="PATH.(png|svg|pdf)", type=click.Path(readable=False),
              help="The picture; the extension picks the format.")
@click.option("--pair", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which pair of a multi-pair CSV (1 = the first).")
@click.option("--style", type=click.Choice(["arrows", "barbs"]), default="arrows", show_default=True,
              help="Arrows along the motion (lengths exaggerated by a stated factor) or wind barbs (knots).")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Draw every N-th vector.")
@click.option("--show-flagged", is_flag=True, help="Draw flagged vectors faint instead of hiding them.")
@click.option("--dpi", type=click.FloatRange(min=20, max=1200), default=100.0, show_default=True,
              help="Dots per inch: the picture is --size times this many pixels.")
@click.option("--size", default=None, metavar="WxH[px]",
              help="Picture size in inches, or pixels with a px suffix.  [default: 8 in wide, the height "
                   "from the frame's aspect ratio]")
@click.option("--invert/--no-invert", default=None,
              help="Low values bright, so that cold cloud tops are white.  [default: on for GOES infrared and "
                   "water-vapour bands (ABI 7-16), off for visible bands and other frames]")
@click.option("--band", type=click.IntRange(min=1), help="Band of FRAME to draw.")
@click.option("--overwrite", is_flag=True, help="Replace an existing picture.")
@verbosity
@click.pass_context
def command(ctx: click.Context, vectors: str, frame: str, output: str, quiet: bool, verbose: int, **opts) -> None:
    """Quick-look picture: FRAME in grey with the good VECTORS on top, coloured by speed.

    VECTORS is a CSV or GeoTIFF written by track or batch, or - for CSV on standard input
    (cloudmotion track A B | cloudmotion plot - A -o q.png); FRAME is usually the pair's
    first frame. Needs the plot extra: pip install 'cloudmotion[plot]'.
    """
    from ..tools.plot import plot_file

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    plot_file(vectors, frame, output, **opts)
