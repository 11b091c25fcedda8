"""First run: the refinement and error-term kernels compile in a second process, alongside the search's.

With an empty kernel cache, a pair's kernels compile one after another: about 10 s of CPU
for the search (``coarse_search``, ``climb``, ``template_stats``, ``halve``) and as much again
for the refinement and the expected-error terms (``lk_refine``, ``gradients``,
``ee_terms``, ``spectral_sums``). Those two sets share no code, so on a machine with two or
more cores :func:`start` launches a helper process that compiles the second set into the
same cache, while this process compiles the search. The command line gives the helper's
command (``python -m cloudmotion.cli.compile_helper``, which tracks a small synthetic pair
with the exhaustive FFT search: no search kernel). When this process reaches the
refinement, :func:`wait` (registered with
:func:`cloudmotion.motion.kernels.backend.before_compiled`) waits for the helper, and numba
then loads the kernels from the cache instead of compiling them.

The helper only ever writes numba's cache (whose writes are atomic renames). If it cannot
start, fails, or compiled for other argument types, this process compiles what it still
needs itself, as without it: the result never depends on the helper, only the time.
"""

from __future__ import annotations

import atexit
import importlib
import os
import subprocess

from cloudmotion.motion.kernels import jit
from cloudmotion.motion.kernels.backend import before_compiled

__all__ = ["HELPER_KERNELS", "HELPER_STAGES", "helper_running", "start", "wait"]

HELPER_KERNELS = (
    ("cloudmotion.motion.kernels.lucas_kanade", "gradients"),
    ("cloudmotion.motion.kernels.lucas_kanade", "lk_refine"),
    ("cloudmotion.motion.kernels.ee", "ee_terms"),
    ("cloudmotion.motion.kernels.ee_smooth", "spectral_sums"),
)
"""The kernels the helper compiles (their callees come with them)."""

HELPER_STAGES = frozenset({"gradients", "refine", "ee"})
"""Stages of :data:`cloudmotion.motion.kernels.backend.STAGES` whose first call waits for the helper."""

WAIT_S = 600.0
"""Longest wait for the helper, s; then it is stopped and this process compiles on its own."""

_helper: list[subprocess.Popen] = []  # the running helper, until waited for


def _cold() -> bool:
    """True if one of :data:`HELPER_KERNELS` has no cached build for its current source."""
    try:
        return any(jit.cold_kernel(getattr(importlib.import_module(m), f)) for m, f in HELPER_KERNELS)
    except Exception:  # noqa: BLE001 - numba's private cache API changed: no helper, this process compiles
        return False


def start(command: list[str]) -> bool:
    """Start the helper if it would save time: a writable cache, 2 or more cores, a cold kernel.

    Parameters
    ----------
    command : list of str
        The helper process's command line; it must compile :data:`HELPER_KERNELS` with the
        argument types tracking uses (``[sys.executable, "-m", "cloudmotion.cli.compile_helper"]``).

    Returns
    -------
    bool
        True if a helper process was started (and not yet waited for).
    """
    if _helper:
        return True
    if jit.CACHE_DIR is None or jit.default_threads() < 2 or not _cold():
        return False
    env = dict(os.environ)
    if jit.CACHE_DIR:  # a fallback folder chosen by this process: the helper must use the same one
        env["NUMBA_CACHE_DIR"] = jit.CACHE_DIR
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:  # no interpreter to run (embedded Python, exhausted process table): compile here
        return False
    _helper.append(proc)
    atexit.register(_stop)
    before_compiled(wait)
    return True


def helper_running() -> bool:
    """True while a helper started by :func:`start` has not been waited for."""
    return bool(_helper)


def wait(stage: str | None = None) -> None:
    """Wait for the helper before a stage it compiles (any stage if ``stage`` is None).

    Returns at once when no helper runs or ``stage`` is not in :data:`HELPER_STAGES`. A
    helper still running after :data:`WAIT_S` is stopped.
    """
    if not _helper or (stage is not None and stage not in HELPER_STAGES):
        return
    proc = _helper.pop()
    try:
        proc.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _stop() -> None:
    """At exit: a helper not waited for (the command stopped before the refinement) is stopped."""
    while _helper:
        proc = _helper.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
