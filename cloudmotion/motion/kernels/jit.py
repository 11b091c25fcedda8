"""Compiled-kernel set-up: where numba keeps its cache, and how many threads kernels use.

numba caches compiled kernels (``cache=True``) next to the module that defines them.
That folder is read-only in a system or container install, and ``HOME`` may be unset
under cron, so the cache folder is chosen here, before any kernel is defined:

1. ``NUMBA_CACHE_DIR`` if the user set it (numba's own rule);
2. the package folder, if a file can be created in its ``__pycache__``;
3. ``$XDG_CACHE_HOME/cloudmotion/numba`` or ``~/.cache/cloudmotion/numba``;
4. ``<tempdir>/cloudmotion-numba-<uid>``;
5. no cache at all (every process compiles: slower start, never a failure).

Threads: kernels are serial and release the GIL; :func:`split_run` runs them on parts of
the template list in a thread pool (numba's own threading layer is not used: it doubles
the first compile and, under a forkserver batch worker, leaves a named semaphore that the
resource tracker reports as leaked). The default is the cores this process may use (its
CPU affinity), capped by ``NUMBA_NUM_THREADS``.

First run: compiling every kernel takes 20-40 s in one process. A command line registers a
callback with :func:`on_cold_cache`; the first :func:`split_run` of the process calls it with
:data:`COMPILE_NOTICE` when a kernel has no usable cache entry (:func:`cold_cache`), so the
user learns why the first pair is slow; the command line's callback also starts the helper
process of :mod:`cloudmotion.motion.kernels.ahead`, which compiles the refinement's and the
error terms' kernels while this process compiles the search's. The library itself never
prints.
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    "CACHE_DIR",
    "COMPILE_NOTICE",
    "choose_cache_dir",
    "cold_cache",
    "default_threads",
    "kernel",
    "on_cold_cache",
    "split_run",
]

KERNEL_MODULES = (
    "cloudmotion.motion.kernels.frame",
    "cloudmotion.motion.kernels.ncc",
    "cloudmotion.motion.kernels.lucas_kanade",
    "cloudmotion.motion.kernels.ee",
    "cloudmotion.motion.kernels.ee_smooth",
)
"""The modules that define kernels (imported by :func:`cold_cache` to see them all)."""

COMPILE_NOTICE = "compiling kernels once; later runs load them from the cache"
NO_CACHE_NOTICE = "compiling kernels (no writable cache folder: every run compiles; set NUMBA_CACHE_DIR)"

_KERNELS: list = []  # every dispatcher made by kernel()
_notice: list = []  # the callback of on_cold_cache, until it is used

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _writable(path: str) -> bool:
    """True if a file can be created in ``path`` (made if missing); tried, not guessed from modes."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def choose_cache_dir(
    package_dir: str = _PACKAGE_DIR,
    *,
    environ: Mapping[str, str] | None = None,
    writable: Callable[[str], bool] = _writable,
) -> str | None:
    """The folder numba should cache kernels in, ``""`` for numba's own choice, or None for no cache.

    Parameters
    ----------
    package_dir : str
        Folder of the modules defining the kernels.
    environ : mapping, optional
        Environment (default ``os.environ``).
    writable : callable
        ``writable(path) -> bool``; tests replace it to simulate read-only folders.

    Returns
    -------
    str or None
        ``""`` when numba's default (``NUMBA_CACHE_DIR`` or the package's ``__pycache__``)
        works, a fallback folder otherwise, None when nothing is writable.
    """
    env = os.environ if environ is None else environ
    if env.get("NUMBA_CACHE_DIR"):
        return ""
    if writable(os.path.join(package_dir, "__pycache__")):
        return ""
    candidates = []
    xdg = env.get("XDG_CACHE_HOME")
    home = env.get("HOME")
    if xdg:
        candidates.append(os.path.join(xdg, "cloudmotion", "numba"))
    if home:
        candidates.append(os.path.join(home, ".cache", "cloudmotion", "numba"))
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    candidates.append(os.path.join(tempfile.gettempdir(), f"cloudmotion-numba-{uid}"))
    for path in candidates:
        if writable(path):
            return path
    return None


CACHE_DIR = choose_cache_dir()
"""Result of :func:`choose_cache_dir` for this process."""


def check_thread_setting(environ: Mapping[str, str] | None = None) -> None:
    """Refuse a ``NUMBA_NUM_THREADS`` that numba cannot start with (0, -1, text), before numba reads it.

    Raises
    ------
    UsageError
        Naming the variable and its value (numba itself would fail with a bare ValueError).
    """
    from cloudmotion.errors import UsageError

    value = (os.environ if environ is None else environ).get("NUMBA_NUM_THREADS")
    if value is None or value.strip() == "":
        return
    try:
        ok = int(value) >= 1
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(
            f"NUMBA_NUM_THREADS={value}: must be a whole number >= 1 (the threads compiled kernels may use); "
            "unset it to use every core this process may use"
        )


check_thread_setting()

import numba  # after choose_cache_dir: the cache folder must be known before numba reads its config

if CACHE_DIR:
    numba.config.CACHE_DIR = CACHE_DIR  # type: ignore[attr-defined]


class _HideScipyLinalg(importlib.abc.MetaPathFinder):
    """Import finder that reports ``scipy.linalg`` (and its submodules) as missing."""

    def find_spec(self, name, path=None, target=None):
        if name == "scipy.linalg" or name.startswith("scipy.linalg."):
            raise ModuleNotFoundError(f"{name} is not needed by cloudmotion's kernels", name=name)


def _load_numba_arraymath() -> None:
    """Import numba's array-math lowering without probing scipy's BLAS.

    Loading any kernel, cached or not, makes numba import ``numba.np.arraymath``, which
    checks once whether ``scipy.linalg.cython_blas`` imports. That import pulls in all of
    ``scipy.linalg`` and scipy's array-API layer (0.4-0.9 s, more than loading the kernels).
    None of these kernels calls BLAS, so the probe runs with ``scipy.linalg`` hidden: numba
    then uses its own loop for ``np.correlate``/``np.convolve`` in compiled code of this
    process (the only effect of the probe); ``np.dot`` and ``np.linalg`` in compiled code
    still import scipy when they are compiled. Nothing is hidden if scipy.linalg is loaded.
    """
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    finder = _HideScipyLinalg()
    sys.meta_path.insert(0, finder)
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


_load_numba_arraymath()


FAST = {"reassoc", "contract", "nsz", "arcp"}
"""numba fastmath flags of the search and refinement kernels: reassociation and fused
multiply-adds for speed (sums vectorise), never ``nnan``/``ninf`` (NaN marks undefined lags
and failed fits). The error-term kernels use them too, less ``arcp``
(:data:`FAST_EXACT_DIV`): their float64 sums reassociated move the terms by about 1e-7 of
their value, far below what a threshold can tell."""

FAST_EXACT_DIV = FAST - {"arcp"}
"""The :data:`FAST` flags without ``arcp``, for the error-term kernels: their means divide
sums by counts, and a multiply by a rounded reciprocal leaves a flat window's values one
ulp off their mean, so that its variance is about 1e-30 instead of 0 and a coefficient that
must be undefined (NaN) comes out finite."""

EXACT = False
"""fastmath setting of kernels that must equal their numpy reference bit for bit: exact IEEE
arithmetic (``halve`` and ``gradients``)."""


def kernel(**options) -> Callable:
    """``numba.njit`` with the cache set up above; falls back to no cache rather than failing.

    Parameters
    ----------
    **options
        Passed to ``numba.njit`` (``parallel``, ``fastmath``, ``nogil`` ...).
    """

    def wrap(fn: Callable) -> Callable:
        if CACHE_DIR is not None:
            try:
                disp = numba.njit(cache=True, **options)(fn)
                _KERNELS.append(disp)
                return disp
            except RuntimeError:  # "no locator available": no writable cache folder after all
                pass
        disp = numba.njit(cache=False, **options)(fn)
        _KERNELS.append(disp)
        return disp

    return wrap


def cold_cache() -> str | None:
    """What the first kernel call will do, when it compiles: a notice, else None.

    Imports every kernel module and asks numba's cache of each kernel for a valid index
    (one written for the module's current source); any kernel without one compiles.

    Returns
    -------
    str or None
        :data:`COMPILE_NOTICE` when a kernel has no cached build, :data:`NO_CACHE_NOTICE`
        when there is no cache at all, None when every kernel loads from the cache (or numba's
        cache cannot be inspected).
    """
    import importlib

    for name in KERNEL_MODULES:
        importlib.import_module(name)
    for disp in _KERNELS:
        if getattr(disp.py_func, "__module__", None) not in KERNEL_MODULES:
            continue  # a kernel defined elsewhere (a plug-in, a test) is not the package's first run
        cache = getattr(disp, "_cache", None)
        if cache is None or type(cache).__name__ == "NullCache":
            return NO_CACHE_NOTICE
        try:
            if cold_kernel(disp):
                return COMPILE_NOTICE
        except Exception:  # noqa: BLE001 - numba's private cache API changed: say nothing rather than fail
            return None
    return None


def cold_kernel(disp) -> bool:
    """True if the kernel ``disp`` will compile: not compiled in this process, no cached build of its source.

    Raises
    ------
    Exception
        Whatever numba's private cache API raises if it changed (callers decide).
    """
    cache = getattr(disp, "_cache", None)
    if disp.signatures:
        return False
    if cache is None or type(cache).__name__ == "NullCache":
        return True
    return not cache._cache_file._load_index()  # an index written for the module's current source


def on_cold_cache(callback: Callable[[str], None] | None) -> None:
    """Call ``callback(notice)`` once, before the first kernel runs, if kernels will compile.

    The command line passes a function that prints the line on stderr (not under ``-q``)
    and starts the helper process of :mod:`cloudmotion.motion.kernels.ahead`; None removes
    a callback not yet used.
    """
    _notice.clear()
    if callback is not None:
        _notice.append(callback)


def _announce() -> None:
    if _notice:
        callback = _notice.pop()
        notice = cold_cache()
        if notice:
            callback(notice)


def default_threads() -> int:
    """Cores this process may use, capped by ``NUMBA_NUM_THREADS``."""
    from cloudmotion.settings.cores import usable_cores

    return max(1, min(usable_cores(), numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def split_run(fn: Callable, threads: int | None, head: tuple, per: tuple, tail: tuple = ()) -> tuple:
    """Run a ``nogil`` kernel over parts of per-template arrays in threads; results concatenated.

    ``fn(*head, *[p[lo:hi] for p in per], *tail)`` is called for consecutive parts of the
    templates (four parts per thread, so that slower parts, e.g. with NoData, balance
    out); each part must return a tuple of arrays whose first axis runs over its
    templates. Per-template arrays updated in place by ``fn`` are updated in ``per``.

    Parameters
    ----------
    fn : callable
        Compiled kernel (``nogil=True``).
    threads : int or None
        Threads; None = :func:`default_threads`.
    head, per, tail : tuple
        Leading arguments, per-template arrays (same length, C-contiguous), trailing ones.

    Raises
    ------
    ValueError
        If ``threads`` is not a positive integer.
    """
    _announce()
    n_threads = default_threads() if threads is None else threads
    if isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    n = len(per[0])
    parts = min(4 * n_threads, max(1, n // 64)) if n_threads > 1 else 1
    if parts <= 1:
        return fn(*head, *per, *tail)
    bounds = [(n * i // parts, n * (i + 1) // parts) for i in range(parts)]
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        futures = [pool.submit(fn, *head, *(p[lo:hi] for p in per), *tail) for lo, hi in bounds]
        results = [f.result() for f in futures]
    return tuple(np.concatenate(arrays) for arrays in zip(*results, strict=True))
