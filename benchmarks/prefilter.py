"""Pre-filters for uneven light: band-pass and CLAHE against the Gaussian.

Warps real texture (``sample_data/*.tif`` and the GOES CONUS file in
``../shared/sample_goes``, as ``benchmarks/expected_error.py``) by the same vortex-plus-shear
flow, multiplies frame A by a brightness ramp of 20 % across the frame and frame B by the
same ramp rotated by 10 degrees, or strengthened to 25 %, and tracks with each pre-filter:

* RMS of |d - d_true| over the good vectors and the good share, per texture, case and
  filter, at 0 % and 2 % noise (of the frame's standard deviation);
* the calibration of ``ee`` (measured RMS over mean ``ee`` per decile, all cases pooled)
  per filter;
* a sweep of the band-pass's HIGH on the ramp case, for the ``visible`` preset;
* the pre-filter's time per frame on the CONUS crop (median of 5).

Usage: ``python benchmarks/prefilter.py > report.md`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from datetime import UTC, datetime

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchmarks.expected_error import GROSS, flow, noisy, textures, truth_error
from cloudmotion import track_pair
from cloudmotion.motion.prefilter import prepare_frame
from cloudmotion.tools.known_motion import warp

FILTERS = {
    "Gaussian 0.7 (default)": {},
    "band-pass 0.7,8": {"bandpass": (0.7, 8.0)},
    "CLAHE + Gaussian 0.7": {"equalize": "clahe"},
    "CLAHE + band-pass 0.7,8": {"equalize": "clahe", "bandpass": (0.7, 8.0)},
}
CASES = ("clean", "ramp rotated 10°", "ramp 20 % -> 25 %")
HIGHS = (4.0, 6.0, 8.0, 12.0, 16.0)


def ramp(shape: tuple[int, int], degrees: float, amount: float) -> np.ndarray:
    """Brightness gain ``1 + amount s``, s from -0.5 to 0.5 across the frame along ``degrees``."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    t = np.deg2rad(degrees)
    proj = (xx - w / 2) * np.cos(t) + (yy - h / 2) * np.sin(t)
    return 1.0 + amount * proj / (w * abs(np.cos(t)) + h * abs(np.sin(t)))


def case_frames(img: np.ndarray, b0: np.ndarray, case: str) -> tuple[np.ndarray, np.ndarray]:
    if case == "clean":
        return img, b0
    ra = ramp(img.shape, 0.0, 0.2)
    rb = ramp(img.shape, 10.0, 0.2) if "rotated" in case else ramp(img.shape, 0.0, 0.25)
    return img * ra, b0 * rb


def scores(mf, dxf, dyf) -> dict:
    err = truth_error(mf, dxf, dyf)
    good = mf.flag.ravel() == 0
    ok = ((mf.flag.ravel() & GROSS) == 0) & np.isfinite(err) & np.isfinite(mf.ee.ravel())
    return {
        "rms": float(np.sqrt(np.mean(err[good] ** 2))),
        "good": float(good.mean()),
        "ee": mf.ee.ravel()[ok],
        "err": err[ok],
    }


def deciles(ee: np.ndarray, err: np.ndarray) -> tuple[float, float]:
    """Smallest and largest (measured RMS / mean ee) over the ee deciles."""
    r = [np.sqrt(np.mean(err[d] ** 2)) / np.mean(ee[d]) for d in np.array_split(np.argsort(ee), 10)]
    return float(min(r)), float(max(r))


def run() -> tuple[dict, dict, dict]:
    table, pooled, sweep = {}, {}, {}
    for ti, (name, img) in enumerate(textures()):
        dxf, dyf = flow(img.shape)
        b0 = warp(img, dxf, dyf)
        for case in CASES:
            ca, cb = case_frames(img, b0, case)
            for noise in (0.0, 0.02):
                a, b = noisy(ca, cb, noise, seed=10 * ti + int(noise * 100))
                for label, kw in FILTERS.items():
                    s = scores(track_pair(a, b, **kw), dxf, dyf)
                    table[name, case, noise, label] = s
                    pool = pooled.setdefault(label, ([], []))
                    pool[0].append(s["ee"])
                    pool[1].append(s["err"])
            for high in HIGHS:
                sweep[name, case, high] = scores(track_pair(ca, cb, bandpass=(0.7, high)), dxf, dyf)
    return table, pooled, sweep


def timing() -> dict[str, float]:
    name, img = textures()[-1]
    valid = np.isfinite(img)
    out = {}
    for label, kw in FILTERS.items():
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            prepare_frame(img, valid, 0.7, **kw)
            times.append(time.perf_counter() - t0)
        out[label] = float(np.median(times))
    t0 = time.perf_counter()
    track_pair(img, warp(img, *flow(img.shape)))
    out["pair"] = time.perf_counter() - t0
    out["shape"] = img.shape
    out["texture"] = name
    return out


def main() -> None:
    table, pooled, sweep = run()
    tm = timing()
    names = sorted({k[0] for k in table}, key=lambda n: [k[0] for k in table].index(n))
    print(
        f"## Pre-filters for uneven light — {datetime.now(UTC):%Y-%m-%d}, "
        f"{platform.machine()}, {os.cpu_count()} cores (shared)\n"
    )
    print(
        "`benchmarks/prefilter.py`: warped real texture (vortex + shear flow), frame A times a 20 % "
        "brightness ramp across the frame, frame B times the same ramp rotated by 10° or strengthened "
        "to 25 %; RMS |d - d_true| of good vectors (px) / good share.\n"
    )
    for noise in (0.0, 0.02):
        print(f"**Noise {noise:.0%}**\n")
        print("| texture | case | " + " | ".join(FILTERS) + " |")
        print("|---|---|" + "---|" * len(FILTERS))
        for name in names:
            for case in CASES:
                cells = [
                    f"{table[name, case, noise, f]['rms']:.4f} / {table[name, case, noise, f]['good']:.1%}"
                    for f in FILTERS
                ]
                print(f"| {name} | {case} | " + " | ".join(cells) + " |")
        print()
    print(
        "**Calibration of ee** (measured RMS / mean ee per ee decile, all textures, cases and noise levels "
        "pooled, non-gross vectors): lowest and highest decile ratio\n"
    )
    print("| filter | vectors | lowest | highest |")
    print("|---|---|---|---|")
    for label, (ee, err) in pooled.items():
        ee, err = np.concatenate(ee), np.concatenate(err)
        lo, hi = deciles(ee, err)
        print(f"| {label} | {ee.size} | {lo:.2f} | {hi:.2f} |")
    print("\n**Band-pass HIGH sweep** (LOW 0.7 px, no noise): RMS of good vectors px\n")
    print("| texture | case | " + " | ".join(f"HIGH {h:g}" for h in HIGHS) + " |")
    print("|---|---|" + "---|" * len(HIGHS))
    for name in names:
        for case in CASES:
            print(f"| {name} | {case} | " + " | ".join(f"{sweep[name, case, h]['rms']:.4f}" for h in HIGHS) + " |")
    print(
        f"\n**Time** of the pre-filter per frame on {tm['texture']} {tm['shape'][0]} x {tm['shape'][1]} "
        f"(median of 5; a whole pair with the default takes {tm['pair']:.2f} s):\n"
    )
    print("| filter | s per frame |")
    print("|---|---|")
    for label in FILTERS:
        print(f"| {label} | {tm[label]:.3f} |")


if __name__ == "__main__":
    main()
