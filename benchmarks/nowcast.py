"""Nowcast targets, printed as Markdown for benchmarks/RESULTS.md.

1. Steady flow: the sample frame advected by ``synth --motion vortex:3,100+uniform:1.5,-0.7``
   with 1 % noise, nine frames; nowcast from frames 0-2 (``cloudmotion nowcast``, defaults)
   scored by ``cloudmotion verify`` 2 and 6 steps ahead: RMSE / persistence RMSE.
2. Uniform sub-pixel motion (0.37, -0.61) px per step on the smoothed sample texture:
   RMS of the extrapolated frame against the exact Fourier shift, % of the frame's
   standard deviation, 24 px away from the borders, 1, 2 and 6 steps.
3. Speed: a CONUS-size frame (1500 x 2500 px) with 12 leads every 10 min at 30 m/s on 2 km
   pixels (9 px per interval, a curved field), tracking excluded: dense flow from a
   16 px vector grid plus the extrapolation, median of 5 runs.

Usage: ``python benchmarks/nowcast.py > part.md``
"""

from __future__ import annotations

import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime

import numpy as np
import rasterio
from scipy import ndimage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = min(glob.glob(os.path.join(ROOT, "sample_data", "*.tif")))


def cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "cloudmotion.cli.main", *args], check=True, capture_output=True, text=True
    )
    return out.stdout


def steady() -> list[str]:
    rows = ["| lead | steps | RMSE | persistence RMSE | ratio (target <= 0.35) | skill |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        cli(
            "synth",
            d,
            "--from",
            SAMPLE,
            "--motion",
            "vortex:3,100+uniform:1.5,-0.7",
            "--frames",
            "9",
            "--noise",
            "1",
            "-q",
        )
        frames = sorted(glob.glob(os.path.join(d, "synth_*_s*.tif")))
        cli("nowcast", *frames[:3], "--lead", "30min", "--every", "10min", "-o", os.path.join(d, "n{lead}.tif"))
        for lead, k in ((10, 4), (30, 8)):
            s = json.loads(cli("verify", os.path.join(d, f"n{lead}.tif"), frames[k], "--json"))
            rows.append(
                f"| {lead} min | {k - 2} | {s['rmse']:.3f} | {s['rmse_persistence']:.3f} | "
                f"{s['rmse'] / s['rmse_persistence']:.3f} | {s['skill']:.3f} |"
            )
    return rows


def fourier_shift(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    ky = np.fft.fftfreq(a.shape[0])[:, None]
    kx = np.fft.fftfreq(a.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(a) * np.exp(-2j * np.pi * (kx * dx + ky * dy))))


def uniform() -> list[str]:
    from cloudmotion.nowcast.extrapolate import extrapolate

    with rasterio.open(SAMPLE) as ds:
        img = ndimage.gaussian_filter(ds.read(1).astype(np.float64), 1.0)
    dx, dy = 0.37, -0.61
    leads = [1, 2, 6]
    fx, fy = np.full(img.shape, dx, np.float32), np.full(img.shape, dy, np.float32)
    rows = ["| steps | RMS error, % of std (target <= 1 %) | max error, % of std |", "|---|---|---|"]
    for lead, out in zip(leads, extrapolate(img, np.ones(img.shape, bool), fx, fy, leads), strict=True):
        e = (out - fourier_shift(img, dx * lead, dy * lead))[24:-24, 24:-24]
        rows.append(
            f"| {lead} | {100 * np.sqrt(np.mean(e**2)) / img.std():.2f} | {100 * np.abs(e).max() / img.std():.2f} |"
        )
    return rows


def speed(repeats: int = 5) -> list[str]:
    from cloudmotion.nowcast.dense_flow import dense_flow
    from cloudmotion.nowcast.extrapolate import extrapolate, trace_spacing
    from cloudmotion.tools.known_motion import correlated_noise

    shape = (1500, 2500)
    img = correlated_noise(shape, 3.0).astype(np.float32)
    valid = np.ones(shape, bool)
    gr, gc = np.mgrid[16 : shape[0] - 16 : 16, 16 : shape[1] - 16 : 16].astype(np.float64)
    ang = 0.6 + 0.3 * np.sin(gr / 400.0)  # 9 px per interval, direction turning across the frame
    gdx, gdy = 9.0 * np.cos(ang), 9.0 * np.sin(ang)
    w = np.full(gr.shape, 1.0 / 0.05**2)
    length = 16.0
    flow_t, ext_t = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        dx, dy, _ = dense_flow(gr.ravel(), gc.ravel(), gdx.ravel(), gdy.ravel(), w.ravel(), shape, length=length)
        flow_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in extrapolate(
            img,
            valid,
            dx,
            dy,
            list(range(1, 13)),
            spacing=trace_spacing(dx, dy, 12),
            threads=min(4, os.cpu_count() or 1),
        ):
            pass
        ext_t.append(time.perf_counter() - t)
    total = [a + b for a, b in zip(flow_t, ext_t, strict=True)]
    coeffs = ndimage.spline_filter(img.astype(np.float64), 3)
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    ref = []
    for _ in range(repeats):  # the load of the moment: one single-threaded cubic sampling of the frame
        t = time.perf_counter()
        ndimage.map_coordinates(coeffs, [rr + 3.3, cc - 2.7], order=3, prefilter=False, output=np.float32)
        ref.append(time.perf_counter() - t)
    unit = statistics.median(ref)
    return [
        "| stage | median s | min s |",
        "|---|---|---|",
        (
            f"| dense flow ({gr.size:,} vectors -> {shape[0]} x {shape[1]} px) | {statistics.median(flow_t):.2f} | "
            f"{min(flow_t):.2f} |"
        ),
        (
            f"| extrapolation, 12 leads (108 sub-steps, 12 cubic samplings) | {statistics.median(ext_t):.2f} | "
            f"{min(ext_t):.2f} |"
        ),
        f"| total (target <= 3 s on 2 cores) | {statistics.median(total):.2f} | {min(total):.2f} |",
        f"| reference: one single-threaded cubic sampling of the frame | {unit:.2f} | {min(ref):.2f} |",
        f"| total / reference (load-independent) | {statistics.median(total) / unit:.1f} | |",
        f"| trajectory lattice spacing, px | {trace_spacing(dx, dy, 12)} | |",
        "",
        f"Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores.",
    ]


def main() -> None:
    print(f"\n## Nowcast - {platform.machine()}, {os.cpu_count()} cores shared, {datetime.now(UTC):%Y-%m-%d}\n")
    print(
        "`python benchmarks/nowcast.py`\n\n**Steady vortex + drift, sample texture, 1 % noise (synth frames 5 min apart)**\n"
    )
    print("\n".join(steady()))
    print("\n**Uniform sub-pixel motion (0.37, -0.61) px per step against the exact Fourier shift**\n")
    print("\n".join(uniform()))
    print("\n**CONUS-size speed, tracking excluded**\n")
    print("\n".join(speed()))


if __name__ == "__main__":
    main()
