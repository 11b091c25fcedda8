"""``cloudmotion plot``: parse, then :func:`cloudmotion.tools.plot.plot_file`."""

from __future__ import annotations

import click

from .main import set_verbosity
from .options import verbosity


@click.command("plot")
@click.argument("vectors", metavar="VECTORS.(csv|tif)")
@click.argument("frame")
@click.option("-o", "--output", required=True, metavar="PATH.(png|svg|pdf)",
              help="The picture; the extension picks the format.")
@click.option("--pair", type=click.IntRange(min=1), default=1, show_default=True,
              help="Which pair of a multi-pair CSV (1 = the first).")
@click.option("--style", type=click.Choice(["arrows", "barbs"]), default="arrows", show_default=True)
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Draw every N-th vector.")
@click.option("--show-flagged", is_flag=True, help="Draw flagged vectors faint instead of hiding them.")
@click.option("--dpi", type=click.FloatRange(min=20, max=1200), default=100.0, show_default=True)
@click.option("--size", default="8x8", show_default=True, metavar="WxH[px]",
              help="Picture size in inches, or pixels with a px suffix.")
@click.option("--invert", is_flag=True, help="Low values bright (infrared: cold cloud tops white).")
@click.option("--band", type=click.IntRange(min=1), help="Band of FRAME to draw.")
@click.option("--overwrite", is_flag=True, help="Replace an existing picture.")
@verbosity
@click.pass_context
def command(ctx: click.Context, vectors: str, frame: str, output: str, quiet: bool, verbose: int, **opts) -> None:
    """Quick-look picture: FRAME in grey with the good VECTORS on top, coloured by speed.

    VECTORS is a CSV or GeoTIFF written by track or batch; FRAME is usually the pair's
    first frame. Needs the plot extra: pip install 'cloudmotion[plot]'.
    """
    from ..tools.plot import plot_file

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    plot_file(vectors, frame, output, **opts)
