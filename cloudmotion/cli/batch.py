"""``cloudmotion batch``: parse, then :func:`cloudmotion.batch.job.run_batch`."""

from __future__ import annotations

import sys

import click

from cloudmotion.cli.main import compile_notice, set_verbosity, warn
from cloudmotion.cli.options import (
    GroupedCommand,
    batch_options,
    settings_from,
    tracker_options,
    verbosity,
)


@click.command("batch", cls=GroupedCommand)
@click.argument("inputs", nargs=-1, metavar="INPUT...", type=click.Path(readable=False))
@click.option(
    "-o",
    "--outdir",
    required=True,
    metavar="OUTDIR",
    type=click.Path(readable=False),
    help="Output folder (created if missing): outputs, manifest.jsonl and the lock file.",
)
@click.option(
    "--files-from",
    metavar="FILE|-",
    type=click.Path(allow_dash=True, readable=False),
    help="More inputs, one path per line, from FILE or - (standard input), e.g. from find.",
)
@click.option(
    "--triplets",
    is_flag=True,
    help="Track three frames A,B,C per task: pairs A->B and B->C together, with the temporal check.",
)
@batch_options
@tracker_options
@click.option("--overwrite", is_flag=True, help="Redo pairs whose outputs exist (otherwise they are skipped).")
@click.option(
    "--retry-failed",
    is_flag=True,
    help="Retry pairs that failed before although their inputs did not change (otherwise left alone).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS|local:N",
    help="Run the pairs on a Dask distributed scheduler (tcp://host:8786), or on a new local "
    "cluster of N processes; needs pip install 'cloudmotion[dask]'.",
)
@click.option(
    "--nowcast",
    metavar="LEAD/EVERY",
    help="After the pairs, a rolling nowcast of each sequence's latest frame, e.g. 60min/10min, into "
    "OUTDIR/SEQUENCE/nowcast/ (replaced on every run).",
)
@verbosity
@click.option(
    "--sites",
    metavar="SITES.csv",
    help="Also site tables per sequence (CSV with site,lon,lat): OUTDIR/SEQUENCE/site_winds.csv and, with "
    "--nowcast, nowcast/site_nowcast.csv and nowcast/site_scores.csv, appended on every run.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.  [default: when a terminal]")
@click.pass_context
def command(
    ctx: click.Context,
    inputs: tuple[str, ...],
    outdir: str,
    files_from: str | None,
    triplets: bool,
    overwrite: bool,
    retry_failed: bool,
    scheduler: str | None,
    quiet: bool,
    verbose: int,
    progress: bool | None,
    nowcast: str | None = None,
    sites: str | None = None,
    **opts,
) -> None:
    """Track the frame archives in INPUT into OUTDIR: resumable, parallel, for cron.

    INPUT is a frame, a folder (searched recursively) or a quoted glob. Frames are grouped
    into sequences by GOES satellite, sector and band (or --name-pattern), sorted by time
    and paired. A pair whose outputs all exist is skipped, so a re-run does only new work;
    a pair that failed is retried only when an input changed (or --retry-failed). Each
    pair is recorded in OUTDIR/manifest.jsonl. Exit status 1 if a pair failed in this run;
    0 when there was nothing to do.
    """
    from tqdm import tqdm

    from cloudmotion.batch.job import BatchOptions, run_batch

    quiet, verbose = set_verbosity(ctx, quiet, verbose)
    settings = settings_from(opts, ctx)
    compile_notice(ctx, now=(settings.workers or 1) > 1 or scheduler is not None, threads=settings.params.threads)
    options = BatchOptions(
        outdir=outdir,
        files_from=files_from,
        triplets=triplets,
        overwrite=overwrite,
        scheduler=scheduler,
        retry_failed=retry_failed,
        nowcast=nowcast,
        sites=sites,
    )
    show = (sys.stderr.isatty() if progress is None else progress) and not quiet

    def emit(msg: str) -> None:
        if show:
            tqdm.write(msg, file=sys.stderr)
        else:
            click.echo(msg, err=True)

    summary = run_batch(
        inputs,
        options,
        settings,
        warn=lambda msg: warn(ctx, msg),
        emit=emit,
        verbose=bool(verbose),
        progress=lambda n: tqdm(total=n, disable=not show, file=sys.stderr, unit="pair"),
    )
    if verbose or (summary.failed and not quiet):
        click.echo(
            f"cloudmotion: {summary.ok} pair(s) ok, {summary.failed} failed, {summary.skipped} skipped "
            f"(gap), {summary.done} already done; manifest {summary.manifest}",
            err=True,
        )
    if verbose and summary.not_retried:
        first = summary.not_retried[0]
        where = f"{first['sequence']} {first['time_a']}" if first.get("time_a") else ", ".join(first["inputs"])
        click.echo(
            f"cloudmotion: {len(summary.not_retried)} pair(s) or input(s) failed before and were not retried "
            f"(inputs unchanged; --retry-failed retries them), e.g. {where}: {first['error']}",
            err=True,
        )
    if summary.failed:
        ctx.exit(1)
