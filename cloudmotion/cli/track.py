"""``cloudmotion track``: parse, then :func:`cloudmotion.pipeline.run_track`."""

from __future__ import annotations

import functools
import sys
from typing import Self

import click

from cloudmotion.cli.main import compile_notice, set_verbosity, warn
from cloudmotion.cli.options import GroupedCommand, settings_from, tracker_options, verbosity


class _NoBar:
    """Stands in for a disabled progress bar (tqdm's import costs ~0.1 s, so it is skipped when hidden)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        return None


def _progress_bar(show: bool, total: int):
    """A tqdm bar on stderr when shown, else a no-op with the same ``update``."""
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, unit="pair")


def height_note(counts: dict[str, int] | None, max_ctt: float) -> str:
    """``", 12 without a height (10 clear sky: ctt above 273 K; 2 no cloud-top temperature)"``, or ``""``."""
    if not counts or not counts["without"]:
        return ""
    why = []
    if counts["clear"]:
        why.append(f"{counts['clear']} clear sky: ctt above {max_ctt:g} K")
    if counts["no_ctt"]:
        why.append(f"{counts['no_ctt']} no cloud-top temperature")
    return f", {counts['without']} without a height" + (f" ({'; '.join(why)})" if why else "")


@click.command("track", cls=GroupedCommand)
@click.argument("frames", nargs=-1, required=True, metavar="FRAME FRAME [FRAME ...]", type=click.Path(readable=False))
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    metavar="PATH",
    type=click.Path(allow_dash=True, readable=False),
    help="Output: .csv, .tif/.tiff (vector grid GeoTIFF), .geojson, .nc or - (CSV on stdout, the "
    "default). Repeatable. With several pairs a non-CSV path needs {pair} or {time_a:%Y%m%dT%H%M%S}.",
)
@tracker_options
@click.option(
    "--plot",
    "plot_path",
    metavar="PATH.(png|svg|pdf)",
    type=click.Path(readable=False),
    help="Also draw a quick-look picture of each pair (as the plot command; needs the plot extra). "
    "With several pairs the name needs {pair} or {time_a:...}.",
)
@click.option(
    "--sites",
    metavar="SITES.csv",
    type=click.Path(readable=False),
    help="Also the winds at these sites (CSV with site,lon,lat; other columns carried through).",
)
@click.option(
    "--site-output",
    metavar="PATH.csv",
    type=click.Path(allow_dash=True, readable=False),
    help="Where the site winds go: one row per pair and site (.csv, or - for stdout).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (otherwise refused before any work).")
@verbosity
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.  [default: when a terminal]")
@click.pass_context
def command(
    ctx: click.Context,
    frames: tuple[str, ...],
    outputs: tuple[str, ...],
    plot_path: str | None,
    sites: str | None,
    site_output: str | None,
    overwrite: bool,
    quiet: bool,
    verbose: int,
    progress: bool | None,
    **opts,
) -> None:
    """Track each consecutive pair of FRAMEs and write motion vectors.

    Frames are GeoTIFF, GOES ABI netCDF (Rad/CMI picked automatically) or any raster
    GDAL reads, in time order. dx/dy are pixels from frame A to frame B; u/v are
    eastward/northward m/s; direction is where the wind comes from (degrees clockwise
    from north). flag 0 marks a good vector.
    """
    from cloudmotion.pipeline import run_track
    from cloudmotion.tools.pair_picture import QUICKLOOK

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    settings = settings_from(opts, ctx)
    compile_notice(ctx, threads=settings.params.threads)
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet
    with _progress_bar(show, max(len(frames) - 1, 0)) as bar:

        def on_pair(i, a, b, dt, vectors) -> None:
            bar.update(1)
            if verbose:
                good, n = int(vectors.good.sum()), vectors.n
                click.echo(
                    f"cloudmotion: pair {i}: {a.path} -> {b.path}: {n} vectors, {good} good "
                    f"({100.0 * good / max(n, 1):.1f} %)"
                    + height_note(vectors.extra.get("heights"), settings.max_ctt)
                    + (f", dt {dt:g} s" if dt else "")
                    + f", search {vectors.extra['provenance']['settings']['search']} px"
                    + _time_sources(a, b),
                    err=True,
                )
                dropped = (vectors.extra.get("heights") or {}).get("dropped_levels")
                if i == 1 and dropped:
                    click.echo(
                        f"cloudmotion: --profile {settings.profile}: {dropped} level(s) with an empty cell left out",
                        err=True,
                    )

                if "max_error" in vectors.extra:
                    click.echo(f"cloudmotion: pair {i}: max_error {vectors.extra['max_error']}", err=True)

        if sites is not None or site_output is not None:
            from cloudmotion.tools.site_winds import run_track_sites

            run = functools.partial(run_track_sites, sites=sites, site_output=site_output)
        else:
            run = run_track
        run(
            frames,
            outputs,
            settings,
            stdout=sys.stdout,
            overwrite=overwrite,
            plot=plot_path,
            plotter=QUICKLOOK if plot_path else None,
            on_warning=lambda msg: warn(ctx, msg),
            on_pair=on_pair,
        )


def _time_sources(a, b) -> str:
    """Where the pair's times came from, for -v (``--name-pattern``, a GOES name, a tag, a name stamp)."""
    if a.time_source is None and b.time_source is None:
        return ""
    if a.time_source == b.time_source:
        return f", times from {a.time_source}"
    return f", times from {a.time_source or 'nowhere'} and {b.time_source or 'nowhere'}"
