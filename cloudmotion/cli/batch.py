"""``cloudmotion batch``: parse, then :func:`cloudmotion.batch.job.run_batch`."""

from __future__ import annotations

import sys

import click

from .main import warn
from .options import settings_from, tracker_options, verbosity


@click.command("batch")
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
              help="Output formats, one file per pair each: csv, tif, tiff, geojson, nc (as for track -o).")
@tracker_options
@click.option("--overwrite", is_flag=True, help="Redo pairs whose outputs exist (otherwise they are skipped).")
@click.option("--lock", is_flag=True,
              help="Hold OUTDIR/.cloudmotion.lock; exit at once with status 1 if another run holds it (cron).")
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes.  [default: 1]")
@click.option("--scheduler", metavar="ADDRESS|local:N",
              help="Run the pairs on a Dask distributed scheduler (tcp://host:8786), or on a new local "
                   "cluster of N processes; needs pip install 'cloudmotion[dask]'.")
@click.option("--nowcast", metavar="LEAD/EVERY",
              help="After the pairs, a rolling nowcast of each sequence's latest frame, e.g. 60min/10min, into "
                   "OUTDIR/SEQUENCE/nowcast/ (replaced on every run).")
@verbosity
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.  [default: when a terminal]")
@click.pass_context
def command(ctx: click.Context, inputs: tuple[str, ...], outdir: str, files_from: str | None,
            name_pattern: str | None, triplets: bool, max_gap: str | None, template: str | None, formats: str,
            overwrite: bool, lock: bool, workers: int | None, scheduler: str | None, quiet: bool, verbose: bool,
            progress: bool | None, nowcast: str | None = None, **opts) -> None:
    """Track the frame archives in INPUT into OUTDIR: resumable, parallel, for cron.

    INPUT is a frame, a folder (searched recursively) or a quoted glob. Frames are grouped
    into sequences by GOES satellite, sector and band (or --name-pattern), sorted by time
    and paired. A pair whose outputs all exist is skipped, so a re-run does only new work.
    Each pair tracked is recorded in OUTDIR/manifest.jsonl. Exit status 1 if any pair failed.
    """
    from tqdm import tqdm

    from ..batch.job import BatchOptions, run_batch

    ctx.obj.update(quiet=quiet, verbose=verbose)
    settings = settings_from(opts, ctx)
    options = BatchOptions(outdir=outdir, files_from=files_from, name_pattern=name_pattern, triplets=triplets,
                           max_gap=max_gap, template=template, formats=formats, overwrite=overwrite, lock=lock,
                           workers=workers, scheduler=scheduler, nowcast=nowcast)
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet

    def emit(msg: str) -> None:
        if show:
            tqdm.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    summary = run_batch(inputs, options, settings, warn=lambda msg: warn(ctx, msg), emit=emit, verbose=verbose,
                        progress=lambda n: tqdm(total=n, disable=not show, file=sys.stderr, unit="pair"))
    if verbose or (summary.failed and not quiet):
        click.echo(f"cloudmotion: {summary.ok} pair(s) ok, {summary.failed} failed, {summary.skipped} skipped "
                   f"(gap), {summary.done} already done; manifest {summary.manifest}", err=True)
    if summary.failed:
        ctx.exit(1)
