"""First run: the refinement and error-term kernels compile in a second process, alongside the search's.

With an empty kernel cache, a pair's kernels compile one after another: about 10 s of CPU
for the search (``coarse_search``, ``climb``, ``template_stats``, ``halve``) and as much again
for the refinement and the expected-error terms (``lk_refine``, ``gradients``,
``ee_terms``, ``spectral_sums``). Those two sets share no code, so on a machine with two or
more cores :func:`start` launches a helper process that compiles the second set into the
same cache (by tracking a small synthetic pair with the exhaustive FFT search, which uses
no search kernel), while this process compiles the search. When this process reaches the
refinement, :func:`wait` waits for the helper, and numba then loads the kernels from the
cache instead of compiling them.

The helper only ever writes numba's cache (whose writes are atomic renames). If it cannot
start, fails, or compiled for other argument types, this process compiles what it still
needs itself, as without it: the result never depends on the helper, only the time.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

from cloudmotion.motion.kernels import jit

__all__ = ["HELPER_KERNELS", "HELPER_STAGES", "helper_running", "start", "wait"]

HELPER_KERNELS = (
    "cloudmotion.motion.kernels.lucas_kanade:gradients",
    "cloudmotion.motion.kernels.lucas_kanade:lk_refine",
    "cloudmotion.motion.kernels.ee:ee_terms",
    "cloudmotion.motion.kernels.ee_smooth:spectral_sums",
)
"""The kernels the helper compiles (their callees come with them)."""

HELPER_STAGES = frozenset({"gradients", "refine", "ee"})
"""Stages of :data:`cloudmotion.motion.kernels.backend.STAGES` whose first call waits for the helper."""

WAIT_S = 600.0
"""Longest wait for the helper, s; then it is stopped and this process compiles on its own."""

_helper: list[subprocess.Popen] = []  # the running helper, until waited for


def _command() -> list[str]:
    return [sys.executable, "-m", "cloudmotion.motion.kernels.ahead"]


def _cold() -> bool:
    """True if one of :data:`HELPER_KERNELS` has no cached build for its current source."""
    from cloudmotion.motion.kernels.backend import resolve

    try:
        return any(jit.cold_kernel(resolve(name)) for name in HELPER_KERNELS)
    except Exception:  # noqa: BLE001 - numba's private cache API changed: no helper, this process compiles
        return False


def start() -> bool:
    """Start the helper if it would save time: a writable cache, 2 or more cores, a cold kernel.

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
            _command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:  # no interpreter to run (embedded Python, exhausted process table): compile here
        return False
    _helper.append(proc)
    atexit.register(_stop)
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


def compile_helper_kernels() -> None:
    """The helper's work: track a small synthetic pair with the FFT search, one thread.

    That runs the refinement and the error terms with the argument types of every
    tracking (the pipeline converts its inputs before the kernels), and no search kernel.
    """
    import numpy as np

    from cloudmotion.track import track_pair

    rng = np.random.default_rng(0)
    a = rng.standard_normal((96, 96)).astype(np.float32)
    track_pair(a, np.roll(a, 1, axis=1), search_mode="full", threads=1)


if __name__ == "__main__":
    compile_helper_kernels()
