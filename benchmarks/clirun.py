"""Whole command-line runs under ``/usr/bin/time -v``: start-up, the CONUS pair, scaling, full disk.

cloudmotion runs as ``cloudmotion track A.tif B.tif -o out.csv``; each peer as
``run.py --peer-cli METHOD A.tif B.tif out.csv`` (:func:`benchmarks.peers.peer_cli`).
Both outputs are read back with :func:`cloudmotion.formats.vectors.read_vectors`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .common import CM, HERE, log, threads
from .data import fourier_shift, vortex_motion, warp_masked, write_tif
from .peers import PEERS
from .stages import memory_by_stage

TIME_BIN = "/usr/bin/time"
T_A = dt.datetime(2020, 1, 4, 3, 16, 18)
SHIFT = (2.6, -1.3)
FULL_DISK = 5424


@dataclass
class CliRun:
    """Wall time and peak RSS of one process."""

    label: str
    wall: float
    rss_mib: float
    code: int
    vectors: int = 0
    median_dx: float = np.nan
    median_dy: float = np.nan
    note: str = ""


@dataclass
class CliResults:
    """Every command-line measurement."""

    startup: CliRun | None = None
    conus: list[CliRun] = field(default_factory=list)
    conus_nc: CliRun | None = None
    sizes: list[tuple[float, CliRun]] = field(default_factory=list)
    windows: list[tuple[int, CliRun]] = field(default_factory=list)
    full_disk: list[CliRun] = field(default_factory=list)
    conus_shape: tuple[int, int] | None = None
    memory: dict[str, tuple[float, float]] = field(default_factory=dict)
    memory_pair: str = ""


def parse_time_v(text: str) -> tuple[float, float]:
    """Wall seconds and max RSS (MiB) from ``/usr/bin/time -v`` output."""
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        raise RuntimeError(f"cannot parse /usr/bin/time output:\n{text[-2000:]}")
    h, m, s = wall.groups()
    return int(h or 0) * 3600 + int(m) * 60 + float(s), int(rss.group(1)) / 1024


def _run_once(cmd: list[str]) -> tuple[float, float, int, str]:
    """Wall seconds, peak RSS (MiB), exit status and standard error of one process.

    Under ``/usr/bin/time -v``, or with ``os.wait4`` resource usage where it is missing.
    """
    if os.path.exists(TIME_BIN):
        proc = subprocess.run([TIME_BIN, "-v", *cmd], check=False, capture_output=True, text=True, env=os.environ)
        wall, rss = parse_time_v(proc.stderr)
        return wall, rss, proc.returncode, proc.stderr
    import time

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    _pid, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode() if p.stderr else ""
    return time.perf_counter() - t0, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), err


def run_measured(label: str, cmd: list[str], out: str | None = None, repeat: int = 1) -> CliRun:
    """Run a command ``repeat`` times: the best wall time, the peak RSS of that run, its output's vectors."""
    best: CliRun | None = None
    for _ in range(repeat):
        wall, rss, code, err = _run_once(cmd)
        if code != 0:  # reported, not fatal: the rest of the run still measures
            lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("\t", "Command "))]
            log(f"{label}: exit {code}: {' '.join(cmd)}\n{err[-2000:]}")
            return CliRun(label, wall, rss, code, note=f"FAILED (exit {code}): {lines[-1] if lines else ''}")
        if best is None or wall < best.wall:
            best = CliRun(label, wall, rss, code)
    if out:
        best.vectors, best.median_dx, best.median_dy = vector_summary(out)
    return best


def vector_summary(path: str) -> tuple[int, float, float]:
    """Number of vectors and median dx, dy of a vector file (cloudmotion's or a peer's CSV)."""
    from cloudmotion.errors import DataError
    from cloudmotion.formats.vectors import read_vectors

    try:
        pairs = read_vectors(path)
    except DataError:
        return 0, np.nan, np.nan
    dx = np.concatenate([p.dx for p in pairs])
    dy = np.concatenate([p.dy for p in pairs])
    return int(dx.size), float(np.nanmedian(dx)), float(np.nanmedian(dy))


def cloudmotion_cmd() -> list[str]:
    """The cloudmotion executable next to this interpreter (or found on PATH)."""
    exe = Path(sys.executable).with_name("cloudmotion")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("cloudmotion")
    if found:
        return [found]
    return [sys.executable, "-P", "-c", "import sys; from cloudmotion.cli.main import main; sys.exit(main())"]


def cm_track(label: str, a: str, b: str, work: Path, *extra: str, repeat: int = 1) -> CliRun:
    """``cloudmotion track A B -o out.csv`` under /usr/bin/time -v."""
    out = str(work / "cm_out.csv")
    return run_measured(label, [*cloudmotion_cmd(), "track", a, b, "-o", out, "--overwrite", "-q", *extra], out, repeat)


def peer_track(method: str, a: str, b: str, work: Path, repeat: int = 1) -> CliRun:
    """A peer's equivalent script under /usr/bin/time -v."""
    out = str(work / "peer_out.csv")
    cmd = [sys.executable, str(HERE / "run.py"), "--threads", str(threads()), "--peer-cli", method, a, b, out]
    return run_measured(method, cmd, out, repeat)


def conus_runs(res: CliResults, conus, conus_path: Path | None, work: Path, quick: bool) -> None:
    """The CONUS vortex pair through cloudmotion's CLI and each peer, and the netCDF read path."""
    repeat = 1 if quick else 3
    data, valid, prof = conus
    res.conus_shape = data.shape
    b = warp_masked(data, valid, vortex_motion(data.shape, ""))
    pa = write_tif(work / "conus_a.tif", data, crs_wkt=prof["crs_wkt"], transform=prof["transform"], when=T_A)
    pb = write_tif(
        work / "conus_b.tif",
        b,
        crs_wkt=prof["crs_wkt"],
        transform=prof["transform"],
        when=T_A + dt.timedelta(minutes=5),
    )
    log("CLI: CONUS pair")
    res.conus.append(cm_track(CM, pa, pb, work, repeat=1 if quick else 5))
    res.conus.append(cm_track("cloudmotion --no-refine", pa, pb, work, "--no-refine", repeat=repeat))
    for method in PEERS:
        res.conus.append(peer_track(method, pa, pb, work, repeat=1 if quick else 2))
        log(f"CLI: CONUS {method}: {res.conus[-1].wall:.2f} s")
    if conus_path is not None:
        res.conus_nc = cm_track(
            "cloudmotion, netCDF read path (same file twice, --dt 300)",
            str(conus_path),
            str(conus_path),
            work,
            "--dt",
            "300",
            repeat=repeat,
        )


def _shifted_pair(side: int, seed: int, work: Path, stem: str) -> tuple[np.ndarray, np.ndarray, str, str]:
    """Correlated noise and its exact Fourier shift by :data:`SHIFT`, and the two GeoTIFFs written."""
    from cloudmotion.tools.known_motion import correlated_noise

    a = correlated_noise((side, side), 2.0, seed=seed)
    b = fourier_shift(a, *SHIFT)
    pa = write_tif(work / f"{stem}_a.tif", a, when=T_A)
    pb = write_tif(work / f"{stem}_b.tif", b, when=T_A + dt.timedelta(minutes=10))
    return a, b, pa, pb


def size_runs(res: CliResults, work: Path, quick: bool) -> None:
    """Scaling with image size (0.25 to 16 Mpx) and with the window size (16/32/64)."""
    repeat = 1 if quick else 3
    for side in (500, 1000, 2000) if quick else (500, 1000, 2000, 4000):
        a, b, pa, pb = _shifted_pair(side, side, work, "size")
        run = cm_track(f"{side}x{side}", pa, pb, work, repeat=1 if side >= 4000 else repeat)
        res.sizes.append((side * side / 1e6, run))
        log(f"CLI: size {side}: {run.wall:.2f} s, {run.rss_mib:.0f} MiB")
        if quick and side == 2000:
            res.memory = memory_by_stage(a.astype(np.float32), b.astype(np.float32))
            res.memory_pair = f"{side}x{side} float32 pair"
        del a, b
        if side == (1000 if quick else 2000):
            for w in (16, 32, 64):
                run = cm_track(
                    f"{side}x{side}, window {w}, step {w // 2}",
                    pa,
                    pb,
                    work,
                    "--window",
                    str(w),
                    "--step",
                    str(w // 2),
                    repeat=1 if quick else 2,
                )
                res.windows.append((w, run))
                log(f"CLI: window {w}: {run.wall:.2f} s")


def full_disk_runs(res: CliResults, work: Path) -> None:
    """A full-disk 5424 x 5424 pair, all valid and with the space outside the disk as NoData."""
    side = FULL_DISK
    a, b, pa, pb = _shifted_pair(side, 7, work, "fd")
    res.full_disk.append(cm_track(f"full disk {side}x{side}, all pixels valid", pa, pb, work))
    log(f"CLI: full disk: {res.full_disk[-1].wall:.2f} s, {res.full_disk[-1].rss_mib:.0f} MiB")
    res.memory = memory_by_stage(a.astype(np.float32), b.astype(np.float32))
    res.memory_pair = f"full-disk {side}x{side} float32 pair, all valid"
    log("memory by stage (peak MiB): " + ", ".join(f"{k} {pk:.0f}" for k, (_e, pk) in list(res.memory.items())[:5]))
    yy, xx = np.ogrid[:side, :side]
    off = ((yy - (side - 1) / 2) ** 2 + (xx - (side - 1) / 2) ** 2) > (side / 2 * 0.995) ** 2
    a[off] = np.nan
    b[off] = np.nan
    pa = write_tif(work / "fd_a.tif", a, when=T_A)
    pb = write_tif(work / "fd_b.tif", b, when=T_A + dt.timedelta(minutes=10))
    del a, b
    res.full_disk.append(cm_track(f"full disk {side}x{side}, space NoData ({off.mean():.0%})", pa, pb, work))
    log(f"CLI: full disk with space: {res.full_disk[-1].wall:.2f} s")


def cli_runs(conus, conus_path: Path | None, work: Path, quick: bool) -> CliResults:
    """Whole command-line runs: start-up, CONUS pair (cloudmotion and peers), scaling, full disk."""
    res = CliResults()
    res.startup = run_measured("cloudmotion --version (start-up)", [*cloudmotion_cmd(), "--version"])
    if conus is not None:
        conus_runs(res, conus, conus_path, work, quick)
    size_runs(res, work, quick)
    if not quick:
        full_disk_runs(res, work)
    return res
