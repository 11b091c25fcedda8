"""Run a batch plan: each task (a pair or a triplet) in this process, in local worker
processes or on a Dask cluster, as a dict result for the manifest.

No click and no printing. Planning is in :mod:`cloudmotion.batch.plan`; the manifest and lock
in :mod:`cloudmotion.manifest`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

from cloudmotion.batch.history import input_stats
from cloudmotion.batch.plan import Task
from cloudmotion.batch.warm import compile_kernels_first
from cloudmotion.errors import (
    CloudmotionError,
    DataError,
    Terminated,
    UsageError,
    missing_extra,
)
from cloudmotion.files.times import format_iso
from cloudmotion.pipeline import open_frames, pair_steps, track_frames, write_result
from cloudmotion.settings.params import Settings

# running one task (in this process, a local worker process or a Dask worker)


def _message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, CloudmotionError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _record(
    task: Task,
    k: int,
    outs: Sequence[str],
    status: str,
    *,
    duration: float = 0.0,
    result=None,
    error: str | None = None,
    run: str | None = None,
    retry: bool = True,
) -> dict:
    vectors = good = fraction = None
    if result is not None:
        vectors = int(result.n)
        good = int(result.good.sum())
        fraction = round(good / vectors, 4) if vectors else None
    rec = {
        "run": run,
        "sequence": task.sequence,
        "time_a": format_iso(task.times[k]),
        "time_b": format_iso(task.times[k + 1]),
        "inputs": [task.frames[k], task.frames[k + 1]],
        "outputs": list(outs),
        "status": status,
        "vectors": vectors,
        "good": good,
        "good_fraction": fraction,
        "duration": round(duration, 3),
        "error": error,
    }
    if status == "failed":  # what a re-run needs to decide whether to try again
        rec.update(retry=retry, input_stats=input_stats(rec["inputs"]))
    return rec


def _track(frames: Sequence[str], times: Sequence[datetime], settings: Settings) -> Iterator[tuple[int, object]]:
    """Yield (pair index, Vectors) for consecutive frames, tracked as one sequence.

    Frame times come from the names the frames were grouped by.
    """
    infos = [
        dataclasses.replace(info, time=t, time_source="file name")
        for info, t in zip(open_frames(list(frames), settings), times, strict=True)
    ]
    steps = [s for s, _ in pair_steps(infos, settings.dt)]  # gaps were left out by the plan
    yield from enumerate(track_frames(infos, settings, steps))


def _write(task: Task, k: int, outs: Sequence[str], result, run: str | None) -> dict:
    """Write one pair's outputs atomically; a write error fails only this pair."""
    try:
        for rel in outs:
            path = os.path.join(task.outdir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_result(result, path)
    except Exception as exc:  # noqa: BLE001 - a failed write fails this pair only
        return _record(task, k, outs, "failed", error=_message(exc), run=run)
    return _record(task, k, outs, "ok", result=result, run=run)


def run_task(task: Task, settings: Settings, run: str | None = None) -> list[dict]:
    """Track one task and write its pairs; one manifest record per pair written.

    Errors never escape (except interruptions): a frame that cannot be read fails the
    pairs that need it. When a triplet fails, its remaining pairs are retried one by one,
    so only the pairs of the bad frame fail. A record's ``duration`` is the task's time
    shared equally by the pairs it wrote.

    Parameters
    ----------
    task : Task
    settings : Settings
    run : str, optional
        Run identifier copied into the records.

    Returns
    -------
    list of dict
        Records with ``status`` ``"ok"`` or ``"failed"``.
    """
    wanted = dict(task.pairs)
    records: dict[int, dict] = {}
    failure = None
    start = time.perf_counter()
    try:
        for k, result in _track(task.frames, task.times, settings):
            if k in wanted:
                records[k] = _write(task, k, wanted[k], result, run)
    except Exception as exc:  # noqa: BLE001 - a bad frame fails its pairs, never the run
        failure = exc
    share = (time.perf_counter() - start) / max(len(records), 1)
    for rec in records.values():
        rec["duration"] = round(share, 3)
    for k, outs in task.pairs if failure is not None else ():
        if k in records:
            continue
        if len(task.frames) == 2:  # a data error stays until an input changes; anything else may pass
            records[k] = _record(
                task,
                k,
                outs,
                "failed",
                error=_message(failure),
                run=run,
                retry=not isinstance(failure, CloudmotionError),
            )
        else:
            single = dataclasses.replace(
                task, frames=task.frames[k : k + 2], times=task.times[k : k + 2], pairs=((0, outs),)
            )
            records[k] = run_task(single, settings, run)[0]
    return [records[k] for k, _ in task.pairs]


def failed_records(task: Task, reason: str, run: str | None = None) -> list[dict]:
    """Records marking every pair of ``task`` failed with ``reason``."""
    return [_record(task, k, outs, "failed", error=reason, run=run) for k, outs in task.pairs]


_BUSY = False


def _worker_sigterm(signum, frame):
    if _BUSY:
        raise Terminated("terminated (SIGTERM)")
    os._exit(143)


def _watch_parent(pid: int, interval: float = 0.5) -> None:
    """Stop this worker (SIGTERM to itself) once process ``pid`` is gone, e.g. SIGKILLed:
    a pool's workers otherwise wait for work forever."""
    while True:
        time.sleep(interval)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os.kill(os.getpid(), signal.SIGTERM)
            return
        except OSError:
            pass


def _init_worker(parent: int) -> None:
    """Local worker processes: the parent handles Ctrl-C; SIGTERM cleans up and exits; the
    worker stops by itself when the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="cloudmotion-parent-watch").start()


def _worker_run(task: Task, settings: Settings, run: str | None) -> list[dict]:
    global _BUSY
    _BUSY = True
    try:
        return run_task(task, settings, run)
    except Terminated:
        os._exit(143)  # temporary files are gone (atomic_path cleans up on the way out)
    finally:
        _BUSY = False


# running many tasks


def iter_results(
    tasks: Sequence[Task], settings: Settings, *, workers: int = 1, scheduler: str | None = None, run: str | None = None
) -> Iterator[list[dict]]:
    """Run tasks and yield each task's records as it finishes.

    Parameters
    ----------
    tasks : sequence of Task
    settings : Settings
    workers : int
        Local processes; 1 runs in this process.
    scheduler : str, optional
        A Dask distributed scheduler address (``tcp://host:8786``), or ``local:N`` to start
        a local cluster of N single-threaded worker processes. Needs the ``dask`` extra.
    run : str, optional
        Run identifier copied into the records.

    Yields
    ------
    list of dict
        The records of one task (see :func:`run_task`), in completion order.
    """
    if scheduler:
        yield from _run_dask(tasks, settings, scheduler, run)
    elif workers > 1:
        yield from _run_processes(tasks, settings, workers, run)
    else:
        for task in tasks:
            yield run_task(task, settings, run)


def _process_context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["cloudmotion.batch"])
        return ctx
    return multiprocessing.get_context("spawn")


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and stop the workers (SIGTERM: they clean up and exit)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(timeout=30)


def _run_processes(tasks: Sequence[Task], settings: Settings, workers: int, run: str | None) -> Iterator[list[dict]]:
    """Run tasks in ``workers`` local processes, one task queued beyond those running.

    A worker that dies (killed, out of memory) fails the tasks in flight (the next run
    retries them); a new pool goes on with the rest.
    """
    todo = iter(tasks)
    limit = workers + 1
    if tasks:
        compile_kernels_first(settings.params)  # a first run: once here, not once per worker
    while True:
        pool = ProcessPoolExecutor(
            workers, mp_context=_process_context(), initializer=_init_worker, initargs=(os.getpid(),)
        )
        pending: dict = {}
        broken = False
        try:
            while True:
                while not broken and len(pending) < limit and (task := next(todo, None)) is not None:
                    pending[pool.submit(_worker_run, task, settings, run)] = task
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    try:
                        records = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        records = failed_records(
                            task,
                            "a worker process died (killed or out of memory) while this or another pair was tracked",
                            run,
                        )
                    except Exception as exc:  # noqa: BLE001 - reported as this task's failure
                        records = failed_records(task, _message(exc), run)
                    yield records
        except BaseException:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        if not broken:
            return


def check_scheduler(scheduler: str) -> int | None:
    """Check ``--scheduler`` before any work: Dask importable, ``local:N`` well formed.

    Returns
    -------
    int or None
        N for ``local:N``, None for an address.

    Raises
    ------
    UsageError
        Dask is not installed (naming the extra to install), or a bad ``local:N``.
    """
    try:
        import distributed  # noqa: F401 - the optional dependency
    except ImportError:
        raise missing_extra("--scheduler: running on Dask", "dask", "distributed") from None
    if not scheduler.startswith("local:"):
        return None
    n = scheduler[6:]
    if not n.isdigit() or int(n) < 1:
        raise UsageError(f"--scheduler {scheduler}: use local:N with N >= 1 worker processes")
    return int(n)


def _dask_client(scheduler: str):
    """A Dask client (and the local cluster it owns, if any) for ``--scheduler``."""
    import logging

    nlocal = check_scheduler(scheduler)
    from distributed import Client, LocalCluster

    if nlocal is not None:
        cluster = LocalCluster(
            n_workers=nlocal, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        )
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout=10), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise DataError(f"--scheduler {scheduler}: cannot connect ({_message(exc)})") from None


def _run_dask(tasks: Sequence[Task], settings: Settings, scheduler: str, run: str | None) -> Iterator[list[dict]]:
    """Run each task as one Dask task; only paths, settings and the small records travel."""
    client, cluster = _dask_client(scheduler)
    from distributed import as_completed

    futures: dict = {}
    try:
        limit = max(8, 4 * sum(client.nthreads().values()))
        todo = iter(tasks)
        ac = as_completed()
        for task in todo:
            fut = client.submit(run_task, task, settings, run, pure=False)
            futures[fut] = task
            ac.add(fut)
            if len(futures) >= limit:
                break
        for fut in ac:
            task = futures.pop(fut)
            try:
                records = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: this task fails
                records = failed_records(task, _message(exc), run)
            yield records
            if (task := next(todo, None)) is not None:
                nxt = client.submit(run_task, task, settings, run, pure=False)
                futures[nxt] = task
                ac.add(nxt)
    finally:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
