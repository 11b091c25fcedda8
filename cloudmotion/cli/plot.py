"""``cloudmotion plot``: parse, then :func:`cloudmotion.tools.plot.plot_file`."""

from __future__ import annotations

import click

from cloudmotion.cli.main import set_verbosity
from cloudmotion.cli.options import verbosity


@click.command("plot")
@click.argument("vectors", metavar="VECTORS.(csv|tif)|-|NOWCAST.tif", type=click.Path(allow_dash=True, readable=False))
@click.argument("frame", required=False, type=click.Path(readable=False))
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH.(png|svg|pdf)",
    type=click.Path(readable=False),
    help="The picture; the extension picks the format.",
)
@click.option(
    "--pair",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which pair of a multi-pair CSV (1 = the first).",
)
@click.option(
    "--style",
    type=click.Choice(["arrows", "barbs"]),
    default="arrows",
    show_default=True,
    help="Arrows along the motion (lengths exaggerated by a stated factor) or wind barbs (knots).",
)
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Draw every N-th vector.")
@click.option("--show-flagged", is_flag=True, help="Draw flagged vectors faint instead of hiding them.")
@click.option(
    "--dpi",
    type=click.FloatRange(min=20, max=1200),
    default=100.0,
    show_default=True,
    help="Dots per inch: the picture is --size times this many pixels.",
)
@click.option(
    "--size",
    default=None,
    metavar="WxH[px]",
    help="Picture size in inches, or pixels with a px suffix.  [default: 8 in wide, the height "
    "from the frame's aspect ratio; 14x7 with --observed]",
)
@click.option(
    "--invert/--no-invert",
    default=None,
    help="Low values bright, so that cold cloud tops are white.  [default: on for GOES infrared and "
    "water-vapour bands (ABI 7-16), off for visible bands and other frames]",
)
@click.option("--band", type=click.IntRange(min=1), help="Band of FRAME to draw.")
@click.option("--cloud", is_flag=True, help="Shade the cloud probability under the vectors (blue).")
@click.option("--cloud-model", metavar="FILE.toml|auto", help="Cloud model for --cloud, as for track.  [default: auto]")
@click.option("--cloud-mask", metavar="FILE|DIR", help="Cloud probability for --cloud from a GOES ACM mask.")
@click.option("--overwrite", is_flag=True, help="Replace an existing picture.")
@click.option("--observed", metavar="FRAME", help="Nowcast: the observed frame at the valid time, drawn beside it.")
@click.option("--flow", metavar="FLOW.tif", help="Nowcast: streamlines of the motion field written by nowcast --flow.")
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    vectors: str,
    frame: str | None,
    output: str,
    quiet: bool,
    verbose: int,
    observed: str | None,
    flow: str | None,
    **opts,
) -> None:
    """Quick-look picture: FRAME in grey with the good VECTORS on top, coloured by speed.

    VECTORS is a CSV or GeoTIFF written by track or batch, or - for CSV on standard input
    (cloudmotion track A B | cloudmotion plot - A -o q.png); FRAME is usually the pair's
    first frame. With a single NOWCAST.tif (from nowcast) it draws the nowcast with its
    lead and valid time, --observed beside it and --flow streamlines on it. Needs the
    plot extra: pip install 'cloudmotion[plot]'.
    """
    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    if frame is None:
        from cloudmotion.tools.plot_nowcast import plot_nowcast_file

        plot_nowcast_file(
            vectors,
            output,
            observed=observed,
            flow=flow,
            dpi=opts["dpi"],
            size=opts["size"],
            invert=bool(opts["invert"]),
            overwrite=opts["overwrite"],
        )
        return
    if observed or flow:
        raise click.UsageError("--observed and --flow draw a nowcast: give NOWCAST.tif alone, without FRAME")
    from cloudmotion.tools.plot import plot_file

    plot_file(vectors, frame, output, **opts)
