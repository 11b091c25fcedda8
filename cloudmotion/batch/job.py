"""``cloudmotion batch`` as a library call: inputs to a planned, locked, recorded run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ..errors import UsageError, sigterm_raises
from ..params import Settings
from . import frames, manifest
from . import plan as planning
from . import run as runner

__all__ = ["BatchOptions", "BatchSummary", "run_batch"]


@dataclass(frozen=True)
class BatchOptions:
    """What a batch run does besides tracking (the command's own options)."""

    outdir: str
    files_from: str | None = None
    name_pattern: str | None = None
    triplets: bool = False
    max_gap: str | None = None
    template: str | None = None
    formats: str = "csv"
    overwrite: bool = False
    lock: bool = False
    workers: int | None = None
    scheduler: str | None = None
    nowcast: str | None = None  # issue 19: LEAD/EVERY, a rolling nowcast per sequence after the pairs


@dataclass(frozen=True)
class BatchSummary:
    """Counts of a finished run, and where its manifest is."""

    ok: int
    failed: int
    skipped: int
    done: int
    manifest: str


def share_cores(settings: Settings, workers: int) -> Settings:
    """Kernel threads per worker so that workers x threads <= the cores available.

    An explicit ``threads`` setting is kept; with one worker the default (all cores) stays.
    """
    if workers <= 1 or settings.params.threads is not None:
        return settings
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cores // workers)
    return dataclasses.replace(settings, params=dataclasses.replace(settings.params, threads=threads))


def run_batch(inputs: Sequence[str], options: BatchOptions, settings: Settings, *,
              warn: Callable[[str], None], emit: Callable[[str], None], verbose: bool = False,
              progress: Callable[[int], object] | None = None, stdin=None) -> BatchSummary:
    """Plan, lock, track and record a batch run.

    Parameters
    ----------
    inputs : sequence of str
        Frames, folders or quoted globs.
    options : BatchOptions
    settings : Settings
    warn, emit : callable
        Receive warnings, and per-pair lines (errors, and with ``verbose`` every pair).
    progress : callable, optional
        ``progress(total)`` returns a bar with ``update(n)`` and ``close()``.
    stdin : text stream, optional
        Read for ``files_from == "-"`` (default: ``sys.stdin`` at the time of the call).
    """
    fmts = planning.parse_formats(options.formats)
    template = options.template or planning.DEFAULT_TEMPLATE
    planning.check_template(template, fmts)
    gap = planning.parse_duration(options.max_gap, "--max-gap") if options.max_gap is not None else None
    pattern = frames.compile_name_pattern(options.name_pattern) if options.name_pattern else None
    if options.workers is not None and options.scheduler:
        raise UsageError("--workers: not with --scheduler (the cluster's workers run the pairs)")
    if options.scheduler:
        runner.check_scheduler(options.scheduler)
    settings = share_cores(settings, options.workers or 1)
    if options.nowcast is not None:
        from .nowcast import parse_nowcast

        parse_nowcast(options.nowcast)
    if not inputs and options.files_from is None:
        raise UsageError("INPUT: give frames, folders or globs, or --files-from FILE (- for standard input)")
    out = manifest.prepare_outdir(options.outdir)
    with sigterm_raises(), manifest.outdir_lock(out, exclusive=options.lock) as guard:
        listed = frames.read_paths_from(options.files_from, stdin if stdin is not None else sys.stdin) \
            if options.files_from is not None else []
        paths, warnings = frames.collect_paths(inputs, listed, exclude=out)
        sequences, more = frames.group_frames(paths, pattern)
        run = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"
        plan = planning.plan_batch(sequences, outdir=out, template=template, formats=fmts, triplets=options.triplets,
                                   max_gap=gap, overwrite=options.overwrite, run=run)
        for msg in warnings + more + plan.warnings:
            warn(msg)
        if (removed := guard.remove_stale_temps(plan.outputs)) and verbose:
            emit(f"cloudmotion: removed {len(removed)} temporary file(s) left by an interrupted run")
        manifest_path = os.path.join(out, manifest.MANIFEST_NAME)
        counts = {"ok": 0, "failed": 0, "skipped": len(plan.skipped)}
        bar = progress(plan.npairs) if progress is not None else None
        with manifest.Manifest(manifest_path) as record_log, contextlib.closing(
                runner.iter_results(plan.tasks, settings, workers=options.workers or 1, scheduler=options.scheduler,
                                    run=run)) as results:
            try:
                for rec in plan.skipped:
                    record_log.append(rec)
                for records in results:
                    for rec in records:
                        record_log.append(rec)
                        if bar is not None:
                            bar.update(1)
                        counts[rec["status"]] += 1
                        where = f"{rec['sequence']} {rec['time_a']} -> {rec['time_b']}"
                        if rec["status"] == "failed":
                            emit(f"cloudmotion: error: {where}: {rec['error']}")
                        elif verbose:
                            emit(f"cloudmotion: {where}: ok, {rec['vectors']} vectors, "
                                 f"{100.0 * (rec['good_fraction'] or 0.0):.1f} % good, {rec['duration']:.2f} s")
            finally:
                if bar is not None:
                    bar.close()
        if options.nowcast is not None:
            from .nowcast import rolling_nowcasts

            counts["failed"] += rolling_nowcasts(sequences, out, options.nowcast, settings, max_gap=gap, emit=emit,
                                                 verbose=verbose)
    return BatchSummary(ok=counts["ok"], failed=counts["failed"], skipped=counts["skipped"], done=plan.done,
                        manifest=manifest_path)
