"""First run: the refinement and error-term kernels compile in a second process, alongside the search's.

With an empty kernel cache, a pair's kernels compile one after another: about 10 s of CPU
for the search (``coarse_search``, ``climb``, ``template_stats``, ``halve``) and as much again
for the refinement and the expected-error terms (``lk_refine``, ``gradients``,
``ee_terms``, ``spectral_sums``). Those two sets share no code. The command line calls
:func:`arm` with the command of a helper process (``python -P -m
cloudmotion.cli.compile_helper``, which tracks a small synthetic pair with the exhaustive FFT
search: no search kernel). :func:`arm` registers a hook with
:func:`cloudmotion.motion.kernels.backend.before_compiled`; at the first compiled stage the
hook starts the helper if that saves time:

- the first stage is a search stage (so this process has the search to compile meanwhile),
  and a search kernel and a helper kernel are both cold (no cached build of their source);
- numba's cache works (the helper's builds reach this process only through it);
- two or more threads are allowed (``threads`` of :func:`arm`, else the cores available).

Before a stage the helper compiles, the hook waits for the helper, and numba then loads
the kernels from the cache instead of compiling them. The helper only writes numba's cache
(whose writes are atomic renames) and stops when this process is gone. If it fails, or
compiled for other argument types, this process compiles what it still needs itself: the
result never depends on the helper, only the time.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess
import threading

from cloudmotion.motion.kernels import jit
from cloudmotion.motion.kernels.backend import before_compiled

__all__ = ["HELPER_KERNELS", "HELPER_STAGES", "arm", "helper_running", "start", "wait"]

HELPER_KERNELS = (
    ("cloudmotion.motion.kernels.lucas_kanade", "gradients"),
    ("cloudmotion.motion.kernels.lucas_kanade", "lk_refine"),
    ("cloudmotion.motion.kernels.ee", "ee_terms"),
    ("cloudmotion.motion.kernels.ee_smooth", "spectral_sums"),
)
"""The kernels the helper compiles (their callees come with them)."""

SEARCH_KERNELS = (
    ("cloudmotion.motion.kernels.ncc", "coarse_search"),
    ("cloudmotion.motion.kernels.ncc", "climb"),
)
"""Kernels this process compiles meanwhile; a helper is started only if one is cold."""

HELPER_STAGES = frozenset({"gradients", "refine", "ee"})
"""Stages of :data:`cloudmotion.motion.kernels.backend.STAGES` whose first call waits for the helper."""

SEARCH_STAGES = frozenset({"halve", "template_stats", "coarse_search", "climb"})
"""Stages that come before the helper's: the helper starts only when one of them is the first."""

WAIT_S = 300.0
"""Longest wait for the helper, s; then it is stopped and this process compiles on its own."""

_lock = threading.Lock()
_helper: list[subprocess.Popen] = []  # the running helper, until waited for
_armed: list[tuple[list[str], int | None]] = []  # (command, threads) until the first compiled stage


def _kernels(names) -> list:
    return [getattr(importlib.import_module(module), name) for module, name in names]


def _worth_it() -> bool:
    """Cold helper and search kernels, and a cache that works (else the helper's builds are lost)."""
    try:
        helper, search = _kernels(HELPER_KERNELS), _kernels(SEARCH_KERNELS)
        if any(type(getattr(k, "_cache", None)).__name__ in ("NullCache", "NoneType") for k in helper):
            return False
        return any(map(jit.cold_kernel, helper)) and any(map(jit.cold_kernel, search))
    except Exception:  # noqa: BLE001 - numba's private cache API changed: no helper, this process compiles
        return False


def start(command: list[str], threads: int | None = None) -> bool:
    """Start the helper process now if it would save time (see the module's conditions).

    Parameters
    ----------
    command : list of str
        The helper's command line; it must compile :data:`HELPER_KERNELS` with the argument
        types tracking uses (``[sys.executable, "-P", "-m", "cloudmotion.cli.compile_helper"]``).
    threads : int, optional
        Threads the tracking may use; 1 starts no helper. Default the cores available.

    Returns
    -------
    bool
        True if a helper process runs (started now or before, not yet waited for).
    """
    with _lock:
        if _helper:
            return True
        allowed = jit.default_threads() if threads is None else threads
        if jit.CACHE_DIR is None or allowed < 2 or not _worth_it():
            return False
        env = dict(os.environ)
        if jit.CACHE_DIR:  # a fallback folder chosen by this process: the helper must use the same one
            env["NUMBA_CACHE_DIR"] = jit.CACHE_DIR
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        env["CLOUDMOTION_PARENT_PID"] = str(os.getpid())
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
        except OSError:  # no interpreter to run (embedded Python, exhausted process table): compile here
            return False
        _helper.append(proc)
    atexit.register(_stop)
    before_compiled(_before_stage)
    return True


def arm(command: list[str], threads: int | None = None) -> None:
    """At the first compiled stage of this process, :func:`start` the helper if that stage is a search stage.

    The command line calls this before tracking; a library caller may too. Arguments as
    for :func:`start`.
    """
    with _lock:
        _armed.clear()
        _armed.append((list(command), threads))
    before_compiled(_before_stage)


def disarm() -> None:
    """Forget an :func:`arm` whose first compiled stage has not come yet."""
    with _lock:
        _armed.clear()


def _before_stage(stage: str) -> None:
    if _armed:
        with _lock:
            armed = _armed.pop() if _armed else None
        if armed is not None and stage in SEARCH_STAGES:
            start(*armed)
    if _helper and stage in HELPER_STAGES:
        wait()


def helper_running() -> bool:
    """True while a helper started by :func:`start` has not been waited for."""
    return bool(_helper)


def wait() -> None:
    """Wait for the helper (at most :data:`WAIT_S`, then it is stopped); at once if none runs.

    Whatever interrupts the wait (Ctrl-C, SIGTERM) stops the helper too.
    """
    with _lock:
        if not _helper:
            return
        proc = _helper[0]
        try:
            proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except BaseException:  # an interruption (Ctrl-C, SIGTERM): no helper outlives the command
            proc.kill()
            proc.wait()
            raise
        finally:
            _helper.clear()


def _stop() -> None:
    """At exit: a helper not waited for (the command stopped before the refinement) is stopped.

    The lock is awaited 5 s at most: exit never hangs on it (a helper left running exits by
    itself once this process is gone).
    """
    if not _lock.acquire(timeout=5):
        return
    try:
        while _helper:
            proc = _helper.pop()
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        _lock.release()
