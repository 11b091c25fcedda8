"""Speed of the coarse-to-fine search and compiled kernels, against the exhaustive search and peers.

Standalone (does not use benchmarks/run.py). One run measures, on a CONUS-size pair of
real GOES-16 band-16 texture warped by a known vortex + shear field:

- vectors/s in-process of ``search_mode="c2f"`` and ``"full"`` at 32/16 with refinement,
  and of OpenCV DIS (medium preset, 8-bit, dense) on the same pair;
- accuracy against the known warp (RMS over good vectors, good share) of both modes;
- agreement of the c2f integer peak with the exhaustive one;
- the cost of ``search`` 16 / 32 / 64 (c2f), with its agreement;
- a cold start (first run after a fresh install: kernel compilation) and a warm one;
- a full-disk 5424 x 5424 pair (all valid, and with space NoData): time and peak RSS of
  a fresh process, plus a scaling table against frame size.

Usage::

    python benchmarks/speed.py [--conus PATH] [--repeat 3] [--quick] [--append RESULTS.md]

Timings are medians of ``--repeat`` runs (2 cores shared with others: quote medians and
ratios). Child processes are timed with ``os.wait4`` (wall and peak RSS of that process).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as a script (as its --child processes are): the repository root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.conus_pairs import make_pair, read_conus, score, tile_texture, vortex

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONUS_NAME = "OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e20200040318566_c20200040319074.nc"
CONUS_DEFAULT = ROOT.parent / "shared" / "sample_goes" / CONUS_NAME


def log(msg: str) -> None:
    print(f"[speed {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


CPU: dict[int, float] = {}
"""Median process CPU seconds (all threads) of the last :func:`median_time` call, by id of fn."""


def median_time(fn, repeat: int) -> tuple[object, float, list[float]]:
    """Median wall seconds of ``repeat`` calls; the median CPU seconds go to ``CPU[id(fn)]``."""
    times, cpu = [], []
    out = None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[id(fn)] = statistics.median(cpu)
    return out, statistics.median(times), times


def run_dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OpenCV DIS medium on 8-bit frames (dense flow), as benchmarks/run.py runs it."""
    import cv2

    ok = np.isfinite(a) & np.isfinite(b)
    lo, hi = np.percentile(np.concatenate([a[ok], b[ok]]), [0.5, 99.5])

    def conv(x):
        return np.clip(np.round((np.where(ok, x, lo) - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)

    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(conv(a), conv(b), None)


OPENPIV_SCRIPT = """
import contextlib, io, sys, time, warnings
import numpy as np
from openpiv import windef
from openpiv.settings import PIVSettings
a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
for x in (a, b):
    x[~np.isfinite(x)] = np.nanmean(x)
settings = PIVSettings(windowsizes=(64, 32, 32), overlap=(32, 16, 16), num_iterations=3)
times = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = windef.simple_multipass(a, b, settings)
    times.append(time.perf_counter() - t)
print(sorted(times)[len(times) // 2], np.asarray(out[2]).size)
"""


def run_openpiv(python: str, a: np.ndarray, b: np.ndarray, repeat: int) -> tuple[float, int] | None:
    """OpenPIV windef 64-32-32 timed in-process in its own interpreter (GPL: a peer, never imported here)."""
    with tempfile.TemporaryDirectory() as work:
        pa, pb = Path(work, "a.npy"), Path(work, "b.npy")
        np.save(pa, a)
        np.save(pb, b)
        proc = subprocess.run(
            [python, "-c", OPENPIV_SCRIPT, str(pa), str(pb), str(repeat)], capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        log(f"OpenPIV failed: {proc.stderr[-500:]}")
        return None
    secs, n = proc.stdout.split()
    return float(secs), int(n)


def agreement(a: np.ndarray, b: np.ndarray, search: int) -> float:
    """Share of templates whose c2f peak equals the exhaustive one (both undefined counts as equal)."""
    from cloudmotion.grid import make_grid
    from cloudmotion.motion.search import search_peaks
    from cloudmotion.settings.params import TrackParams
    from cloudmotion.track import _prepare

    p = TrackParams(search=search)
    pa, pb = _prepare(a, None, p), _prepare(b, None, p)
    rows, cols = make_grid(a.shape, 32, 16).top_left()
    res = [
        search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, 32, search, mode=m, frame_std=pa.std)
        for m in ("c2f", "full")
    ]
    c, f = res
    same = (np.isnan(c["dx"]) & np.isnan(f["dx"])) | (
        (np.abs(c["dx"] - f["dx"]) < 0.01) & (np.abs(c["dy"] - f["dy"]) < 0.01)
    )
    return float(same.mean()), int((~same).sum())


def child(argv: list[str], env: dict | None = None) -> dict:
    """Run this script's ``--child`` mode in a fresh process; its JSON plus wall s and peak RSS MiB."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child", *argv],
        stdout=subprocess.PIPE,
        env=env or os.environ.copy(),
        cwd=str(ROOT),
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed with {proc.returncode}")
    res = json.loads(out.decode().strip().splitlines()[-1])
    res.update(process_wall=wall, rss_mib=res.get("hwm_mib", usage.ru_maxrss / 1024))
    return res


def child_main(argv: list[str]) -> None:
    """--child MODE ...: 'start' (import, kernels, a small pair), 'pair A.npy B.npy [search_mode]'."""
    t0 = time.perf_counter()
    import cloudmotion  # noqa: F401

    out: dict = {"import": time.perf_counter() - t0}
    if argv[0] == "start":
        from cloudmotion import track_pair

        rng = np.random.default_rng(0)
        a = rng.standard_normal((256, 256)).astype(np.float32)
        t = time.perf_counter()
        track_pair(a, np.roll(a, 1, axis=1))
        out["first_pair"] = time.perf_counter() - t
        t = time.perf_counter()
        track_pair(a, np.roll(a, 1, axis=1))
        out["second_pair"] = time.perf_counter() - t
    else:
        from cloudmotion import track_pair

        mode = argv[3] if len(argv) > 3 else "c2f"
        rng = np.random.default_rng(0)
        small = rng.standard_normal((128, 128)).astype(np.float32)
        t = time.perf_counter()
        track_pair(small, np.roll(small, 1, axis=1), search_mode=mode)  # loads the kernels
        out["kernels"] = time.perf_counter() - t
        t = time.perf_counter()
        a, b = np.load(argv[1]), np.load(argv[2])
        out["read"] = time.perf_counter() - t
        t, c = time.perf_counter(), time.process_time()
        mf = track_pair(a, b, search_mode=mode)
        out["track"] = time.perf_counter() - t
        out["track_cpu"] = time.process_time() - c
        out["vectors"] = int(mf.dx.size)
        out["good"] = float(mf.good.mean())
    out["hwm_mib"] = _peak_rss_mib()
    print(json.dumps(out))


def _peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM): getrusage of a child also counts its parent's pages before exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conus", type=Path, default=CONUS_DEFAULT)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="skip the full-disk and scaling runs")
    ap.add_argument("--append", type=Path, help="append the report to this Markdown file")
    ap.add_argument("--openpiv-python", help="interpreter of a separate venv with openpiv installed")
    ap.add_argument("--child", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return 0
    from cloudmotion import track_pair
    from cloudmotion.motion.kernels.jit import default_threads

    lines: list[str] = []
    load_before = os.getloadavg()[0]
    image, valid = read_conus(args.conus)
    field = vortex(image.shape)
    a, b = make_pair(image, valid, field)
    log(f"CONUS pair {a.shape}, {valid.mean():.1%} valid")
    track_pair(a, b)  # kernels loaded
    res = {}
    for mode in ("c2f", "full"):
        fn = lambda mode=mode: track_pair(a, b, search_mode=mode)
        mf, med, times = median_time(fn, args.repeat)
        res[mode] = {"median": med, "times": times, "cpu": CPU[id(fn)], **score(mf, field)}
        log(f"{mode}: {med:.3f} s, {mf.dx.size / med:,.0f} vectors/s, {res[mode]}")
    dis_fn = lambda: run_dis(a, b)
    _, dis_t, _ = median_time(dis_fn, args.repeat)
    dis_cpu = CPU[id(dis_fn)]
    piv = run_openpiv(args.openpiv_python, a, b, max(1, args.repeat // 2)) if args.openpiv_python else None
    n = res["c2f"]["vectors"]
    agree, miss = agreement(a, b, 16)
    lines += [
        (
            f"Pair: GOES-16 CONUS band 16, {a.shape[0]}x{a.shape[1]} ({valid.mean():.1%} valid, the rest space "
            f"NoData), warped by a vortex + shear field; window 32, step 16, search 16, refinement on; "
            f"{n:,} vectors; {default_threads()} kernel threads; median of {args.repeat} in-process runs."
        ),
        "",
        "| method | wall s per pair (median) | vectors/s | CPU s (all threads) | RMS px vs warp (good) | good share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, label in (("c2f", "cloudmotion c2f (default)"), ("full", "cloudmotion full (exhaustive FFT)")):
        r = res[mode]
        lines.append(
            f"| {label} | {r['median']:.3f} | {n / r['median']:,.0f} | {r['cpu']:.3f} | {r['rms']:.4f} | "
            f"{r['good']:.2%} |"
        )
    lines.append(
        f"| OpenCV DIS medium (8-bit, dense) | {dis_t:.3f} | {n / dis_t:,.0f} (same grid) | {dis_cpu:.3f} | | |"
    )
    if piv:
        lines.append(
            f"| OpenPIV windef 64-32-32 (own venv, in-process) | {piv[0]:.3f} | {piv[1] / piv[0]:,.0f} | | | |"
        )
    lines += [
        "",
        (
            f"c2f / full time: {res['c2f']['median'] / res['full']['median']:.2f}; c2f / DIS time: "
            f"{res['c2f']['median'] / dis_t:.2f}; RMS c2f - full: "
            f"{res['c2f']['rms'] - res['full']['rms']:+.4f} px; "
            f"good share c2f - full: {100 * (res['c2f']['good'] - res['full']['good']):+.2f} points."
        ),
        f"Integer peak, c2f = exhaustive: {agree:.3%} of {n:,} templates ({miss} differ).",
    ]
    if piv:
        lines.append(f"OpenPIV windef / c2f time: {piv[0] / res['c2f']['median']:.1f}.")
    lines.append("")

    lines += [
        "| search (px) | c2f wall s (median) | CPU s | CPU cost vs 16 | c2f = exhaustive |",
        "|---:|---:|---:|---:|---:|",
    ]
    base = None
    for search in (16, 32, 64):
        fn = lambda s=search: track_pair(a, b, search=s)
        _, med, _ = median_time(fn, args.repeat)
        base = base or CPU[id(fn)]
        ag, _ = agreement(a, b, search)
        lines.append(f"| {search} | {med:.3f} | {CPU[id(fn)]:.3f} | {CPU[id(fn)] / base:.2f}x | {ag:.2%} |")
        log(f"search {search}: {med:.3f} s, agreement {ag:.3%}")
    lines.append("")

    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        cold = child(["start"], env)
        warm = [child(["start"], env) for _ in range(args.repeat)]
    wimp = statistics.median(w["import"] for w in warm)
    wfirst = statistics.median(w["first_pair"] for w in warm)
    wsecond = statistics.median(w["second_pair"] for w in warm)
    lines += [
        "Start-up (fresh process, 256x256 pair; first pair minus second pair = kernel compile or load):",
        "",
        "| start | import cloudmotion s | first pair s | second pair s | kernels s | process wall s |",
        "|---|---:|---:|---:|---:|---:|",
        (
            f"| cold (empty kernel cache: compile) | {cold['import']:.2f} | {cold['first_pair']:.2f} | "
            f"{cold['second_pair']:.3f} | {cold['first_pair'] - cold['second_pair']:.2f} | {cold['process_wall']:.2f} |"
        ),
        (
            f"| warm (cached kernels, median of {args.repeat}) | {wimp:.2f} | {wfirst:.2f} | {wsecond:.3f} | "
            f"{wfirst - wsecond:.2f} | {statistics.median(w['process_wall'] for w in warm):.2f} |"
        ),
        "",
    ]
    log(f"cold {cold}, warm {warm[0]}")

    if not args.quick:
        lines += [
            (
                "Fresh process per row: load the kernels (a 128x128 pair), read the float32 pair (.npy), "
                "`track_pair` (c2f, defaults); peak RSS = the process's VmHWM (frames included)."
            ),
            "",
            "| frame | vectors | kernels s | track s | track CPU s | vectors/s | process wall s | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        with tempfile.TemporaryDirectory() as work:
            for side in (1000, 2000, 4000, 5424):
                tex = tile_texture(image, valid, side).astype(np.float64)
                ok = np.ones(tex.shape, bool)
                fa, fb = make_pair(tex, ok, vortex(tex.shape), iterations=1)
                cases = [(f"{side}x{side}, all valid", fa, fb)]
                if side == 5424:
                    yy, xx = np.ogrid[:side, :side]
                    off = ((yy - (side - 1) / 2) ** 2 + (xx - (side - 1) / 2) ** 2) > (side / 2 * 0.995) ** 2
                    sa, sb = fa.copy(), fb.copy()
                    sa[off] = np.nan
                    sb[off] = np.nan
                    cases.append((f"{side}x{side}, space NoData ({off.mean():.0%})", sa, sb))
                for label, xa, xb in cases:
                    pa, pb = Path(work, "a.npy"), Path(work, "b.npy")
                    np.save(pa, xa)
                    np.save(pb, xb)
                    runs = [child(["pair", str(pa), str(pb)]) for _ in range(1 if side >= 4000 else 2)]
                    r = min(runs, key=lambda x: x["track"])
                    lines.append(
                        f"| {label} | {r['vectors']:,} | {r['kernels']:.2f} | {r['track']:.2f} | "
                        f"{r['track_cpu']:.2f} | "
                        f"{r['vectors'] / r['track']:,.0f} | {r['process_wall']:.2f} | "
                        f"{max(x['rss_mib'] for x in runs):.0f} |"
                    )
                    log(lines[-1])
                del fa, fb
        lines.append("")

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "## Coarse-to-fine search and compiled kernels (`benchmarks/speed.py`)",
        "",
        (
            f"Generated {stamp} by `python benchmarks/speed.py{' --quick' if args.quick else ''}` on "
            f"{platform.machine()}, {os.cpu_count()} cores ({platform.processor() or 'cpu'}), Python "
            f"{platform.python_version()}, numpy {np.__version__}, numba {__import__('numba').__version__}; "
            f"machine shared with other jobs: 1-min load average {load_before:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end (medians quoted)."
        ),
        "",
    ]
    report = "\n".join(head + lines) + "\n"
    print(report)
    if args.append:
        with open(args.append, "a", encoding="utf-8") as fh:
            fh.write("\n" + report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
