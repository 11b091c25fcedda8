"""Settings every benchmark module shares: paths, the grid, noise levels, threads, progress log.

Imports nothing but the standard library, so :func:`configure_threads` can run before
numpy is first imported.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_TIF = ROOT / "sample_data" / "G17_M1_C13_s20193002000275.tif"
CONUS_NAME = "OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e20200040318566_c20200040319074.nc"
CONUS_DEFAULT = ROOT.parent / "shared" / "sample_goes" / CONUS_NAME

WINDOW = 32
STEP = 16
NOISES = (0.0, 0.01, 0.03)
MB = 2**20
CM = "cloudmotion"

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_T0 = time.perf_counter()


def configure_threads(argv: list[str]) -> int:
    """Set the thread count of every numeric library before numpy is imported.

    ``--threads N`` on the command line (default: all cores). The same value goes to
    the environment of every child process, so the in-process and the command-line
    measurements use the same number of threads.
    """
    n = os.cpu_count() or 1
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            n = int(argv[i + 1])
        elif arg.startswith("--threads="):
            n = int(arg.split("=", 1)[1])
    for var in _THREAD_VARS:
        os.environ[var] = str(n)
    return n


def threads() -> int:
    """The thread count :func:`configure_threads` set (all cores if it was not called)."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def log(msg: str) -> None:
    """Progress to standard error, with the elapsed time."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)
