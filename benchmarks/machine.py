"""The machine and the versions a benchmark run measured: CPU, cores, RAM, load, libraries, commit."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import subprocess

import numpy as np

from .common import ROOT, threads

__all__ = ["loadavg", "machine_info", "versions"]


def loadavg() -> float:
    """One-minute load average (NaN where unavailable)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return np.nan


def _proc_field(path: str, key: str) -> str | None:
    """The value after ``key`` in a /proc file, or None."""
    with contextlib.suppress(OSError), open(path) as fh:
        for line in fh:
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def machine_info(load_start: float) -> list[str]:
    """CPU model, cores, RAM, OS, Python, threads, load average."""
    cpu = _proc_field("/proc/cpuinfo", "model name") or "unknown"
    mem = _proc_field("/proc/meminfo", "MemTotal")
    ram = f"{int(mem.split()[0]) / 2**20:.1f} GiB" if mem else "unknown"
    n = threads()
    return [
        f"CPU: {cpu}; {os.cpu_count()} logical cores",
        f"RAM: {ram}",
        f"OS: {platform.platform()}; Python {platform.python_version()}",
        (
            f"Threads: {n} (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMEXPR_NUM_THREADS set to "
            f"{n} for this process and every child; OpenCV cv2.setNumThreads({n}); cloudmotion's scipy.fft "
            f"calls use workers=os.cpu_count() = {os.cpu_count()} whatever the environment says)"
        ),
        (
            f"Load average (1 min) at start {load_start:.2f}, at end {loadavg():.2f}: other processes on the "
            "machine share its cores, so timings carry their noise (the best of the repeats is reported)"
        ),
    ]


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def versions() -> list[str]:
    """Versions of the libraries measured, the repository commit and a hash of the package's source."""
    out = []
    for dist in (
        "cloudmotion",
        "numpy",
        "scipy",
        "opencv-python-headless",
        "openpiv",
        "scikit-image",
        "rasterio",
        "pyproj",
    ):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    with contextlib.suppress(Exception):
        import rasterio

        out.append(f"GDAL {rasterio.__gdal_version__}")
    commit = "unknown"
    with contextlib.suppress(Exception):
        commit = _git("rev-parse", "--short", "HEAD")
        commit += (
            " (cloudmotion/ has uncommitted changes)" if _git("status", "--porcelain", "--", "cloudmotion") else ""
        )
    digest = hashlib.sha256()
    pkg = ROOT / "cloudmotion"
    for path in sorted(pkg.rglob("*.py")):
        digest.update(path.relative_to(pkg).as_posix().encode() + path.read_bytes())
    return [", ".join(out), f"repository commit: {commit}; cloudmotion/**/*.py sha256 {digest.hexdigest()[:12]}"]
