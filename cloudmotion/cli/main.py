"""The ``cloudmotion`` command line: thin commands over the library.

Standard output carries data only; messages and progress go to standard error.
Exit status: 0 success, 1 data or runtime error, 2 usage error.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import traceback
from dataclasses import dataclass

import click

from .. import __version__
from ..config import IO_KEYS, coerce_io, load_config, make_params
from ..errors import CloudmotionError, DataError, Terminated, UsageError, sigterm_raises
from ..formats.raster import FrameInfo
from ..formats.writers import atomic_path, write_csv_header, write_csv_rows
from ..pipeline import (
    Settings,
    open_frames,
    output_kind,
    pair_steps,
    track_frames,
    write_result,
)
from ..preprocess import CHANNEL_METHODS
from ..subpixel import FITTERS

__all__ = ["cli", "main"]


def _warn(ctx: click.Context, msg: str) -> None:
    if not ctx.obj.get("quiet"):
        click.echo(f"cloudmotion: warning: {msg}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cloudmotion")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Cloud motion vectors from consecutive geostationary satellite frames."""
    ctx.ensure_object(dict)


@dataclass(frozen=True)
class _Output:
    template: str
    kind: str  # "csv" or "tif"

    @property
    def per_pair(self) -> bool:
        return "{" in self.template


def _parse_outputs(outputs: tuple[str, ...], npairs: int) -> list[_Output]:
    outs = []
    for path in outputs or ("-",):
        kind = output_kind(path)
        if kind is None:
            raise UsageError(f"-o {path}: unknown output format; use .csv, .tif, .tiff, .geojson or .nc, "
                             "or - for CSV on stdout")
        out = _Output(path, kind)
        if kind != "csv" and npairs > 1 and not out.per_pair:
            raise UsageError(f"-o {path}: {npairs} pairs need a per-pair name with {{pair}} or "
                             f"{{time_a:%Y%m%dT%H%M%S}} in a .{kind} path")
        if kind == "nc":
            from ..formats.netcdf import require_netcdf

            require_netcdf(path)
        outs.append(out)
    if sum(o.template == "-" for o in outs) > 1:
        raise UsageError("-o -: standard output given more than once")
    return outs


def _expand(out: _Output, pair: int, a: FrameInfo, b: FrameInfo) -> str:
    if not out.per_pair:
        return out.template
    for frame, key in ((a, "{time_a"), (b, "{time_b")):
        if frame.time is None and key in out.template:
            raise UsageError(f"-o {out.template}: {frame.path} has no time for the {key}}} placeholder; use {{pair}}")
    try:
        return out.template.format(pair=pair, time_a=a.time, time_b=b.time)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"-o {out.template}: bad placeholder ({exc}); use {{pair}}, {{time_a:...}}, {{time_b:...}}") from None


def _check_destinations(paths: list[str], overwrite: bool) -> None:
    seen = set()
    for path in paths:
        if path == "-":
            continue
        full = os.path.abspath(path)
        if full in seen:
            raise UsageError(f"-o {path}: the same output is named twice")
        seen.add(full)
        folder = os.path.dirname(full)
        if not os.path.isdir(folder):
            raise UsageError(f"-o {path}: folder {os.path.dirname(path) or '.'} does not exist")
        if os.path.isdir(full):
            raise UsageError(f"-o {path}: is a directory")
        if os.path.exists(full) and not overwrite:
            raise UsageError(f"-o {path}: exists; pass --overwrite to replace it")
        if not os.access(folder, os.W_OK):
            raise DataError(f"-o {path}: folder {os.path.dirname(path) or '.'} is not writable")


def _merge_settings(ctx: click.Context, opts: dict) -> dict:
    """Defaults < --config file < explicit command-line options."""
    settings = {}
    spec = opts.pop("config_spec")
    if spec:
        settings.update(coerce_io(load_config(spec), spec))
    for key, value in opts.items():
        if value is not None:
            settings[key] = value
    return settings


def _float_option(name: str):
    def check(ctx, param, value):
        if value is not None and not math.isfinite(value):
            raise click.BadParameter(f"{value} is not a finite number", param_hint=f"'--{name}'")
        return value

    return check


_TRACKER_OPTIONS = [
    click.option("--window", type=int, help="Template size, px.  [default: 32]"),
    click.option("--step", type=int, help="Grid spacing, px.  [default: window/2]"),
    click.option("--search", type=int, help="Largest displacement searched along each axis, px.  [default: 16]"),
    click.option("--sigma", type=float, callback=_float_option("sigma"),
                 help="Gaussian pre-filter sigma, px; 0 turns it off.  [default: 0.7]"),
    click.option("--subpixel", type=click.Choice(sorted(FITTERS)), help="Sub-pixel peak fit.  [default: gaussian]"),
    click.option("--refine/--no-refine", default=None, help="Float Lucas-Kanade refinement.  [default: refine]"),
    click.option("--min-valid", type=float, callback=_float_option("min-valid"),
                 help="Smallest valid fraction of a template (flag 1).  [default: 0.5]"),
    click.option("--min-texture", type=float, callback=_float_option("min-texture"),
                 help="Smallest template std relative to the frame's (flag 2).  [default: 0.02]"),
    click.option("--min-corr", type=float, callback=_float_option("min-corr"),
                 help="Smallest peak correlation (flag 4).  [default: 0.5]"),
    click.option("--min-peak-ratio", type=float, callback=_float_option("min-peak-ratio"),
                 help="Smallest first/second peak ratio (flag 8); 1 disables.  [default: 1.0]"),
    click.option("--fb-check/--no-fb-check", default=None,
                 help="Track B->A from each end point; flag 64 when it misses.  [default: off]"),
    click.option("--fb-max", type=float, callback=_float_option("fb-max"),
                 help="Largest forward-backward miss, px.  [default: 0.5]"),
    click.option("--median-threshold", type=float, callback=_float_option("median-threshold"),
                 help="Normalised median test threshold (flag 128); 0 disables.  [default: 2]"),
    click.option("--median-eps", type=float, callback=_float_option("median-eps"),
                 help="Median test fluctuation level, px.  [default: 0.1]"),
    click.option("--max-speed", type=float, callback=_float_option("max-speed"),
                 help="Flag vectors faster than this, m/s (flag 256).  [default: 120]"),
    click.option("--max-accel", type=float, callback=_float_option("max-accel"),
                 help="Three or more frames: largest change of consecutive displacements, px (flag 512).  "
                      "[default: 1.0]"),
    click.option("--fill/--no-fill", default=None,
                 help="Replace flagged vectors by interpolation of good neighbours (flag 1024).  [default: off]"),
    click.option("--band", type=click.IntRange(min=1),
                 help="Band to read (1-based).  [default: 1; red-green-blue images: luminance]"),
    click.option("--channels", type=click.Choice(CHANNEL_METHODS),
                 help="Reduce all bands to one channel: luma, first principal component or mean."),
    click.option("--valid-range", type=(float, float), metavar="MIN MAX",
                 help="Valid values in physical units (after scale/offset); others are NoData."),
    click.option("--dqf/--no-dqf", default=None, help="GOES netCDF: mask pixels whose DQF flag is not 0."),
    click.option("--align/--no-align", default=None,
                 help="Reproject later frames onto the first frame's grid (rasterio.warp, bilinear)."),
    click.option("--max-dt", type=float, callback=_float_option("max-dt"),
                 help="Largest accepted time between consecutive frames, seconds."),
    click.option("--force/--no-force", default=None,
                 help="Track frames from different GOES satellites, sectors or bands."),
    click.option("--nodata", type=float, help="NoData value in stored units, overriding the file's."),
    click.option("--dt", type=click.FloatRange(min=0, min_open=True), callback=_float_option("dt"),
                 help="Seconds between consecutive frames, overriding the frame times."),
    click.option("--pixel-size", type=click.FloatRange(min=0, min_open=True), callback=_float_option("pixel-size"),
                 help="Pixel size in metres for frames without a CRS (north up), for m/s output."),
    click.option("--config", "config_spec", metavar="FILE.toml|PRESET",
                 help="Settings from a TOML file or a shipped preset (default, fast, dense, fastmoving); "
                      "command-line options win."),
]


def tracker_options(f):
    """Attach the tracker, quality-control and reading options shared by the commands that track."""
    for option in reversed(_TRACKER_OPTIONS):
        f = option(f)
    return f


def settings_from(ctx: click.Context, opts: dict) -> Settings:
    """Merge defaults, ``--config`` and command-line options (which win) into :class:`Settings`."""
    merged = _merge_settings(ctx, opts)
    if merged.get("max_speed") is not None and not merged["max_speed"] > 0:
        raise UsageError(f"--max-speed: must be > 0 m/s, got {merged['max_speed']}")
    for key in ("max_dt",):
        if merged.get(key) is not None and not merged[key] > 0:
            raise UsageError(f"--{key.replace('_', '-')}: must be > 0, got {merged[key]}")
    if merged.get("channels") is not None and merged["channels"] not in CHANNEL_METHODS:
        raise UsageError(f"--channels: {merged['channels']!r} is not one of {', '.join(CHANNEL_METHODS)}")
    if merged.get("valid_range") is not None:
        lo, hi = merged["valid_range"]
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise UsageError(f"--valid-range: need finite MIN < MAX, got {lo} {hi}")
        merged["valid_range"] = (float(lo), float(hi))
    extra = {k: merged[k] for k in IO_KEYS if merged.get(k) is not None}
    return Settings(params=make_params(merged), **extra)


@cli.command()
@click.argument("frames", nargs=-1, required=True, metavar="FRAME FRAME [FRAME ...]")
@click.option("-o", "--output", "outputs", multiple=True, metavar="PATH",
              help="Output: .csv, .tif/.tiff (vector grid GeoTIFF) or - (CSV on stdout, the default). "
                   "Repeatable. With several pairs a GeoTIFF path needs {pair} or {time_a:%Y%m%dT%H%M%S}.")
@tracker_options
@click.option("--plot", "plot_path", metavar="PATH.(png|svg|pdf)",
              help="Also draw a quick-look picture of each pair (as the plot command; needs the plot extra). "
                   "With several pairs the name needs {pair} or {time_a:...}.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (otherwise refused before any work).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="A line per pair; tracebacks on errors.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.  [default: when a terminal]")
@click.pass_context
def track(ctx: click.Context, frames: tuple[str, ...], outputs: tuple[str, ...], plot_path: str | None,
          overwrite: bool, quiet: bool, verbose: bool, progress: bool | None, **opts) -> None:
    """Track each consecutive pair of FRAMEs and write motion vectors.

    Frames are GeoTIFF, GOES ABI netCDF (Rad/CMI picked automatically) or any raster
    GDAL reads, in time order. dx/dy are pixels from frame A to frame B; u/v are
    eastward/northward m/s; direction is where the wind comes from (degrees clockwise
    from north). flag 0 marks a good vector.
    """
    ctx.obj.update(quiet=quiet, verbose=verbose)
    if len(frames) < 2:
        raise UsageError(f"FRAME: need at least two frames, got {len(frames)}")
    settings = settings_from(ctx, opts)
    outs = _parse_outputs(outputs, len(frames) - 1)
    picture = None
    if plot_path:
        from ..tools.plot import plot_format, require_matplotlib

        if plot_format(plot_path) is None:
            raise UsageError(f"--plot {plot_path}: unknown picture format; use .png, .svg or .pdf")
        require_matplotlib()
        picture = _Output(plot_path, "plot")
        if len(frames) > 2 and not picture.per_pair:
            raise UsageError(f"--plot {plot_path}: {len(frames) - 1} pairs need {{pair}} or {{time_a:...}} in the name")
    infos = open_frames(frames, settings)
    steps = pair_steps(infos, settings.dt, settings.max_dt)
    for _, warning in steps:
        if warning:
            _warn(ctx, warning)
    pairs = list(itertools.pairwise(infos))
    targets = [[_expand(o, i, a, b) for o in outs] for i, (a, b) in enumerate(pairs, start=1)]
    pictures = [_expand(picture, i, a, b) for i, (a, b) in enumerate(pairs, start=1)] if picture else []
    _check_destinations(sorted({p for t in targets for p in t} | set(pictures)), overwrite)

    from tqdm import tqdm

    show = (sys.stderr.isatty() if progress is None else progress) and not quiet
    with contextlib.ExitStack() as stack:
        streams = {}
        for o in outs:
            if o.kind == "csv" and not o.per_pair:
                if o.template == "-":
                    streams[o.template] = sys.stdout  # its header waits for the first rows
                else:
                    tmp = stack.enter_context(atomic_path(o.template))
                    streams[o.template] = stack.enter_context(open(tmp, "w", newline=""))
                    write_csv_header(streams[o.template])
        bar = stack.enter_context(tqdm(total=len(pairs), disable=not show, file=sys.stderr, unit="pair"))
        results = track_frames(infos, settings, [s for s, _ in steps])
        for i, ((a, b), (dt, _), result) in enumerate(zip(pairs, steps, results, strict=True), start=1):
            for o, path in zip(outs, targets[i - 1], strict=True):
                if o.template in streams:
                    if o.template == "-" and i == 1:
                        write_csv_header(sys.stdout)
                    write_csv_rows(streams[o.template], result)
                else:
                    write_result(result, path, o.kind)
            if pictures:
                from ..formats.raster import read_frame
                from ..tools.plot import quicklook

                quicklook(result, read_frame(a, nodata=settings.nodata, valid_range=settings.valid_range,
                                             dqf=settings.dqf), pictures[i - 1])
            bar.update(1)
            if verbose:
                good = int(result.field.good.sum())
                n = result.field.flag.size
                click.echo(f"cloudmotion: pair {i}: {a.path} -> {b.path}: {n} vectors, {good} good "
                           f"({100.0 * good / max(n, 1):.1f} %)" + (f", dt {dt:g} s" if dt else ""), err=True)
        if "-" in streams:
            sys.stdout.flush()


@cli.command()
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option("-o", "--outdir", required=True, metavar="OUTDIR",
              help="Output folder (created if missing): outputs, manifest.jsonl and the lock file.")
@click.option("--files-from", metavar="FILE|-",
              help="More inputs, one path per line, from FILE or - (standard input), e.g. from find.")
@click.option("--name-pattern", metavar="PATTERN",
              help="Group and time frames by their file names with strftime fields instead of GOES names, "
                   "e.g. '%Y%m%d%H%M_radar.tif'; a * names one sequence per matched text.")
@click.option("--triplets", is_flag=True,
              help="Track three frames A,B,C per task: pairs A->B and B->C together, with the temporal check.")
@click.option("--max-gap", metavar="DURATION",
              help="Skip (with a warning) pairs of frames further apart, e.g. 20min, 1h or seconds.")
@click.option("--template", metavar="TEMPLATE",
              help="Output names inside OUTDIR: {sequence}, {time_a:STRFTIME}, {time_b:STRFTIME}, {ext}.  "
                   "[default: {sequence}/{time_a:%Y%m%dT%H%M%S}_{time_b:%H%M%S}.{ext}]")
@click.option("--format", "formats", default="csv", show_default=True, metavar="FMT[,FMT...]",
              help="Output formats, one file per pair each: csv, tif (as for track -o).")
@tracker_options
@click.option("--overwrite", is_flag=True, help="Redo pairs whose outputs exist (otherwise they are skipped).")
@click.option("--lock", is_flag=True,
              help="Hold OUTDIR/.cloudmotion.lock; exit at once with status 1 if another run holds it (cron).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes.  [default: 1]")
@click.option("--scheduler", metavar="ADDRESS|local:N",
              help="Run the pairs on a Dask distributed scheduler (tcp://host:8786), or on a new local "
                   "cluster of N processes; needs pip install 'cloudmotion[dask]'.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
@click.option("-v", "--verbose", is_flag=True, help="A line per pair and a summary; tracebacks on errors.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.  [default: when a terminal]")
@click.pass_context
def batch(ctx: click.Context, inputs: tuple[str, ...], outdir: str, files_from: str | None, name_pattern: str | None,
          triplets: bool, max_gap: str | None, template: str | None, formats: str, overwrite: bool, lock: bool,
          workers: int | None, scheduler: str | None, quiet: bool, verbose: bool, progress: bool | None,
          **opts) -> None:
    """Track the frame archives in INPUT into OUTDIR: resumable, parallel, for cron.

    INPUT is a frame, a folder (searched recursively) or a quoted glob. Frames are grouped
    into sequences by GOES satellite, sector and band (or --name-pattern), sorted by time
    and paired. A pair whose outputs all exist is skipped, so a re-run does only new work.
    Each pair tracked is recorded in OUTDIR/manifest.jsonl. Exit status 1 if any pair failed.
    """
    from datetime import UTC, datetime

    from tqdm import tqdm

    from ..batch import manifest
    from ..batch import plan as archive
    from ..batch import run as bt

    ctx.obj.update(quiet=quiet, verbose=verbose)
    settings = settings_from(ctx, opts)
    fmts = archive.parse_formats(formats)
    template = template or archive.DEFAULT_TEMPLATE
    archive.check_template(template, fmts)
    gap = archive.parse_duration(max_gap, "--max-gap") if max_gap is not None else None
    pattern = archive.compile_name_pattern(name_pattern) if name_pattern else None
    if workers is not None and scheduler:
        raise UsageError("--workers: not with --scheduler (the cluster's workers run the pairs)")
    if scheduler:
        bt.check_scheduler(scheduler)
    if not inputs and files_from is None:
        raise UsageError("INPUT: give frames, folders or globs, or --files-from FILE (- for standard input)")
    out = manifest.prepare_outdir(outdir)
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet

    def emit(msg: str) -> None:
        if show:
            tqdm.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    with sigterm_raises(), manifest.outdir_lock(out, exclusive=lock) as removed:
        if removed and verbose:
            emit(f"cloudmotion: removed {len(removed)} temporary file(s) left by an interrupted run")
        listed = []
        if files_from == "-":
            listed = archive.read_path_list(sys.stdin)
        elif files_from is not None:
            try:
                with open(files_from, encoding="utf-8") as fh:
                    listed = archive.read_path_list(fh)
            except OSError as exc:
                raise UsageError(f"--files-from {files_from}: cannot read ({exc.strerror})") from None
        paths, warnings = archive.collect_paths(inputs, listed, exclude=out)
        sequences, more = archive.group_frames(paths, pattern)
        run = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"
        plan = archive.plan_batch(sequences, outdir=out, template=template, formats=fmts, triplets=triplets,
                             max_gap=gap, overwrite=overwrite, run=run)
        for msg in warnings + more + plan.warnings:
            _warn(ctx, msg)
        manifest_path = os.path.join(out, manifest.MANIFEST_NAME)
        counts = {"ok": 0, "failed": 0, "skipped": len(plan.skipped)}
        with manifest.Manifest(manifest_path) as record_log, \
                tqdm(total=plan.npairs, disable=not show, file=sys.stderr, unit="pair") as bar, \
                contextlib.closing(bt.iter_results(plan.tasks, settings, workers=workers or 1, scheduler=scheduler,
                                                   run=run)) as results:
            for rec in plan.skipped:
                record_log.append(rec)
            for records in results:
                for rec in records:
                    record_log.append(rec)
                    bar.update(1)
                    counts[rec["status"]] += 1
                    where = f"{rec['sequence']} {rec['time_a']} -> {rec['time_b']}"
                    if rec["status"] == "failed":
                        emit(f"cloudmotion: error: {where}: {rec['error']}")
                    elif verbose:
                        emit(f"cloudmotion: {where}: ok, {rec['vectors']} vectors, "
                             f"{100.0 * (rec['good_fraction'] or 0.0):.1f} % good, {rec['duration']:.2f} s")
    if verbose or (counts["failed"] and not quiet):
        click.echo(f"cloudmotion: {counts['ok']} pair(s) ok, {counts['failed']} failed, {counts['skipped']} skipped "
                   f"(gap), {plan.done} already done; manifest {manifest_path}", err=True)
    if counts["failed"]:
        ctx.exit(1)


_VERBOSITY = [click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
              click.option("-v", "--verbose", is_flag=True, help="Tracebacks on errors.")]


def _verbosity(f):
    for option in reversed(_VERBOSITY):
        f = option(f)
    return f


@cli.command()
@click.argument("vectors", metavar="VECTORS.(csv|tif)")
@click.argument("frame")
@click.option("-o", "--output", required=True, metavar="PATH.(png|svg|pdf)", help="The picture; the extension picks the format.")
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
@_verbosity
@click.pass_context
def plot(ctx: click.Context, vectors: str, frame: str, output: str, pair: int, style: str, every: int,
         show_flagged: bool, dpi: float, size: str, invert: bool, band: int | None, overwrite: bool, quiet: bool,
         verbose: bool) -> None:
    """Quick-look picture: FRAME in grey with the good VECTORS on top, coloured by speed.

    VECTORS is a CSV or GeoTIFF written by track or batch; FRAME is usually the pair's
    first frame. Needs the plot extra: pip install 'cloudmotion[plot]'.
    """
    from ..formats.raster import open_frame, read_frame
    from ..formats.vectors import read_vectors
    from ..tools.plot import parse_figsize, plot_format, quicklook, require_matplotlib

    ctx.obj.update(quiet=quiet, verbose=verbose)
    if plot_format(output) is None:
        raise UsageError(f"-o {output}: unknown picture format; use .png, .svg or .pdf")
    figsize = parse_figsize(size, dpi)
    require_matplotlib()
    _check_destinations([output], overwrite)
    info = open_frame(frame, band=band)
    pairs = read_vectors(vectors, frame_transform=info.transform)
    if pair > len(pairs):
        raise UsageError(f"--pair {pair}: {vectors} holds {len(pairs)} pair(s)")
    quicklook(pairs[pair - 1], read_frame(info), output, style=style, every=every, show_flagged=show_flagged,
              dpi=dpi, size=figsize, invert=invert)


@cli.command()
@click.argument("outdir")
@click.option("--frames", "nframes", type=click.IntRange(min=2, max=1000), default=3, show_default=True)
@click.option("--motion", default="uniform:1.25,-0.5", show_default=True, metavar="SPEC",
              help="Displacement per frame step in px: uniform:DX,DY | vortex:STRENGTH[,RADIUS[,ROW,COL]] | "
                   "shear:AMOUNT, several joined by +.")
@click.option("--from", "from_frame", metavar="FRAME", help="Warp this real frame instead of synthetic texture.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Independent Gaussian noise per frame, % of frame 0's standard deviation.")
@click.option("--corr-length", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True,
              help="Correlation length of the synthetic texture, px.")
@click.option("--size", "size_text", default="512x512", show_default=True, metavar="ROWSxCOLS")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=300.0, show_default=True,
              help="Seconds between frames.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace existing frames and truth.tif in OUTDIR.")
@_verbosity
@click.pass_context
def synth(ctx: click.Context, outdir: str, nframes: int, motion: str, from_frame: str | None, noise: float,
          corr_length: float, size_text: str, interval: float, seed: int, overwrite: bool, quiet: bool,
          verbose: bool) -> None:
    """Write frames with a known motion, and truth.tif with the true displacement.

    Without --from the texture is spatially correlated noise (FFT-filtered white noise)
    on a GOES-16-like 2 km fixed grid near nadir. Prints the paths written.
    """
    import numpy as np

    from ..formats.raster import open_frame, read_frame
    from ..tools.synth import (
        DEFAULT_START,
        GOES16_WKT,
        PIXEL_M,
        frame_names,
        make_sequence,
        motion_field,
        noise_base,
        parse_motion,
        parse_size,
        write_sequence,
    )

    ctx.obj.update(quiet=quiet, verbose=verbose)
    terms = parse_motion(motion)
    if from_frame:
        info = open_frame(from_frame)
        frame = read_frame(info)
        base, valid, transform, crs, start = frame.data, frame.valid, info.transform, info.crs_wkt, info.time
    else:
        rows, cols = parse_size(size_text)
        base, valid, crs, start = noise_base((rows, cols), corr_length, seed=seed), None, GOES16_WKT, None
        transform = (PIXEL_M, 0.0, -cols / 2 * PIXEL_M, 0.0, -PIXEL_M, rows / 2 * PIXEL_M)
    start = start or DEFAULT_START
    dx, dy = motion_field(terms, base.shape)
    os.makedirs(outdir, exist_ok=True)
    seq = make_sequence(np.asarray(base, dtype=np.float64), dx, dy, nframes=nframes, start=start,
                        interval=interval, transform=transform, crs_wkt=crs, valid=valid, noise=noise, seed=seed)
    names = [*frame_names(seq.times), "truth.tif"]
    _check_destinations([os.path.join(outdir, n) for n in names], overwrite)
    for path in write_sequence(seq, outdir, motion=motion):
        click.echo(path)


@cli.command()
@click.argument("vectors", metavar="VECTORS.(csv|tif)")
@click.argument("truth", metavar="TRUTH.tif")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@_verbosity
@click.pass_context
def score(ctx: click.Context, vectors: str, truth: str, as_json: bool, quiet: bool, verbose: bool) -> None:
    """Error of tracked VECTORS against the true displacement in TRUTH (from synth).

    Pair i of a synth sequence is scored against the truth per step, sampled bilinearly
    where each vector's feature started in frame 0; statistics are over good vectors
    (flag 0): RMS, bias per axis, 95th percentile, shares above 0.5 px and 1 px, and
    the share flagged.
    """
    import json

    from ..formats.vectors import read_vectors
    from ..tools.scoring import sample_truth_after, score_vectors
    from ..tools.synth import read_truth

    ctx.obj.update(quiet=quiet, verbose=verbose)
    tdx, tdy, transform = read_truth(truth)
    rows = []
    for i, p in enumerate(read_vectors(vectors, frame_transform=transform), start=1):
        sx, sy = sample_truth_after(tdx, tdy, p.row, p.col, i - 1)
        rows.append({"pair": i, **score_vectors(p.dx, p.dy, p.flag, sx, sy)})
    if as_json:
        click.echo(json.dumps(rows if len(rows) > 1 else rows[0], indent=1))
        return
    for r in rows:
        def f(key: str, digits: int = 4, r: dict = r) -> str:
            return "-" if r[key] is None else f"{r[key]:.{digits}f}"

        click.echo(f"pair {r['pair']}: {r['n_scored']} of {r['n_vectors']} vectors scored "
                   f"({100 * (r['share_flagged'] or 0):.1f} % flagged)")
        click.echo(f"  RMS {f('rms')} px   bias dx {f('bias_dx')} px  dy {f('bias_dy')} px   p95 {f('p95')} px")
        click.echo(f"  > 0.5 px {f('share_gt_0_5', 3)}   > 1 px {f('share_gt_1', 3)}   max {f('max')} px")


@cli.command()
@click.argument("frames", nargs=-1, required=True, metavar="FRAME...")
@click.option("--band", type=click.IntRange(min=1), help="Band to describe.")
@click.option("--nodata", type=float, help="Extra NoData value in stored units, as for track.")
@click.option("--wkt", is_flag=True, help="Print the CRS as WKT too.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
@_verbosity
@click.pass_context
def info(ctx: click.Context, frames: tuple[str, ...], band: int | None, nodata: float | None, wkt: bool,
         as_json: bool, quiet: bool, verbose: bool) -> None:
    """What the reader sees in each FRAME, and whether they form one trackable sequence.

    Exit status 1 when the frames cannot be tracked together (the mismatch is named).
    """
    import json

    from ..formats.raster import open_frame
    from ..tools.info import format_facts, format_sequence, frame_facts, sequence_facts

    ctx.obj.update(quiet=quiet, verbose=verbose)
    facts = [frame_facts(p, band=band, nodata=nodata, wkt=wkt) for p in frames]
    seq = sequence_facts([open_frame(p, band=band) for p in frames]) if len(frames) > 1 else None
    if as_json:
        click.echo(json.dumps({"frames": facts, "sequence": seq}, indent=1, default=str))
    else:
        click.echo("\n\n".join(format_facts(f) for f in facts))
        if seq is not None:
            click.echo("\n" + format_sequence(seq))
    if seq is not None and not seq["ok"]:
        raise DataError(f"{frames[0]} ...: not one trackable sequence: {seq['problems'][0]}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    0 success, 1 data or runtime error, 2 usage error, 130 interrupted (SIGINT), 143
    terminated (SIGTERM); temporary files are removed on every way out.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in args)
    try:
        with sigterm_raises():
            rv = cli.main(args=args, prog_name="cloudmotion", standalone_mode=False, obj={})
        return rv if isinstance(rv, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return 2
    except click.UsageError as exc:
        where = f"cloudmotion {exc.ctx.info_name}" if exc.ctx and exc.ctx.parent else "cloudmotion"
        click.echo(f"{where}: error: {' '.join(exc.format_message().split())}", err=True)
        return 2
    except CloudmotionError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"cloudmotion: error: {' '.join(str(exc).split())}", err=True)
        return exc.exit_code
    except Terminated:
        click.echo("cloudmotion: terminated", err=True)
        return 143
    except click.exceptions.Abort:
        click.echo("cloudmotion: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("cloudmotion: interrupted", err=True)
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except MemoryError:
        click.echo("cloudmotion: error: out of memory; lower chunk in a --config file, or use a larger "
                   "--step or smaller frames", err=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - an unexpected failure: one line, traceback with -v
        if verbose:
            traceback.print_exc()
        click.echo(f"cloudmotion: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} "
                   "(run with -v for the traceback)", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
