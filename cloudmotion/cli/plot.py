"""``cloudmotion plot``: parse, then one call of :mod:`cloudmotion.tools.plot` (a picture),
:mod:`cloudmotion.tools.plot_loop` (a loop of frames) or :mod:`cloudmotion.tools.plot_nowcast`."""

from __future__ import annotations

import os

import click

from cloudmotion.cli.main import set_verbosity
from cloudmotion.cli.options import complete_setting, verbosity
from cloudmotion.settings.params import spec_of

LOOP_EXTENSIONS = (".gif", ".mp4")


class _ValuesOption(click.Option):
    """A repeatable option that also takes the words after it up to the next option, so that a
    shell glob works: ``--observed obs_*.tif`` is ``--observed obs_1.tif --observed obs_2.tif``."""

    def add_to_parser(self, parser, ctx: click.Context) -> None:
        super().add_to_parser(parser, ctx)
        for name in self.opts:  # click's parser has no nargs=-1 option: extend its handler
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            store = option.process

            def process(value, state, store=store) -> None:
                store(value, state)
                while state.rargs and not (state.rargs[0].startswith("-") and len(state.rargs[0]) > 1):
                    store(state.rargs.pop(0), state)

            option.process = process


@click.command("plot")
@click.argument(
    "vectors",
    metavar="VECTORS.(csv|tif)|-|NOWCAST.tif",
    type=click.Path(allow_dash=True, readable=False),
)
@click.argument("frames", nargs=-1, metavar="[FRAME ...]", type=click.Path(readable=False))
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PATH.(png|svg|pdf|gif|mp4)",
    type=click.Path(readable=False),
    help="The picture; the extension picks the format. .gif (or .mp4, with ffmpeg) draws a loop: one "
    "picture per FRAME, or per lead of the NOWCASTs.",
)
@click.option(
    "--pair",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which pair of a multi-pair CSV (1 = the first); loops match pairs to frames by time.",
)
@click.option(
    "--style",
    type=click.Choice(["arrows", "barbs"]),
    default="arrows",
    show_default=True,
    help="Arrows along the motion, coloured by speed in m/s (lengths exaggerated by a stated factor), "
    "or wind barbs in knots (WMO).",
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    default=None,
    help="Draw every N-th vector along each grid axis.  [default: thinned to about one vector per "
    "28 picture pixels, whatever the frame size]",
)
@click.option(
    "--show-flagged",
    is_flag=True,
    help="Draw flagged vectors faint instead of hiding them.",
)
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
    "from the frame's aspect ratio; 14 in wide with --observed]",
)
@click.option(
    "--invert/--no-invert",
    default=None,
    help="Low values bright, so that cold cloud tops are white.  [default: on for GOES infrared and "
    "water-vapour bands (ABI 7-16), off for visible bands and other frames]",
)
@click.option(
    "--coastlines/--no-coastlines",
    default=True,
    show_default=True,
    help="Coastlines and borders (Natural Earth 1:50m, shipped) on frames with a CRS.",
)
@click.option("--band", type=click.IntRange(min=1), help="Band of FRAME to draw.")
@click.option(
    "--cloud",
    is_flag=True,
    help="Shade the cloud probability under the vectors (blue).",
)
@click.option(
    "--cloud-model",
    shell_complete=complete_setting(spec_of("cloud_model")),
    metavar="FILE.toml|auto",
    help="Cloud model for --cloud, as for track.  [default: auto]",
)
@click.option(
    "--cloud-mask",
    metavar="FILE|DIR",
    help="Cloud probability for --cloud from a GOES ACM mask.",
)
@click.option(
    "--fps",
    type=click.FloatRange(min=0.1, max=60),
    default=2.0,
    show_default=True,
    help="Loops: pictures per second.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing picture.")
@click.option(
    "--observed",
    cls=_ValuesOption,
    multiple=True,
    metavar="FRAME ...",
    help="Nowcast: the observed frames, each drawn beside the lead valid at its time; takes every word "
    "after it up to the next option (a shell glob).",
)
@click.option(
    "--flow",
    metavar="FLOW.tif",
    help="Nowcast: streamlines of the motion field written by nowcast --flow.",
)
@verbosity
@click.pass_context
def command(
    ctx: click.Context,
    vectors: str,
    frames: tuple[str, ...],
    output: str,
    quiet: bool,
    verbose: int,
    observed: tuple[str, ...],
    flow: str | None,
    fps: float,
    **opts,
) -> None:
    """Quick-look picture: FRAME in grey with the good VECTORS on top, coloured by speed.

    VECTORS is a CSV or GeoTIFF written by track or batch, or - for CSV on standard input
    (cloudmotion track A B | cloudmotion plot - A -o q.png); FRAME is usually the pair's
    first frame. Several FRAMEs with -o NAME.gif make a loop: each frame with the vectors
    of the pair that starts there. NOWCAST.tif files (from nowcast) draw the nowcast with its
    lead and valid time, --observed beside it and --flow streamlines on it; several make a
    loop of the leads. Needs the plot extra: pip install 'cloudmotion[plot]'.
    """
    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    loop = os.path.splitext(output)[1].lower() in LOOP_EXTENSIONS
    from cloudmotion.tools.plot_nowcast import is_nowcast, plot_nowcast_file

    if not frames or is_nowcast(vectors):
        plot_nowcast_file(
            [vectors, *frames],
            output,
            observed=observed,
            flow=flow,
            dpi=opts["dpi"],
            size=opts["size"],
            invert=opts["invert"],
            overwrite=opts["overwrite"],
            coastlines=opts["coastlines"],
            fps=fps,
        )
        return
    if observed or flow:
        raise click.UsageError("--observed and --flow draw nowcasts: give NOWCAST.tif files, without VECTORS")
    if loop:
        from cloudmotion.tools.plot_files import plot_loop_file

        for name in ("pair", "cloud", "cloud_model", "cloud_mask"):
            if opts[name] not in (None, False, 1):
                raise click.UsageError(f"--{name.replace('_', '-')} draws one picture, not a loop")
        plot_loop_file(
            vectors,
            frames,
            output,
            style=opts["style"],
            every=opts["every"],
            show_flagged=opts["show_flagged"],
            dpi=opts["dpi"],
            size=opts["size"],
            invert=opts["invert"],
            band=opts["band"],
            overwrite=opts["overwrite"],
            coastlines=opts["coastlines"],
            fps=fps,
        )
        return
    if len(frames) > 1:
        raise click.UsageError(f"{len(frames)} FRAMEs make a loop: write -o NAME.gif (or .mp4)")
    from cloudmotion.tools.plot_files import plot_file

    plot_file(vectors, frames[0], output, **opts)
