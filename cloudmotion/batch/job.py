"""``cloudmotion batch`` as a library call: inputs to a planned, locked, recorded run."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cloudmotion.batch import frames, manifest
from cloudmotion.batch import plan as planning
from cloudmotion.batch import run as runner
from cloudmotion.batch.history import History, record_key, requested_settings, settings_changes
from cloudmotion.errors import UsageError, sigterm_raises
from cloudmotion.files.times import format_iso
from cloudmotion.settings.cores import usable_cores
from cloudmotion.settings.params import Settings

__all__ = ["BatchOptions", "BatchSummary", "run_batch"]


@dataclass(frozen=True)
class BatchOptions:
    """What a batch run does besides tracking (the command's own options).

    The batch settings that a ``--config`` file may hold too (``format``, ``template``,
    ``workers``, ``lock``, ``max_gap``, ``name_pattern``) are in :class:`~cloudmotion.settings.params.Settings`.
    """

    outdir: str
    files_from: str | None = None
    triplets: bool = False
    overwrite: bool = False
    scheduler: str | None = None
    nowcast: str | None = None  # LEAD/EVERY, a rolling nowcast per sequence after the pairs
    retry_failed: bool = False
    sites: str | None = None  # site tables per sequence: winds, and site nowcasts with --nowcast


@dataclass(frozen=True)
class BatchSummary:
    """Counts of a finished run, and where its manifest is.

    ``not_retried`` holds the earlier failures left alone because their inputs did not
    change (their records); ``failed`` counts only this run's failures.
    """

    ok: int
    failed: int
    skipped: int
    done: int
    manifest: str
    not_retried: tuple[dict, ...] = ()


def _missing_record(path: str, run: str) -> dict:
    return {
        "run": run,
        "sequence": None,
        "time_a": None,
        "time_b": None,
        "inputs": [path],
        "outputs": [],
        "status": "failed",
        "vectors": None,
        "good": None,
        "good_fraction": None,
        "duration": 0.0,
        "error": f"--files-from: {path}: no such file",
        "retry": False,
        "input_stats": [None],
    }


def _drop_unchanged_failures(plan, history: History, retry: bool) -> list[dict]:
    """Leave out of ``plan`` the pairs whose last run failed for a lasting reason, inputs unchanged."""
    if retry:
        return []
    left: list[dict] = []
    tasks = []
    for task in plan.tasks:
        pairs = []
        for k, outs in task.pairs:
            probe = {
                "sequence": task.sequence,
                "time_a": format_iso(task.times[k]),
                "time_b": format_iso(task.times[k + 1]),
            }
            if (old := history.unchanged_failure(probe)) is not None:
                left.append(old)
            else:
                pairs.append((k, outs))
        if pairs:
            tasks.append(dataclasses.replace(task, pairs=tuple(pairs)))
    plan.tasks = tasks
    return left


def share_cores(settings: Settings, workers: int) -> Settings:
    """Kernel threads per worker so that workers x threads <= the cores available.

    An explicit ``threads`` setting is kept; with one worker the default (all cores) stays.
    """
    if workers <= 1 or settings.params.threads is not None:
        return settings
    threads = max(1, usable_cores() // workers)
    return dataclasses.replace(settings, params=dataclasses.replace(settings.params, threads=threads))


def run_batch(
    inputs: Sequence[str],
    options: BatchOptions,
    settings: Settings,
    *,
    warn: Callable[[str], None],
    emit: Callable[[str], None],
    verbose: bool = False,
    progress: Callable[[int], object] | None = None,
    stdin=None,
) -> BatchSummary:
    """Plan, lock, track and record a batch run.

    Parameters
    ----------
    inputs : sequence of str
        Frames, folders or quoted globs.
    options : BatchOptions
    settings : Settings
        Tracking settings, and batch's own (``format``, ``template``, ``workers``, ``lock``,
        ``max_gap``, ``name_pattern``).
    warn, emit : callable
        Receive warnings, and per-pair lines (errors, and with ``verbose`` every pair).
    progress : callable, optional
        ``progress(total)`` returns a bar with ``update(n)`` and ``close()``.
    stdin : text stream, optional
        Read for ``files_from == "-"`` (default: ``sys.stdin`` at the time of the call).

    Notes
    -----
    Nothing to do is not an error: no input file at all (an empty ``--files-from`` list,
    an empty folder) returns zero counts without creating OUTDIR or its lock. A pair
    skipped for a gap is recorded and warned about once; a pair that failed for a lasting
    reason is retried only when an input's size or modification time changed, or with
    ``retry_failed``; a missing listed path fails only itself.
    """
    fmts = planning.parse_formats(settings.format)
    template = settings.template or planning.DEFAULT_TEMPLATE
    planning.check_template(template, fmts)
    pattern = frames.compile_name_pattern(settings.name_pattern) if settings.name_pattern else None
    if settings.workers is not None and options.scheduler:
        raise UsageError("--workers: not with --scheduler (the cluster's workers run the pairs)")
    if options.scheduler:
        runner.check_scheduler(options.scheduler)
    settings = share_cores(settings, settings.workers or 1)
    if options.nowcast is not None:
        from cloudmotion.batch.nowcast import parse_nowcast

        parse_nowcast(options.nowcast)
    if options.sites is not None:
        if not {"csv", "tif", "tiff"} & set(fmts):
            raise UsageError(
                f"--sites: the site winds are read back from CSV or GeoTIFF; add csv to --format {settings.format}"
            )
        _check_sites(options)
    if not inputs and options.files_from is None:
        raise UsageError("INPUT: give frames, folders or globs, or --files-from FILE (- for standard input)")
    listed = (
        frames.read_paths_from(options.files_from, stdin if stdin is not None else sys.stdin)
        if options.files_from is not None
        else []
    )
    missing: list[str] = []
    paths, warnings = frames.collect_paths(inputs, listed, exclude=os.path.abspath(options.outdir), missing=missing)
    manifest_path = os.path.join(os.path.abspath(options.outdir), manifest.MANIFEST_NAME)
    if not paths and not missing:  # a quiet period: nothing to do, and nothing created
        for msg in warnings:
            warn(msg)
        return BatchSummary(ok=0, failed=0, skipped=0, done=0, manifest=manifest_path)
    out = manifest.prepare_outdir(options.outdir)
    with sigterm_raises(), manifest.outdir_lock(out, exclusive=settings.lock) as guard:
        sequences, more = frames.group_frames(paths, pattern) if paths else ({}, [])
        if options.nowcast is not None:
            from cloudmotion.batch.nowcast import check_nowcast_frames

            check_nowcast_frames(sequences, settings.pairs)
        run = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"
        plan = planning.plan_batch(
            sequences,
            outdir=out,
            template=template,
            formats=fmts,
            triplets=options.triplets,
            max_gap=settings.max_gap,
            overwrite=options.overwrite,
            run=run,
        )
        records, torn = manifest.read_manifest(manifest_path)
        history = History(records)
        requested = requested_settings(settings)
        if not options.overwrite:
            _check_same_settings(records, plan.existing, out, requested, warn)
        new_skips = [rec for rec in plan.skipped if not history.skipped_before(rec)]
        for msg in (
            warnings + more + plan.warnings + (torn if verbose else []) + [planning.gap_warning(r) for r in new_skips]
        ):
            warn(msg)
        not_retried = _drop_unchanged_failures(plan, history, options.retry_failed)
        lost = [_missing_record(p, run) for p in missing]
        not_retried += [history.last[record_key(r)] for r in lost if history.unchanged_failure(r) is not None]
        lost = [r for r in lost if history.unchanged_failure(r) is None]
        if (removed := guard.remove_stale_temps(plan.outputs)) and verbose:
            emit(f"cloudmotion: removed {len(removed)} temporary file(s) left by an interrupted run")
        counts = _run_plan(
            plan,
            settings,
            options,
            run,
            manifest_path,
            new_skips + lost,
            emit=emit,
            verbose=verbose,
            progress=progress,
            requested=requested,
        )
        if options.nowcast is not None:
            from cloudmotion.batch.nowcast import rolling_nowcasts

            counts["failed"] += rolling_nowcasts(
                sequences, out, options.nowcast, settings, max_gap=settings.max_gap, emit=emit, verbose=verbose
            )
        if options.sites is not None:
            counts["failed"] += _site_tables(sequences, out, options, settings, manifest_path, run, emit, verbose)
    return BatchSummary(
        ok=counts["ok"],
        failed=counts["failed"],
        skipped=len(new_skips),
        done=plan.done,
        manifest=manifest_path,
        not_retried=tuple(not_retried),
    )


def _check_sites(options: BatchOptions) -> None:
    """Refuse a bad sites file before any work (a clashing column: exit 2; bad coordinates: exit 1)."""
    from cloudmotion.formats.sites import read_sites
    from cloudmotion.tools.site_nowcast import NOWCAST_COLUMNS, member_columns
    from cloudmotion.tools.site_winds import WIND_COLUMNS

    read_sites(options.sites, WIND_COLUMNS)
    if options.nowcast is not None:
        read_sites(options.sites, NOWCAST_COLUMNS + member_columns(20))


def _site_tables(sequences, out, options, settings, manifest_path, run, emit, verbose) -> int:
    """Winds at the sites for this run's pairs and, with ``--nowcast``, the site nowcasts; the failures."""
    from cloudmotion.batch.sites import site_nowcasts, site_winds_of_run
    from cloudmotion.formats.sites import read_sites
    from cloudmotion.tools.site_winds import WIND_COLUMNS

    records, _ = manifest.read_manifest(manifest_path)
    mine = [r for r in records if r.get("run") == run and r.get("status") == "ok"]
    failed = site_winds_of_run(mine, out, read_sites(options.sites, WIND_COLUMNS), settings, emit=emit)
    if options.nowcast is not None:
        failed += site_nowcasts(
            sequences, out, options.nowcast, options.sites, settings, max_gap=settings.max_gap, emit=emit,
            verbose=verbose,
        )  # fmt: skip
    return failed


def _check_same_settings(
    records: list[dict], existing: list[str], outdir: str, requested: dict, warn: Callable[[str], None]
) -> None:
    """Refuse a re-run that asks for other settings than the existing outputs were made with.

    Raises
    ------
    UsageError
        Naming each setting that differs (recorded and requested values).
    """
    changes, legacy = settings_changes(records, existing, outdir, requested)
    if changes:
        what = "; ".join(f"{k}: {old!r} then, {new!r} now" for k, old, new in ((k, *v) for k, v in changes.items()))
        raise UsageError(
            f"{outdir}: outputs already there were made with other settings ({what}); "
            "pass --overwrite to redo them, or write to another folder"
        )
    if legacy:
        warn(
            f"{outdir}: {legacy} existing output(s) were recorded without their settings (cloudmotion 0.2.0); "
            "counted as made with these settings"
        )


def _where(rec: dict) -> str:
    if rec.get("time_a"):
        return f"{rec['sequence']} {rec['time_a']} -> {rec['time_b']}"
    return ", ".join(rec.get("inputs") or [])


def _run_plan(
    plan,
    settings: Settings,
    options: BatchOptions,
    run: str,
    manifest_path: str,
    first: list[dict],
    *,
    emit: Callable[[str], None],
    verbose: bool,
    progress,
    requested: dict | None = None,
) -> dict:
    """Append ``first`` (new skips, missing inputs), then track the plan and append each record
    (an ok record with the ``requested`` settings its outputs were made with)."""
    counts = {"ok": 0, "failed": 0, "skipped": 0}
    bar = progress(plan.npairs) if progress is not None else None
    with (
        manifest.Manifest(manifest_path) as record_log,
        contextlib.closing(
            runner.iter_results(
                plan.tasks, settings, workers=settings.workers or 1, scheduler=options.scheduler, run=run
            )
        ) as results,
    ):
        try:
            for rec in first:
                record_log.append(rec)
                if rec["status"] == "failed":
                    counts["failed"] += 1
                    emit(f"cloudmotion: error: {rec['error']}")
            for records in results:
                for rec in records:
                    if rec["status"] == "ok" and requested is not None:
                        rec["settings"] = requested
                    record_log.append(rec)
                    if bar is not None:
                        bar.update(1)
                    counts[rec["status"]] += 1
                    if rec["status"] == "failed":
                        emit(f"cloudmotion: error: {_where(rec)}: {rec['error']}")
                    elif verbose:
                        emit(
                            f"cloudmotion: {_where(rec)}: ok, {rec['vectors']} vectors, "
                            f"{100.0 * (rec['good_fraction'] or 0.0):.1f} % good, {rec['duration']:.2f} s"
                        )
        finally:
            if bar is not None:
                bar.close()
    return counts
