#!/usr/bin/env python3
"""Benchmark harness: cloudmotion against its peers on pairs with known motion.

Runs cloudmotion and four peers on the same frame pairs, on the same 32 px / 16 px grid,
and writes the figures to ``benchmarks/RESULTS.md``:

* accuracy (RMS, bias per axis, 95th percentile, outlier shares, flagged share) on
  correlated-noise textures and real GOES radiance warped by known fields (fractional
  sweep, shifts up to 12 px, vortex plus shear) with 0 %, 1 % and 3 % noise;
* peak locking (flatness of the histogram of fractional parts on the fractional sweep);
* cloudmotion's sub-pixel fitters with and without Lucas-Kanade refinement;
* throughput in vectors/s, and wall time and peak RSS of whole command-line runs
  (``/usr/bin/time -v``), including the CONUS and full-disk sizes;
* scaling with image size and window size;
* cloudmotion's flag precision/recall with injected faults;
* the issue's targets, each met or named with its measured figure.

Peers: OpenPIV single pass (vectorised ``extended_search_area_piv``), OpenPIV window
deformation (``windef``, 64-32-32), scikit-image ``phase_cross_correlation`` looped over
the tiles, OpenCV DIS optical flow on 8-bit frames. OpenPIV is GPL-3.0: it is imported
here only, inside the functions that call it, never by the package.

Usage (from the repository root)::

    python3 -m venv .bench && .bench/bin/pip install -e . -r benchmarks/requirements.txt
    .bench/bin/python benchmarks/run.py            # full run, ~11 min on 2 cores
    .bench/bin/python benchmarks/run.py --quick    # reduced run, ~3.5 min
"""

from __future__ import annotations

import os
import pickle
import sys


def _configure_threads(argv: list[str]) -> int:
    """Set the thread count of every numeric library before numpy is imported.

    ``--threads N`` on the command line (default: all cores). The same value goes to
    the environment of every child process, so the in-process and the command-line
    measurements use the same number of threads.
    """
    threads = os.cpu_count() or 1
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(threads)
    return threads


THREADS = _configure_threads(sys.argv[1:])

import argparse
import contextlib
import cProfile
import csv
import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import io
import platform
import pstats
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE_TIF = ROOT / "sample_data" / "G17_M1_C13_s20193002000275.tif"
CONUS_NAME = "OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e20200040318566_c20200040319074.nc"
CONUS_DEFAULT = ROOT.parent / "shared" / "sample_goes" / CONUS_NAME
TIME_BIN = "/usr/bin/time"

WINDOW = 32
STEP = 16
NOISES = (0.0, 0.01, 0.03)
MB = 2**20

# GOES-16 fixed grid (geostationary, sweep x) as GDAL builds it from the ABI netCDF
GOES16_WKT = (
    'PROJCS["unnamed",GEOGCS["unknown",DATUM["unnamed",SPHEROID["Spheroid",6378137,298.2572221]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],'
    'PROJECTION["Geostationary_Satellite"],PARAMETER["central_meridian",-75],'
    'PARAMETER["satellite_height",35786023],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
    'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],'
    'EXTENSION["PROJ4","+proj=geos +lon_0=-75 +h=35786023 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs +sweep=x"]]'
)
ABI_PIXEL = 2004.017315487541  # 2 km ABI pixel on the fixed grid, metres

PEER_NAMES = ("OpenPIV single pass", "OpenPIV windef 64-32-32", "skimage pcc loop", "OpenCV DIS medium")
CM = "cloudmotion"


def log(msg: str) -> None:
    """Progress to standard error, with the elapsed time."""
    print(f"[{time.perf_counter() - _T0:7.1f} s] {msg}", file=sys.stderr, flush=True)


_T0 = time.perf_counter()


# --------------------------------------------------------------------------- grids


def centred_grid(shape: tuple[int, int], window: int = WINDOW, step: int = STEP) -> tuple[np.ndarray, np.ndarray]:
    """Top-left pixels of a grid centred in the frame, as cloudmotion lays it out.

    Returns flat (rows, cols) arrays in C order over the (nrows, ncols) grid.
    """
    out = []
    for n in shape:
        count = (n - window) // step + 1
        start = (n - window - (count - 1) * step) // 2
        out.append(start + step * np.arange(count))
    rr, cc = np.meshgrid(out[0], out[1], indexing="ij")
    return rr.ravel(), cc.ravel()


def topleft_grid(shape: tuple[int, int], window: int = WINDOW, step: int = STEP) -> tuple[np.ndarray, np.ndarray]:
    """Top-left pixels of OpenPIV's grid, which starts at pixel 0 on both axes."""
    r = step * np.arange((shape[0] - window) // step + 1)
    c = step * np.arange((shape[1] - window) // step + 1)
    rr, cc = np.meshgrid(r, c, indexing="ij")
    return rr.ravel(), cc.ravel()


# --------------------------------------------------------------------------- methods


@dataclass
class Estimate:
    """Vectors of one method on one pair, flat arrays.

    ``row``/``col`` are the vector origins (window centres in frame A, pixel index
    coordinates: an integer is a pixel centre); ``ok`` is False where the method flags
    the vector or gives none.
    """

    row: np.ndarray
    col: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    ok: np.ndarray


def _filled(img: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Replace invalid pixels by the valid mean, for peers that cannot take a mask."""
    img = np.asarray(img, dtype=np.float64)
    bad = ~np.isfinite(img) if valid is None else ~valid | ~np.isfinite(img)
    if not bad.any():
        return img
    out = img.copy()
    out[bad] = img[~bad].mean()
    return out


def run_cloudmotion(a, b, mask_a=None, mask_b=None, **params) -> Estimate:
    """cloudmotion.track_pair; ``ok`` is ``flag == 0``."""
    from cloudmotion import track_pair

    mf = track_pair(a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP, **params)
    return Estimate(mf.row.ravel(), mf.col.ravel(), mf.dx.ravel(), mf.dy.ravel(), (mf.flag == 0).ravel())


def run_openpiv_single(a, b, mask_a=None, mask_b=None) -> Estimate:
    """OpenPIV single pass, vectorised: ``u`` is +columns and ``v`` +rows (image axes).

    OpenPIV tiles from pixel 0 (top-left aligned) and its ``get_coordinates`` reports the
    centre of a 32 px window starting at pixel 0 as 16 (pixel-edge convention); the
    window's centre in pixel index coordinates is 15.5, used here as the origin.
    """
    from openpiv import pyprocess

    a, b = _filled(a, mask_a), _filled(b, mask_b)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints and warns
        warnings.simplefilter("ignore")
        u, v, _ = pyprocess.extended_search_area_piv(
            a, b, window_size=WINDOW, overlap=WINDOW - STEP, sig2noise_method="peak2peak", use_vectorized=True
        )
    rows, cols = topleft_grid(a.shape)
    half = (WINDOW - 1) / 2
    u, v = u.ravel().astype(np.float64), v.ravel().astype(np.float64)
    return Estimate(rows + half, cols + half, u, v, np.isfinite(u) & np.isfinite(v))


def run_openpiv_windef(a, b, mask_a=None, mask_b=None) -> Estimate:
    """OpenPIV window deformation, passes 64 -> 32 -> 32 with 50 % overlap.

    ``simple_multipass`` returns physical coordinates (v up, and the y array flipped);
    v is negated back to image rows. Vectors its validation replaced are flagged.
    """
    from openpiv import windef
    from openpiv.settings import PIVSettings

    a, b = _filled(a, mask_a), _filled(b, mask_b)
    settings = PIVSettings(windowsizes=(64, WINDOW, WINDOW), overlap=(32, WINDOW - STEP, WINDOW - STEP),
                           num_iterations=3)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _x, _y, u, v, flags = windef.simple_multipass(a, b, settings)
    rows, cols = topleft_grid(a.shape)
    half = (WINDOW - 1) / 2
    u, v = np.asarray(u, dtype=np.float64).ravel(), -np.asarray(v, dtype=np.float64).ravel()
    ok = np.isfinite(u) & np.isfinite(v) & ~np.asarray(flags, dtype=bool).ravel()
    return Estimate(rows + half, cols + half, u, v, ok)


def run_skimage_pcc(a, b, mask_a=None, mask_b=None) -> Estimate:
    """scikit-image phase correlation (upsample factor 20) looped over cloudmotion's tiles.

    ``phase_cross_correlation(reference, moving)`` returns the shift that registers
    ``moving`` onto ``reference``, i.e. minus the motion from A to B.
    """
    from skimage.registration import phase_cross_correlation

    a, b = _filled(a, mask_a), _filled(b, mask_b)
    rows, cols = centred_grid(a.shape)
    dx = np.empty(rows.size)
    dy = np.empty(rows.size)
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        shift = phase_cross_correlation(a[r:r + WINDOW, c:c + WINDOW], b[r:r + WINDOW, c:c + WINDOW],
                                        upsample_factor=20)[0]
        dy[i], dx[i] = -shift[0], -shift[1]
    half = (WINDOW - 1) / 2
    return Estimate(rows + half, cols + half, dx, dy, np.isfinite(dx) & np.isfinite(dy))


def to_uint8(a: np.ndarray, b: np.ndarray, mask_a=None, mask_b=None) -> tuple[np.ndarray, np.ndarray]:
    """Scale both frames to 8 bit with one joint min/max over their valid pixels."""
    a, b = _filled(a, mask_a), _filled(b, mask_b)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    scale = 255.0 / (hi - lo) if hi > lo else 1.0

    def conv(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round((x - lo) * scale), 0, 255).astype(np.uint8)

    return conv(a), conv(b)


def run_dis(a, b, mask_a=None, mask_b=None) -> Estimate:
    """OpenCV DIS optical flow (medium preset) on 8-bit frames, dense, then sampled.

    ``flow[..., 0]`` is +columns and ``flow[..., 1]`` +rows, at each pixel of frame A;
    it is sampled bilinearly at cloudmotion's vector origins.
    """
    import cv2

    cv2.setNumThreads(THREADS)
    a8, b8 = to_uint8(a, b, mask_a, mask_b)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a8, b8, None)
    rows, cols = centred_grid(a.shape)
    half = (WINDOW - 1) / 2
    r, c = rows + half, cols + half
    dx = ndimage.map_coordinates(flow[..., 0].astype(np.float64), [r, c], order=1)
    dy = ndimage.map_coordinates(flow[..., 1].astype(np.float64), [r, c], order=1)
    return Estimate(r, c, dx, dy, np.isfinite(dx) & np.isfinite(dy))


PEERS: dict[str, Callable[..., Estimate]] = dict(
    zip(PEER_NAMES, (run_openpiv_single, run_openpiv_windef, run_skimage_pcc, run_dis), strict=True)
)

# cloudmotion settings compared: (sub-pixel fitter, refine, interpolation); the first is the default
CM_CONFIGS = [
    ("gaussian", True, "bicubic"),
    ("gaussian", True, "bilinear"),
    ("gaussian", False, "bicubic"),
    ("parabolic", True, "bicubic"),
    ("parabolic", True, "bilinear"),
    ("parabolic", False, "bicubic"),
    ("centroid", True, "bicubic"),
    ("centroid", True, "bilinear"),
    ("centroid", False, "bicubic"),
]


def cm_label(cfg: tuple[str, bool, str]) -> str:
    """Method name of a cloudmotion configuration (the default is plain 'cloudmotion')."""
    if cfg == CM_CONFIGS[0]:
        return CM
    sub, refine, interp = cfg
    return f"cm {sub} + " + (f"LK {interp}" if refine else "no refine")


def cm_method(cfg: tuple[str, bool, str]) -> Callable[..., Estimate]:
    """A callable running cloudmotion with one configuration."""
    sub, refine, interp = cfg

    def run(a, b, mask_a=None, mask_b=None) -> Estimate:
        return run_cloudmotion(a, b, mask_a, mask_b, subpixel=sub, refine=refine, interpolation=interp)

    return run


# --------------------------------------------------------------------------- data


@dataclass
class Texture:
    """A frame A for the accuracy pairs."""

    name: str
    image: np.ndarray
    real: bool


def read_raster(path: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """Band 1 as float64 in physical units (scale/offset applied), its validity mask, profile."""
    import rasterio

    with rasterio.open(path) as ds:
        data = ds.read(1, masked=True)
        scale, offset = ds.scales[0], ds.offsets[0]
        valid = ~np.ma.getmaskarray(data)
        values = np.ma.filled(data.astype(np.float64), np.nan) * scale + offset
        valid &= np.isfinite(values)
        values[~valid] = np.nan
        profile = {"crs_wkt": ds.crs.to_wkt() if ds.crs else None, "transform": ds.transform}
    return values, valid, profile


def load_conus(path: Path | None) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The GOES-16 CONUS band-16 radiance (1500 x 2500, NaN where _FillValue), or None."""
    if path is None or not path.exists():
        return None
    return read_raster(f"NETCDF:{path}:Rad")


def conus_valid_crop(conus: tuple[np.ndarray, np.ndarray, dict]) -> tuple[slice, slice]:
    """The largest lower-right block of the CONUS frame without fill pixels (space is NW)."""
    valid = conus[1]
    r0 = next(r for r in range(valid.shape[0]) if valid[r:].all())
    c0 = next(c for c in range(valid.shape[1]) if valid[:, c:].all())
    return slice(r0, valid.shape[0]), slice(c0, valid.shape[1])


def make_textures(quick: bool, conus) -> list[Texture]:
    """Frames A of the accuracy pairs: two correlated-noise textures and real radiance."""
    from cloudmotion.tools.synthetic import correlated_noise

    n = 256 if quick else 512
    out = [Texture("noise, corr 1.5 px", correlated_noise((n, n), 1.5, seed=11), False)]
    if not quick:
        out.append(Texture("noise, corr 4 px", correlated_noise((n, n), 4.0, seed=12), False))
    out.append(Texture("GOES-17 M1 C13", read_raster(str(SAMPLE_TIF))[0], True))
    if conus is not None:
        rs, cs = conus_valid_crop(conus)
        side = 384 if quick else 768
        r0 = rs.start + (rs.stop - rs.start - side) // 2
        c0 = cs.start + (cs.stop - cs.start - side) // 2
        crop = conus[0][r0:r0 + side, c0:c0 + side]
        out.append(Texture(f"GOES-16 CONUS C16 crop {side}", np.array(crop), True))
    return out


@dataclass
class Motion:
    """A known displacement field (dense, on frame A's pixels)."""

    kind: str  # "fraction", "large" or "vortex"
    label: str
    dx: np.ndarray
    dy: np.ndarray
    frac: float | None = None
    uniform: bool = True


FRACTIONS = np.round(np.arange(0.0, 1.0001, 0.1), 2)
LARGE = [(4.3, -3.7), (-6.8, 5.2), (8.1, -9.6), (-10.5, 10.9), (12.0, -12.0), (-11.7, -11.4)]
LARGE_QUICK = [(-6.8, 5.2), (12.0, -12.0), (-11.7, -11.4)]


VORTEX_RADIUS = 120.0  # px, where the vortex's tangential displacement peaks (4 px)
SHEAR_GRADIENT = 0.006  # px/px, d(dx)/d(row)


def vortex(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vortex (4 px at 120 px from the centre) plus shear (0.006 px/px) plus drift (1, -0.5) px.

    The same gradients on every frame size, as in the test suite's 500 x 500 case.
    """
    from cloudmotion.tools.synthetic import vortex_shear_field

    shear = SHEAR_GRADIENT * shape[0] / 2.0
    return vortex_shear_field(shape, strength=4.0, radius=VORTEX_RADIUS, shear=shear, drift=(1.0, -0.5))


def make_motions(shape: tuple[int, int], quick: bool) -> list[Motion]:
    """Fractional sweep dx = 1 + f, dy = -(2 + f); large shifts; vortex plus shear."""
    from cloudmotion.tools.synthetic import uniform_field

    out = []
    for f in FRACTIONS:
        out.append(Motion("fraction", f"f={f:.1f}", *uniform_field(shape, 1.0 + f, -(2.0 + f)), frac=float(f)))
    for sx, sy in LARGE_QUICK if quick else LARGE:
        out.append(Motion("large", f"({sx:+.1f}, {sy:+.1f})", *uniform_field(shape, sx, sy)))
    out.append(Motion("vortex", "vortex+shear", *vortex(shape), uniform=False))
    return out


def warp_pair(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame B from A and a known field (one fixed-point iteration is exact when uniform)."""
    from cloudmotion.tools.synthetic import warp

    return warp(image, motion.dx, motion.dy, iterations=1 if motion.uniform else 8)


def add_noise(a: np.ndarray, b: np.ndarray, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent Gaussian noise of ``level`` times frame A's standard deviation on each frame."""
    if level == 0:
        return a, b
    rng = np.random.default_rng(seed)
    sd = level * float(np.nanstd(a))
    return a + sd * rng.standard_normal(a.shape), b + sd * rng.standard_normal(b.shape)


def fourier_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Exact periodic sub-pixel shift of a frame: B(p + d) = A(p)."""
    ky = np.fft.fftfreq(img.shape[0])[:, None]
    kx = np.fft.rfftfreq(img.shape[1])[None, :]
    ramp = np.exp(-2j * np.pi * (kx * dx + ky * dy))
    return np.fft.irfft2(np.fft.rfft2(img) * ramp, s=img.shape)


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    """Errors of one method on one pair, over the measurable vectors."""

    method: str
    texture: str
    kind: str
    label: str
    noise: float
    frac: float | None
    n: int  # measurable vectors
    flagged: int  # flagged or missing among them
    ex: np.ndarray  # signed errors of accepted vectors
    ey: np.ndarray
    err_all: np.ndarray  # error magnitude of every finite estimate (accepted or not)
    est_x: np.ndarray  # accepted estimates, for the peak-locking histogram
    est_y: np.ndarray
    org_r: np.ndarray  # origins of the accepted vectors
    org_c: np.ndarray
    shape: tuple[int, int]
    seconds: float
    vectors: int


def truth_at(motion: Motion, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The known field sampled (bilinear) at vector origins."""
    coords = [row, col]
    return (ndimage.map_coordinates(motion.dx, coords, order=1, mode="nearest"),
            ndimage.map_coordinates(motion.dy, coords, order=1, mode="nearest"))


def measurable(row, col, tx, ty, shape, margin: float = 2.0) -> np.ndarray:
    """Vectors whose template, moved by the true motion, stays inside frame B."""
    half = (WINDOW - 1) / 2 + margin
    r, c = row + ty, col + tx
    return (r - half >= 0) & (r + half <= shape[0] - 1) & (c - half >= 0) & (c + half <= shape[1] - 1)


def score(est: Estimate, motion: Motion, shape, *, method, texture, noise, seconds) -> Score:
    """Compare an estimate with the truth at the method's own origins."""
    tx, ty = truth_at(motion, est.row, est.col)
    sel = measurable(est.row, est.col, tx, ty, shape)
    finite = np.isfinite(est.dx) & np.isfinite(est.dy)
    good = sel & est.ok & finite
    allf = sel & finite
    return Score(
        method=method, texture=texture, kind=motion.kind, label=motion.label, noise=noise, frac=motion.frac,
        n=int(sel.sum()), flagged=int((sel & ~(est.ok & finite)).sum()),
        ex=est.dx[good] - tx[good], ey=est.dy[good] - ty[good],
        err_all=np.hypot(est.dx[allf] - tx[allf], est.dy[allf] - ty[allf]),
        est_x=est.dx[good], est_y=est.dy[good], org_r=est.row[good], org_c=est.col[good], shape=tuple(shape),
        seconds=seconds, vectors=int(est.dx.size),
    )


def pooled(scores: list[Score]) -> dict[str, float]:
    """Statistics over all vectors of several pairs (one method, one pair set)."""
    ex = np.concatenate([s.ex for s in scores])
    ey = np.concatenate([s.ey for s in scores])
    e = np.hypot(ex, ey)
    n = sum(s.n for s in scores)
    out = {"n": n, "flagged": sum(s.flagged for s in scores) / max(n, 1)}
    if e.size == 0:
        return out | {k: np.nan for k in ("rms", "bx", "by", "p95", "gt05", "gt1", "worst_bias", "rms_all")}
    worst = max(max(abs(s.ex.mean()), abs(s.ey.mean())) for s in scores if s.ex.size)
    e_all = np.concatenate([s.err_all for s in scores])
    seconds = sum(s.seconds for s in scores)
    return out | {
        "rms": float(np.sqrt(np.mean(e**2))), "bx": float(ex.mean()), "by": float(ey.mean()),
        "p95": float(np.percentile(e, 95)), "gt05": float(np.mean(e > 0.5)), "gt1": float(np.mean(e > 1.0)),
        "worst_bias": float(worst), "rms_all": float(np.sqrt(np.mean(e_all**2))) if e_all.size else np.nan,
        "vps": sum(s.vectors for s in scores) / seconds if seconds > 0 else np.nan,
    }


def peak_locking(scores: list[Score]) -> dict[str, float]:
    """Flatness of the histogram of fractional parts on the fractional sweep.

    The sweep's true fractional parts are 0.0, 0.1, ..., 0.9 on both axes, once each, so
    a perfect estimator fills ten bins centred on them equally. Returns the largest
    relative deviation of a bin from the mean count, and the largest |bias| of a pair.
    """
    sweep = [s for s in scores if s.kind == "fraction" and s.frac is not None and s.frac < 0.95 and s.ex.size]
    if not sweep:
        return {"dev": np.nan, "bias_curve": np.nan}
    vals = np.concatenate([np.concatenate([s.est_x, s.est_y]) for s in sweep])
    bins = np.round((vals - np.floor(vals)) * 10).astype(int) % 10
    counts = np.bincount(bins, minlength=10).astype(float)
    dev = float(np.max(np.abs(counts / counts.mean() - 1.0)))
    curve = max(max(abs(s.ex.mean()), abs(s.ey.mean())) for s in sweep)
    return {"dev": dev, "bias_curve": float(curve)}


# --------------------------------------------------------------------------- checks


def check_conventions() -> list[str]:
    """Assert that a known shift comes out with the right sign for every method.

    Uses a real GOES crop. Also checks that cloudmotion's origins are the centred-grid
    window centres this harness uses for the scikit-image and DIS peers. Returns lines
    for the report.
    """
    from cloudmotion.tools.synthetic import uniform_field, warp

    # real texture: phase correlation of untapered tiles locks to 0 on smooth noise
    a = read_raster(str(SAMPLE_TIF))[0][:256, :256]
    sx, sy = 2.6, -1.3
    b = warp(a, *uniform_field(a.shape, sx, sy), iterations=1)
    lines = []
    methods = {CM: cm_method(CM_CONFIGS[0]), **PEERS}
    for name, fn in methods.items():
        est = fn(a, b)
        mx, my = np.nanmedian(est.dx), np.nanmedian(est.dy)
        # right sign and at least half the magnitude on each axis (single-pass PIV is biased toward 0)
        assert abs(mx - sx) < 0.5 * abs(sx) and abs(my - sy) < 0.5 * abs(sy), (
            f"{name}: shift ({sx}, {sy}) measured as ({mx}, {my}): wrong sign or axis convention")
        lines.append(f"{name}: true (dx, dy) = ({sx:+.2f}, {sy:+.2f}) px, median measured "
                     f"({mx:+.3f}, {my:+.3f}) px")
    est = run_cloudmotion(a, b)
    rows, cols = centred_grid(a.shape)
    half = (WINDOW - 1) / 2
    assert np.array_equal(est.row, rows + half) and np.array_equal(est.col, cols + half), "grid origins differ"
    return lines


# --------------------------------------------------------------------------- accuracy


def accuracy(textures: list[Texture], quick: bool) -> list[Score]:
    """Run every method on every pair (texture x field x noise) and score it."""
    scores: list[Score] = []
    for ti, tex in enumerate(textures):
        motions = make_motions(tex.image.shape, quick)
        log(f"accuracy: {tex.name} ({tex.image.shape[0]}x{tex.image.shape[1]}), {len(motions)} fields x "
            f"{len(NOISES)} noise levels")
        variants = tex.real and (not quick or ti == [t.real for t in textures].index(True))
        for mi, motion in enumerate(motions):
            clean_b = warp_pair(tex.image, motion)
            for ni, level in enumerate(NOISES):
                a, b = add_noise(tex.image, clean_b, level, seed=1000 * ti + 10 * mi + ni)
                methods = {CM: cm_method(CM_CONFIGS[0]), **PEERS}
                if variants and motion.kind in ("fraction", "vortex"):
                    methods |= {cm_label(c): cm_method(c) for c in CM_CONFIGS[1:]}
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    est = fn(a, b)
                    seconds = time.perf_counter() - t0
                    scores.append(score(est, motion, a.shape, method=name, texture=tex.name, noise=level,
                                        seconds=seconds))
    return scores


def default_sigma() -> float:
    """cloudmotion's current default pre-filter sigma."""
    from cloudmotion import TrackParams

    return float(TrackParams().sigma)


def sigma_values() -> tuple[float, ...]:
    """Pre-filter sigmas compared: a fixed set plus the current default."""
    return tuple(sorted({0.0, 0.5, 1.0, 1.5, 2.0, default_sigma()}))


def prefilter_sweep(textures: list[Texture], quick: bool) -> list[Score]:
    """cloudmotion's default settings with each pre-filter sigma, on the real pairs.

    Every other pair of the fractional sweep plus the vortex, at every noise level.
    """
    scores = []
    real = [t for t in textures if t.real][: 1 if quick else None]
    for ti, tex in enumerate(real):
        log(f"pre-filter sweep: {tex.name}")
        motions = [m for m in make_motions(tex.image.shape, quick)
                   if m.kind == "vortex" or (m.kind == "fraction" and round(m.frac * 10) % 2 == 0)]
        for mi, motion in enumerate(motions):
            clean_b = warp_pair(tex.image, motion)
            for ni, level in enumerate(NOISES):
                a, b = add_noise(tex.image, clean_b, level, seed=5000 + 1000 * ti + 10 * mi + ni)
                for sigma in sigma_values():
                    t0 = time.perf_counter()
                    est = run_cloudmotion(a, b, sigma=sigma)
                    scores.append(score(est, motion, a.shape, method=f"sigma {sigma}", texture=tex.name,
                                        noise=level, seconds=time.perf_counter() - t0))
    return scores


def select(scores: list[Score], **kw) -> list[Score]:
    """Scores whose attributes equal the given values."""
    return [s for s in scores if all(getattr(s, k) == v for k, v in kw.items())]


# --------------------------------------------------------------------------- timing


def best_time(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    """Run ``fn`` once to warm up, then ``repeat`` times; the result and the best time."""
    result = fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


STAGE_CALLERS = ("track_pair", "_track_prepared")


def stage_profile(a, b, mask_a=None, mask_b=None) -> dict[str, float]:
    """Seconds spent in each function that track_pair's composition calls directly (cProfile).

    The stages are read from the profile (callees of ``track_pair`` and
    ``_track_prepared`` inside the package), so renamed or new stages show up as they are.
    """
    from cloudmotion import track_pair

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(track_pair, a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP)
    total = time.perf_counter() - t0
    out: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, _tt, _ct, callers) in pstats.Stats(prof).stats.items():
        if "cloudmotion" not in filename or func in STAGE_CALLERS:
            continue
        for (cfile, _cline, cfunc), (_c1, _c2, _c3, ct) in callers.items():
            if cfunc in STAGE_CALLERS and "cloudmotion" in cfile and ct >= 0.005 * total:
                out[f"{func}"] = out.get(func, 0.0) + ct
    out = dict(sorted(out.items(), key=lambda kv: -kv[1]))
    out["total (profiled)"] = total
    return out


def memory_by_stage(a, b, mask_a=None, mask_b=None) -> dict[str, tuple[float, float]]:
    """Traced memory (MiB, tracemalloc: numpy buffers) around each function of cloudmotion.track.

    Every function in ``cloudmotion.track``'s namespace that comes from the package is
    wrapped for one ``track_pair`` call. Each maps to (memory held when it was entered,
    highest memory while it ran, nested calls included), for its call with the highest
    peak, relative to the start of ``track_pair`` (the inputs are not counted).
    """
    import tracemalloc

    import cloudmotion.track as trk

    stack: list[list[float]] = []
    peaks: dict[str, tuple[float, float]] = {}

    def wrap(name: str, fn: Callable) -> Callable:
        def inner(*args, **kwargs):
            outer_peak = tracemalloc.get_traced_memory()[1]
            if stack:
                stack[-1][0] = max(stack[-1][0], outer_peak)
            tracemalloc.reset_peak()
            entry = tracemalloc.get_traced_memory()[0]
            stack.append([0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                mine = max(tracemalloc.get_traced_memory()[1], stack.pop()[0])
                if mine / MB > peaks.get(name, (0.0, -1.0))[1]:
                    peaks[name] = (entry / MB, mine / MB)
                if stack:
                    stack[-1][0] = max(stack[-1][0], mine)

        return inner

    originals = {k: v for k, v in vars(trk).items() if callable(v) and not isinstance(v, type)
                 and getattr(v, "__module__", "").startswith("cloudmotion") and not k.startswith("__")}
    tracemalloc.start()
    try:
        for k, v in originals.items():
            setattr(trk, k, wrap(k, v))
        base = tracemalloc.get_traced_memory()[0]
        trk.track_pair(a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP)
    finally:
        for k, v in originals.items():
            setattr(trk, k, v)
        tracemalloc.stop()
    order = sorted(peaks.items(), key=lambda kv: -kv[1][1])
    return {k: (entry - base / MB, peak - base / MB) for k, (entry, peak) in order}


@dataclass
class Throughput:
    """In-process speed of each method on one pair."""

    pair: str
    vectors: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    rms: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    masked_vps: float = np.nan
    masked_pair: str = ""


def throughput(conus, quick: bool) -> Throughput:
    """Vectors/s of every method and cloudmotion configuration on one larger real pair."""
    from cloudmotion.tools.synthetic import correlated_noise

    if conus is not None:
        rs, cs = conus_valid_crop(conus)
        a = np.array(conus[0][rs, cs])
        name = f"GOES-16 CONUS C16, fill-free crop {a.shape[0]}x{a.shape[1]}, vortex+shear"
    else:
        a = correlated_noise((1200, 2100), 2.0, seed=5)
        name = "correlated noise 1200x2100 (CONUS file not found), vortex+shear"
    motion = Motion("vortex", "vortex+shear", *vortex(a.shape), uniform=False)
    b = warp_pair(a, motion)
    out = Throughput(pair=name)
    repeat = 1 if quick else 2
    methods = {cm_label(c): cm_method(c) for c in CM_CONFIGS} | PEERS
    for mname, fn in methods.items():
        slow = mname.startswith(("OpenPIV windef", "skimage"))
        est, secs = best_time(lambda fn=fn: fn(a, b), 1 if slow else repeat)
        out.vectors[mname] = int(est.dx.size)
        out.seconds[mname] = secs
        s = score(est, motion, a.shape, method=mname, texture=name, noise=0.0, seconds=secs)
        out.rms[mname] = pooled([s])["rms"]
        log(f"throughput: {mname}: {est.dx.size / secs:,.0f} vectors/s")
    out.stages = stage_profile(a, b)
    if conus is not None:
        full, valid = conus[0], conus[1]
        bfull = warp_pair(np.where(valid, full, np.nanmean(full)), Motion("vortex", "", *vortex(full.shape),
                                                                          uniform=False))
        bfull[~valid] = np.nan
        est, secs = best_time(lambda: run_cloudmotion(full, bfull, valid, valid), repeat)
        out.masked_vps = est.dx.size / secs
        out.masked_pair = f"whole CONUS frame {full.shape[0]}x{full.shape[1]} with its 1.3 % space fill (masked path)"
    return out


# --------------------------------------------------------------------------- command-line runs


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


def _parse_time_v(text: str) -> tuple[float, float]:
    """Wall seconds and max RSS (MiB) from ``/usr/bin/time -v`` output."""
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (?:(\d+):)?(\d+):([\d.]+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not wall or not rss:
        raise RuntimeError(f"cannot parse /usr/bin/time output:\n{text[-2000:]}")
    h, m, s = wall.groups()
    return int(h or 0) * 3600 + int(m) * 60 + float(s), int(rss.group(1)) / 1024


def run_measured(label: str, cmd: list[str], csv_out: str | None = None, repeat: int = 1) -> CliRun:
    """Run a command under ``/usr/bin/time -v`` (best wall time of ``repeat``; peak RSS of that run).

    Falls back to ``os.wait4`` resource usage when /usr/bin/time is missing.
    """
    best: CliRun | None = None
    for _ in range(repeat):
        if os.path.exists(TIME_BIN):
            proc = subprocess.run([TIME_BIN, "-v", *cmd], check=False, capture_output=True, text=True,
                                  env=os.environ)
            wall, rss = _parse_time_v(proc.stderr)
            code = proc.returncode
            err = proc.stderr
        else:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
            _pid, status, usage = os.wait4(p.pid, 0)
            wall, rss, code = time.perf_counter() - t0, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)
            err = p.stderr.read().decode() if p.stderr else ""
        if code != 0:  # reported, not fatal: the rest of the run still measures
            lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("\t", "Command "))]
            log(f"{label}: exit {code}: {' '.join(cmd)}\n{err[-2000:]}")
            return CliRun(label, wall, rss, code, note=f"FAILED (exit {code}): {lines[-1] if lines else ''}")
        run = CliRun(label, wall, rss, code)
        if best is None or run.wall < best.wall:
            best = run
    if csv_out:
        best.vectors, best.median_dx, best.median_dy = read_vectors(csv_out)
    return best


def read_vectors(path: str) -> tuple[int, float, float]:
    """Number of rows and median dx, dy of a vector CSV (cloudmotion's or a peer script's)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    dxs = np.array([float(r["dx"]) if r["dx"] else np.nan for r in rows])
    dys = np.array([float(r["dy"]) if r["dy"] else np.nan for r in rows])
    if not rows:
        return 0, np.nan, np.nan
    return len(rows), float(np.nanmedian(dxs)), float(np.nanmedian(dys))


def write_tif(path: Path, data: np.ndarray, *, crs_wkt: str | None = GOES16_WKT, transform=None,
              when: dt.datetime | None = None) -> str:
    """A single-band float32 GeoTIFF frame (NaN NoData), optionally georeferenced and timed."""
    import rasterio
    from affine import Affine

    rows, cols = data.shape
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32", "nodata": np.nan}
    if crs_wkt is not None:
        if transform is None:  # centred on the sub-satellite point
            transform = Affine(ABI_PIXEL, 0, -cols / 2 * ABI_PIXEL, 0, -ABI_PIXEL, rows / 2 * ABI_PIXEL)
        profile.update(crs=crs_wkt, transform=transform)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(np.float32), 1)
        if when is not None:
            ds.update_tags(TIFFTAG_DATETIME=f"{when:%Y:%m:%d %H:%M:%S}")
    return str(path)


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
    return run_measured(label, [*cloudmotion_cmd(), "track", a, b, "-o", out, "--overwrite", "-q", *extra],
                        out, repeat)


def peer_cli(method: str, path_a: str, path_b: str, out: str) -> None:
    """The peers' equivalent of the CLI run: read two frames, track, write a CSV."""
    a, va, _ = read_raster(path_a)
    b, vb, _ = read_raster(path_b)
    est = PEERS[method](a, b, va, vb)
    with open(out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["row", "col", "dx", "dy", "flag"])
        for row in zip(est.row, est.col, est.dx, est.dy, (~est.ok).astype(int), strict=True):
            w.writerow([f"{row[0]:.1f}", f"{row[1]:.1f}", f"{row[2]:.4f}", f"{row[3]:.4f}", row[4]])


def peer_track(method: str, a: str, b: str, work: Path, repeat: int = 1) -> CliRun:
    """A peer's equivalent script under /usr/bin/time -v."""
    out = str(work / "peer_out.csv")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--threads", str(THREADS), "--peer-cli", method, a, b, out]
    return run_measured(method, cmd, out, repeat)


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
    memory: dict[str, float] = field(default_factory=dict)
    memory_pair: str = ""


def cli_runs(conus, conus_path: Path | None, work: Path, quick: bool) -> CliResults:
    """Whole command-line runs: CONUS pair (cloudmotion and peers), scaling, full disk."""
    from cloudmotion.tools.synthetic import correlated_noise

    res = CliResults()
    t_a = dt.datetime(2020, 1, 4, 3, 16, 18)
    res.startup = run_measured("cloudmotion --version (start-up)", [*cloudmotion_cmd(), "--version"])
    repeat = 1 if quick else 3
    if conus is not None:
        data, valid, prof = conus
        res.conus_shape = data.shape
        motion = vortex(data.shape)
        b = warp_pair(np.where(valid, data, np.nanmean(data)), Motion("vortex", "", *motion, uniform=False))
        b[~valid] = np.nan
        pa = write_tif(work / "conus_a.tif", data, crs_wkt=prof["crs_wkt"], transform=prof["transform"], when=t_a)
        pb = write_tif(work / "conus_b.tif", b, crs_wkt=prof["crs_wkt"], transform=prof["transform"],
                       when=t_a + dt.timedelta(minutes=5))
        log("CLI: CONUS pair")
        res.conus.append(cm_track(CM, pa, pb, work, repeat=1 if quick else 5))
        res.conus.append(cm_track("cloudmotion --no-refine", pa, pb, work, "--no-refine", repeat=repeat))
        for method in PEERS:
            res.conus.append(peer_track(method, pa, pb, work, repeat=1 if quick else 2))
            log(f"CLI: CONUS {method}: {res.conus[-1].wall:.2f} s")
        if conus_path is not None:
            res.conus_nc = cm_track("cloudmotion, netCDF read path (same file twice, --dt 300)",
                                    str(conus_path), str(conus_path), work, "--dt", "300", repeat=repeat)
    shift = (2.6, -1.3)
    sides = (500, 1000, 2000) if quick else (500, 1000, 2000, 4000)
    for side in sides:
        a = correlated_noise((side, side), 2.0, seed=side)
        b = fourier_shift(a, *shift)
        pa = write_tif(work / "size_a.tif", a, when=t_a)
        pb = write_tif(work / "size_b.tif", b, when=t_a + dt.timedelta(minutes=10))
        run = cm_track(f"{side}x{side}", pa, pb, work, repeat=1 if side >= 4000 else repeat)
        res.sizes.append((side * side / 1e6, run))
        log(f"CLI: size {side}: {run.wall:.2f} s, {run.rss_mib:.0f} MiB")
        if quick and side == 2000:
            res.memory = memory_by_stage(a.astype(np.float32), b.astype(np.float32))
            res.memory_pair = f"{side}x{side} float32 pair"
        del a, b
        if side == (1000 if quick else 2000):
            for w in (16, 32, 64):
                run = cm_track(f"{side}x{side}, window {w}, step {w // 2}", pa, pb, work,
                               "--window", str(w), "--step", str(w // 2), repeat=1 if quick else 2)
                res.windows.append((w, run))
                log(f"CLI: window {w}: {run.wall:.2f} s")
    if not quick:
        side = 5424
        a = correlated_noise((side, side), 2.0, seed=7)
        b = fourier_shift(a, *shift)
        pa = write_tif(work / "fd_a.tif", a, when=t_a)
        pb = write_tif(work / "fd_b.tif", b, when=t_a + dt.timedelta(minutes=10))
        res.full_disk.append(cm_track("full disk 5424x5424, all pixels valid", pa, pb, work))
        log(f"CLI: full disk: {res.full_disk[-1].wall:.2f} s, {res.full_disk[-1].rss_mib:.0f} MiB")
        res.memory = memory_by_stage(a.astype(np.float32), b.astype(np.float32))
        res.memory_pair = f"full-disk {side}x{side} float32 pair, all valid"
        log("memory by stage (peak MiB): " + ", ".join(f"{k} {pk:.0f}" for k, (_e, pk) in list(res.memory.items())[:5]))
        yy, xx = np.ogrid[:side, :side]
        off = ((yy - (side - 1) / 2) ** 2 + (xx - (side - 1) / 2) ** 2) > (side / 2 * 0.995) ** 2
        a[off] = np.nan
        b[off] = np.nan
        pa = write_tif(work / "fd_a.tif", a, when=t_a)
        pb = write_tif(work / "fd_b.tif", b, when=t_a + dt.timedelta(minutes=10))
        del a, b
        res.full_disk.append(cm_track(f"full disk 5424x5424, space NoData ({off.mean():.0%})", pa, pb, work))
        log(f"CLI: full disk with space: {res.full_disk[-1].wall:.2f} s")
    return res


# --------------------------------------------------------------------------- flags


def flag_quality(textures: list[Texture], quick: bool) -> list[dict]:
    """cloudmotion's flags against errors on real frames with injected faults."""
    from cloudmotion.tools.synthetic import correlated_noise

    rows_out = []
    for tex in [t for t in textures if t.real]:
        img = tex.image
        shape = img.shape
        motion = Motion("vortex", "vortex+shear", *vortex(shape), uniform=False)
        clean_b = warp_pair(img, motion)
        rng = np.random.default_rng(99)
        mean, sd = float(img.mean()), float(img.std())

        def patches(a, b, rng=rng, mean=mean, sd=sd, shape=shape):
            b = b.copy()
            for k in range(6):
                r, c = rng.integers(40, shape[0] - 90), rng.integers(40, shape[1] - 90)
                b[r:r + 48, c:c + 48] = mean + sd * correlated_noise((48, 48), 2.0, seed=500 + k)
            return a, b

        def stripe(a, b, shape=shape):
            b = b.copy()
            r = shape[0] // 3
            b[r:r + 24, :] = np.nan
            return a, b

        def flat(a, b, shape=shape, mean=mean):
            a, b = a.copy(), b.copy()
            for r, c in ((shape[0] // 5, shape[1] // 5), (shape[0] * 3 // 5, shape[1] * 3 // 5)):
                a[r:r + 80, c:c + 80] = mean
                b[r:r + 80, c:c + 80] = mean
            return a, b

        def noisy(a, b):
            return add_noise(a, b, 0.03, seed=77)

        def combined(a, b):
            for fault in (patches, stripe, flat, noisy):
                a, b = fault(a, b)
            return a, b

        cases = {"unrelated patches in B (6 x 48 px)": patches, "NoData stripe in B (24 rows)": stripe,
                 "flat constant blocks (2 x 80 px)": flat, "3 % noise": noisy, "all four together": combined}
        for cname, fault in cases.items():
            a, b = fault(img, clean_b)
            from cloudmotion import Flag, track_pair

            mf = track_pair(a, b, window=WINDOW, step=STEP)
            tx, ty = truth_at(motion, mf.row.ravel(), mf.col.ravel())
            sel = measurable(mf.row.ravel(), mf.col.ravel(), tx, ty, shape)
            dx, dy, flag = mf.dx.ravel()[sel], mf.dy.ravel()[sel], mf.flag.ravel()[sel]
            e = np.hypot(dx - tx[sel], dy - ty[sel])
            fin = np.isfinite(e)
            bad = fin & (e > 1.0)
            fine = fin & (e < 0.2)
            good = flag == 0
            bits = {fl.name: int(((flag & fl) != 0).sum()) for fl in Flag if ((flag & fl) != 0).any()}
            rows_out.append({
                "bits": ", ".join(f"{k} {v}" for k, v in sorted(bits.items(), key=lambda kv: -kv[1])),
                "texture": tex.name, "case": cname, "n": int(sel.sum()), "none": int((~fin).sum()),
                "none_flagged": bool(np.all(flag[~fin] != 0)), "bad": int(bad.sum()),
                "recall": float(np.mean(~good[bad])) if bad.any() else np.nan,
                "fine": int(fine.sum()), "kept": float(np.mean(good[fine])) if fine.any() else np.nan,
                "leak": int((good & bad).sum()), "good": int(good.sum()),
                "mid": int((fin & (e >= 0.2) & (e <= 1.0)).sum()),
            })
    return rows_out


# --------------------------------------------------------------------------- report


_NUMERIC = re.compile(r"^[-+–]?[\d,.]*\d[\d,.]*( ?(%|×|px|s|MiB|GiB))?$|^–$")


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (cells pre-formatted); numeric columns right-aligned, pipes escaped."""

    def cell(c) -> str:
        return str(c).replace("|", "\\|")

    numeric = [all(_NUMERIC.match(str(r[i]).strip()) or str(r[i]).strip() == "" for r in rows) and rows
               for i in range(len(headers))]
    line = "| " + " | ".join(cell(h) for h in headers) + " |"
    sep = "|" + "|".join("---:" if num else "---" for num in numeric) + "|"
    body = ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def f4(x: float) -> str:
    """Four decimals, or a dash."""
    return "–" if x is None or not np.isfinite(x) else f"{x:.4f}"


def f3(x: float) -> str:
    """Three decimals, or a dash."""
    return "–" if x is None or not np.isfinite(x) else f"{x:.3f}"


def pct(x: float) -> str:
    """A share as a percentage, or a dash."""
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def ratio(x: float) -> str:
    """A ratio like 12.3×, or a dash."""
    return "–" if x is None or not np.isfinite(x) else (f"{x:.1f}×" if x < 100 else f"{x:.0f}×")


def _loadavg() -> float:
    """One-minute load average (NaN where unavailable)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return np.nan


LOAD_START = _loadavg()


def machine_info() -> list[str]:
    """CPU model, cores, RAM, OS, Python, threads, load average."""
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    return [
        f"CPU: {cpu}; {os.cpu_count()} logical cores",
        f"RAM: {ram}",
        f"OS: {platform.platform()}; Python {platform.python_version()}",
        (f"Threads: {THREADS} (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMEXPR_NUM_THREADS set to "
        f"{THREADS} for this process and every child; OpenCV cv2.setNumThreads({THREADS}); cloudmotion's scipy.fft "
        f"calls use workers=os.cpu_count() = {os.cpu_count()} whatever the environment says)"),
        (f"Load average (1 min) at start {LOAD_START:.2f}, at end {_loadavg():.2f}: other processes on the "
         "machine share its cores, so timings carry their noise (the best of the repeats is reported)"),
    ]


def versions() -> list[str]:
    """Versions of the libraries measured, and the repository commit."""
    out = []
    for dist in ("cloudmotion", "numpy", "scipy", "opencv-python-headless", "openpiv", "scikit-image", "rasterio",
                 "pyproj"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    with contextlib.suppress(Exception):
        import rasterio

        out.append(f"GDAL {rasterio.__gdal_version__}")
    commit = "unknown"
    with contextlib.suppress(Exception):
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "cloudmotion"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit += " (cloudmotion/ has uncommitted changes)" if dirty else ""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "cloudmotion").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return [", ".join(out), f"repository commit: {commit}; cloudmotion/*.py sha256 {digest.hexdigest()[:12]}"]


KIND_TITLES = {"fraction": "fractional sweep", "large": "shifts up to ±12 px", "vortex": "vortex + shear"}


def accuracy_tables(scores: list[Score], textures: list[Texture]) -> tuple[str, str, dict]:
    """Headline RMS table with ratios, and the detailed per-method table.

    Also returns the pooled figures keyed by (texture, kind, noise, method).
    """
    figures: dict[tuple, dict] = {}
    head_rows, detail_rows = [], []
    methods = [CM, *PEER_NAMES]
    for tex in textures:
        for kind, title in KIND_TITLES.items():
            for level in NOISES:
                row = [tex.name, title, pct(level)]
                for m in methods:
                    sel = select(scores, texture=tex.name, kind=kind, noise=level, method=m)
                    if not sel:
                        continue
                    figures[(tex.name, kind, level, m)] = p = pooled(sel)
                    row.append(f4(p["rms"]))
                    detail_rows.append([tex.name, title, pct(level), m, f4(p["rms"]), f4(p["bx"]),
                                        f4(p["by"]), f3(p["p95"]), pct(p["gt05"]), pct(p["gt1"]), pct(p["flagged"]),
                                        f3(p["rms_all"]), f"{p['n']}"])
                cm = figures.get((tex.name, kind, level, CM), {}).get("rms", np.nan)
                for m in PEER_NAMES:
                    peer = figures.get((tex.name, kind, level, m), {}).get("rms", np.nan)
                    row.append(ratio(peer / cm) if cm > 0 else "–")
                head_rows.append(row)
    head = md_table(["pair", "field", "noise", *[f"RMS {m}" for m in methods], *[f"{m} / cm" for m in PEER_NAMES]],
                    head_rows)
    detail = md_table(["pair", "field", "noise", "method", "RMS px", "bias x", "bias y", "p95 px", "> 0.5 px", "> 1 px",
                       "flagged", "RMS incl. flagged", "vectors"], detail_rows)
    return head, detail, figures


def locking_table(scores: list[Score], textures: list[Texture]) -> tuple[str, dict]:
    """Peak-locking figures per pair, noise and method."""
    rows, figs = [], {}
    methods = [CM, *PEER_NAMES]
    for tex in textures:
        for level in NOISES:
            row = [tex.name, pct(level)]
            for m in methods:
                pl = peak_locking(select(scores, texture=tex.name, noise=level, method=m))
                figs[(tex.name, level, m)] = pl
                row.append(f"{100 * pl['dev']:.0f} % / {pl['bias_curve']:.3f}" if np.isfinite(pl["dev"]) else "–")
            rows.append(row)
    return md_table(["pair", "noise", *methods], rows), figs


def fitter_table(scores: list[Score], textures: list[Texture], tp: Throughput) -> str:
    """cloudmotion configurations compared on the real pairs (fractional sweep and vortex)."""
    rows = []
    for cfg in CM_CONFIGS:
        m = cm_label(cfg)
        for tex in [t for t in textures if t.real]:
            cells = []
            for kind in ("fraction", "vortex"):
                for level in NOISES:
                    sel = select(scores, texture=tex.name, kind=kind, noise=level, method=m)
                    cells.append(f4(pooled(sel)["rms"]) if sel else "–")
            if all(c == "–" for c in cells):
                continue
            locks = [peak_locking(select(scores, texture=tex.name, noise=lv, method=m)) for lv in NOISES]
            bias = max((pooled(select(scores, texture=tex.name, kind="fraction", noise=lv, method=m))["worst_bias"]
                        for lv in NOISES[:2] if select(scores, texture=tex.name, kind="fraction", noise=lv, method=m)),
                       default=np.nan)
            vps = tp.vectors.get(m, 0) / tp.seconds[m] if m in tp.seconds else np.nan
            rows.append([m, tex.name, *cells, f4(bias), f"{100 * locks[0]['dev']:.0f} %",
                         f"{vps:,.0f}" if np.isfinite(vps) else "–"])
    heads = ["configuration", "pair"]
    for kind in ("sweep", "vortex"):
        heads += [f"RMS {kind} {pct(lv)}" for lv in NOISES]
    heads += ["worst |bias| (0/1 %)", "hist. dev. (0 %)", "vectors/s"]
    return md_table(heads, rows)


def sigma_table(scores: list[Score], default: float) -> str:
    """RMS, worst bias and flagged share per pre-filter sigma."""
    rows = []
    for tex in dict.fromkeys(s.texture for s in scores):
        for sigma in dict.fromkeys(s.method for s in scores):
            cells = []
            for kind in ("fraction", "vortex"):
                cells += [f4(pooled(select(scores, texture=tex, kind=kind, noise=lv, method=sigma))["rms"])
                          for lv in NOISES]
            bias = pooled(select(scores, texture=tex, kind="fraction", noise=0.0, method=sigma))["worst_bias"]
            flagged = [pct(pooled(select(scores, texture=tex, noise=lv, method=sigma))["flagged"]) for lv in NOISES]
            value = float(sigma.split()[1])
            rows.append([f"{value:.1f}" + (" (default)" if value == default else ""), tex, *cells, f4(bias),
                         *flagged])
    heads = ["sigma px", "pair"]
    for kind in ("sweep", "vortex"):
        heads += [f"RMS {kind} {pct(lv)}" for lv in NOISES]
    heads += ["worst |bias| sweep 0 %"] + [f"flagged {pct(lv)}" for lv in NOISES]
    return md_table(heads, rows)


def bias_curve_table(scores: list[Score], textures: list[Texture]) -> str:
    """Mean x error of each fractional-sweep pair (no noise): the bias as a function of f.

    The sweep moves dx = 1 + f and dy = -(2 + f); the y curve mirrors the x curve.
    """
    methods = [CM, cm_label(("gaussian", False, "bicubic")), "OpenCV DIS medium", "OpenPIV windef 64-32-32"]
    rows = []
    for tex in textures:
        for m in methods:
            sweep = sorted(select(scores, texture=tex.name, kind="fraction", noise=0.0, method=m), key=lambda s: s.frac)
            if sweep:
                rows.append([tex.name, m, *[f"{s.ex.mean():+.4f}" if s.ex.size else "–" for s in sweep]])
    return md_table(["pair", "method", *[f"f={f:.1f}" for f in FRACTIONS]], rows)


def exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log(y) against log(x)."""
    ok = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(ok) < 2:
        return np.nan
    return float(np.polyfit(np.log([x for x, _ in ok]), np.log([y for _, y in ok]), 1)[0])


@dataclass
class Target:
    """One target of the issue, with its verdict and the figures behind it."""

    name: str
    met: bool | None
    figure: str
    cause: str = ""


def _rms(e: np.ndarray) -> float:
    """Root mean square, NaN when empty."""
    return float(np.sqrt(np.mean(e**2))) if e.size else np.nan


def accuracy_cause(figs: dict, key: tuple, scores: list[Score]) -> str:
    """A measured diagnosis of an accuracy miss: where the error sits and what it is made of."""
    p = figs[key]
    tex, kind, level, _m = key
    sel = select(scores, texture=tex, kind=kind, noise=level, method=CM)
    ex = np.concatenate([s.ex for s in sel])
    ey = np.concatenate([s.ey for s in sel])
    e = np.hypot(ex, ey)
    parts = []
    if kind == "vortex":
        rows, cols = sel[0].shape
        d = np.concatenate([np.hypot(s.org_r - (rows - 1) / 2, s.org_c - (cols - 1) / 2) for s in sel])
        core = d < 1.5 * VORTEX_RADIUS
        where = f"RMS {_rms(e[core]):.4f} px within {1.5 * VORTEX_RADIUS:.0f} px of the vortex centre ({core.sum()})"
        if (~core).any():
            where += f" and {_rms(e[~core]):.4f} px outside ({(~core).sum()} vectors)"
        parts.append(where)
        uni = figs.get((tex, "fraction", level, CM))
        if uni:
            parts.append(f"uniform shifts of the same frame at the same noise: {uni['rms']:.4f} px, so the excess "
                         "comes from the motion varying inside the 32 px templates (rotation up to "
                         f"{4.0 / VORTEX_RADIUS * np.exp(0.5):.3f} rad per px near the core), which a translation "
                         "fit with a first-order (Jacobian) correction does not fully absorb")
    if level > 0:
        zero = figs.get((tex, kind, 0.0, CM))
        if zero:
            parts.append(f"{zero['rms']:.4f} px on the same pairs without noise, so noise adds "
                         f"{np.sqrt(max(p['rms'] ** 2 - zero['rms'] ** 2, 0.0)):.4f} px in quadrature")
    spread = np.sqrt(max(p["rms"] ** 2 - p["bx"] ** 2 - p["by"] ** 2, 0.0))
    parts.append(f"mean error ({p['bx']:+.4f}, {p['by']:+.4f}) px, spread {spread:.4f} px")
    if p["gt1"] > 0:
        parts.append(f"{100 * p['gt1']:.2f} % of accepted vectors off by > 1 px; RMS without them "
                     f"{_rms(e[e <= 1.0]):.4f} px")
    return "; ".join(parts)


def ratio_target(figs: dict, names: list[str], peer: str, need: float) -> tuple[bool, float, str]:
    """Whether cloudmotion's RMS is ``need`` times below a peer's on every pair set, and where not.

    The cause lists the misses per pair, with both methods' RMS ranges there, and how
    each method's RMS moves with noise on the sweep of that pair.
    """
    low, parts, total, missed = np.inf, [], 0, 0
    for tex in names:
        rows = [(kind, level, figs[(tex, kind, level, CM)]["rms"], figs[(tex, kind, level, peer)]["rms"])
                for kind in KIND_TITLES for level in NOISES
                if (tex, kind, level, CM) in figs and (tex, kind, level, peer) in figs]
        total += len(rows)
        bad = [r for r in rows if not r[3] / r[2] >= need]
        low = min([low] + [r[3] / r[2] for r in rows])
        missed += len(bad)
        if not bad:
            continue
        where = ", ".join(f"{KIND_TITLES[k]} {pct(lv)} {p / c:.1f}×" for k, lv, c, p in bad)
        sweep = {lv: (c, p) for k, lv, c, p in rows if k == "fraction"}
        trend = ""
        if 0.0 in sweep and 0.01 in sweep:
            (c0, p0), (c1, p1) = sweep[0.0], sweep[0.01]
            trend = (f"; on the sweep, 0 → 1 % noise multiplies cloudmotion's RMS by {c1 / c0:.1f} "
                     f"({c0:.4f} → {c1:.4f} px) and the peer's by {p1 / p0:.1f} ({p0:.4f} → {p1:.4f} px)")
        parts.append(f"{tex}: {len(bad)}/{len(rows)} missed ({where}); cloudmotion "
                     f"{min(r[2] for r in bad):.4f}–{max(r[2] for r in bad):.4f} px, {peer} "
                     f"{min(r[3] for r in bad):.4f}–{max(r[3] for r in bad):.4f} px there, so {need:.0f}× needs "
                     f"cloudmotion ≤ {min(r[3] for r in bad) / need:.4f}–{max(r[3] for r in bad) / need:.4f} px"
                     f"{trend}")
    cause = f"{missed} of {total} pair sets missed. " + " — ".join(parts) if missed else ""
    return missed == 0, low, cause


def state_sigma_bias(sigma_scores: list[Score]) -> str:
    """Worst single-pair |bias| on the noise-free sweep for each sigma, on the first real pair."""
    if not sigma_scores:
        return ""
    tex = sigma_scores[0].texture
    parts = []
    for m in dict.fromkeys(s.method for s in sigma_scores):
        p = pooled(select(sigma_scores, texture=tex, kind="fraction", noise=0.0, method=m))
        parts.append(f"{m} {p['worst_bias']:.4f} px")
    return f"{tex}, " + ", ".join(parts)


def full_disk_targets(cli: CliResults) -> list[Target]:
    """The full-disk time and memory targets, on the all-valid pair and the pair with space NoData."""
    names = ("full-disk 5424×5424 pair through the CLI ≤ 10 s", "full-disk 5424×5424 pair: peak RSS ≤ 1.5 GiB")
    if not cli.full_disk:
        return [Target(n, None, "not measured (--quick, or the run failed)") for n in names]
    runs = cli.full_disk
    start = cli.startup.wall if cli.startup else 0.0
    sizes = [(mp, r) for mp, r in cli.sizes]
    mps = [m for m, _ in sizes]
    out = []
    fig = "; ".join(f"{r.label.split(', ', 1)[-1]}: {r.wall:.1f} s" for r in runs)
    cause = ""
    if not all(r.wall <= 10.0 for r in runs):
        vps = [r.vectors / max(r.wall - start, 1e-9) for r in runs]
        cause = (f"{runs[0].vectors:,} vectors at {vps[0]:,.0f} vectors/s after the {start:.2f} s start-up; "
                 f"10 s needs {runs[0].vectors / (10.0 - start):,.0f} vectors/s after start-up; time grows as (pixels)^"
                 f"{exponent(mps, [r.wall - start for _, r in sizes]):.2f} over the size sweep")
    out.append(Target(names[0], all(r.wall <= 10.0 for r in runs), fig, cause))
    fig = "; ".join(f"{r.label.split(', ', 1)[-1]}: {r.rss_mib:.0f} MiB" for r in runs)
    cause = ""
    if not all(r.rss_mib <= 1.5 * 1024 for r in runs):
        parts = [(f"peak RSS grows as (pixels)^{exponent(mps, [r.rss_mib for _, r in sizes]):.2f} over the size "
                 "sweep")]
        if len(runs) > 1:
            parts.append(f"the space NoData (masked path) adds {runs[1].rss_mib - runs[0].rss_mib:+.0f} MiB to the "
                         "all-valid pair")
        if cli.memory:
            top = [(k, e, pk) for k, (e, pk) in cli.memory.items() if k not in STAGE_CALLERS][:4]
            parts.append(f"traced numpy memory of the all-valid pair in-process: peak "
                         f"{max(pk for _e, pk in cli.memory.values()):.0f} MiB besides the two "
                         f"{5424 * 5424 * 4 / MB:.0f} MiB float32 frames; by function (peak, growth over what it "
                         "found held): " + ", ".join(f"{k} {pk:.0f} MiB ({pk - e:+.0f})" for k, e, pk in top))
        cause = "; ".join(parts)
    out.append(Target(names[1], all(r.rss_mib <= 1.5 * 1024 for r in runs), fig, cause))
    return out


def evaluate_targets(figs: dict, locks: dict, scores: list[Score], textures: list[Texture], tp: Throughput,
                     cli: CliResults, sigma_scores: list[Score]) -> list[Target]:
    """Check each of the issue's targets against the measurements."""
    out = []
    names = [t.name for t in textures]
    for level, limit in ((0.0, 0.03), (0.01, 0.10)):
        misses, worst = [], 0.0
        for tex in names:
            for kind, title in KIND_TITLES.items():
                p = figs.get((tex, kind, level, CM))
                if p is None:
                    continue
                worst = max(worst, p["rms"])
                if not p["rms"] <= limit:
                    misses.append(f"{tex}, {title}: {p['rms']:.4f} px ("
                                  + accuracy_cause(figs, (tex, kind, level, CM), scores) + ")")
        out.append(Target(f"RMS ≤ {limit} px at {pct(level)} noise (every pair set)", not misses,
                          f"worst {worst:.4f} px", "; ".join(misses)))
    misses, worst = [], 0.0
    for tex in names:
        for kind, title in KIND_TITLES.items():
            for level in NOISES[:2]:
                p = figs.get((tex, kind, level, CM))
                if p is None:
                    continue
                worst = max(worst, p["worst_bias"])
                if not p["worst_bias"] <= 0.01:
                    pairs = [x for x in select(scores, texture=tex, kind=kind, noise=level, method=CM) if x.ex.size]
                    w = max(pairs, key=lambda x: max(abs(x.ex.mean()), abs(x.ey.mean())))
                    misses.append(f"{tex}, {title}, {pct(level)}: {p['worst_bias']:.4f} px at {w.label}")
    cause = "; ".join(misses)
    if misses:
        cause += (". The bias is a function of the fractional shift (odd about f = 0.5, zero at whole and half "
                  "pixels: see the bias curve under Peak locking), i.e. sub-pixel bias of the refinement's warp, "
                  "and it shrinks with a wider pre-filter (worst |bias| per sigma in the pre-filter table)")
        sig = state_sigma_bias(sigma_scores)
        if sig:
            cause += ": " + sig
    out.append(Target("|bias| ≤ 0.01 px per axis (worst single pair, 0 % and 1 % noise)", not misses,
                      f"worst {worst:.4f} px", cause))
    misses, worst = [], 0.0
    for tex in names:
        for level in NOISES:
            pl = locks.get((tex, level, CM))
            if pl is None or not np.isfinite(pl["dev"]):
                continue
            worst = max(worst, pl["dev"])
            if pl["dev"] > 0.20:
                misses.append(f"{tex}, {pct(level)} noise: {100 * pl['dev']:.0f} % (largest pair bias on the sweep "
                              f"{pl['bias_curve']:.3f} px)")
    out.append(Target("fractional-part histogram flat within ±20 % (every pair, every noise level)", not misses,
                      f"worst {100 * worst:.0f} %", "; ".join(misses)))
    for peer, need in (("OpenCV DIS medium", 4.0), ("OpenPIV windef 64-32-32", 20.0)):
        met, low, cause = ratio_target(figs, names, peer, need)
        out.append(Target(f"RMS ≥ {need:.0f}× lower than {peer} (every pair set and noise level)", met,
                          f"lowest ratio {low:.1f}×", cause))
    vps = tp.vectors[CM] / tp.seconds[CM]
    cause = ""
    if vps < 30000:
        st = tp.stages
        total = st.get("total (profiled)", np.nan)
        parts = ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f} %)" for k, v in st.items() if k != "total (profiled)")
        cause = (f"{tp.vectors[CM]:,} vectors take {tp.seconds[CM]:.2f} s; stages: {parts} of {total:.2f} s "
                 f"(cProfile); 30,000 vectors/s needs {tp.vectors[CM] / 30000:.2f} s")
    out.append(Target("≥ 30,000 vectors/s at 32/16 with refinement (in-process, fill-free CONUS crop)",
                      vps >= 30000, f"{vps:,.0f} vectors/s", cause))
    cm_conus = next((r for r in cli.conus if r.label == CM), None)
    if cm_conus is not None:
        cause = ""
        if cm_conus.wall > 2.0 and cli.startup:
            cause = (f"of which start-up (imports) {cli.startup.wall:.2f} s; in-process tracking of the whole frame "
                     f"runs at {tp.masked_vps:,.0f} vectors/s → {cm_conus.vectors / tp.masked_vps:.2f} s for "
                     f"{cm_conus.vectors:,} vectors")
        out.append(Target("CONUS 1500×2500 pair through the CLI ≤ 2 s", cm_conus.wall <= 2.0,
                          f"{cm_conus.wall:.2f} s, peak RSS {cm_conus.rss_mib:.0f} MiB", cause))
    else:
        out.append(Target("CONUS 1500×2500 pair through the CLI ≤ 2 s", None,
                          "not measured (CONUS file missing or the run failed)"))
    out += full_disk_targets(cli)
    return out


def build_report(state: dict) -> str:
    """RESULTS.md: every table, generated from the saved measurements."""
    quick, conventions, textures = state["quick"], state["conventions"], state["textures"]
    scores, sigma_scores, tp, cli, flags = (state[k] for k in ("scores", "sigma_scores", "tp", "cli", "flags"))
    failed = [r for r in [cli.startup, cli.conus_nc, *cli.conus, *(r for _, r in cli.sizes),
                          *(r for _, r in cli.windows), *cli.full_disk] if r is not None and r.code != 0]
    cli = dataclasses.replace(
        cli, conus=[r for r in cli.conus if r.code == 0], sizes=[x for x in cli.sizes if x[1].code == 0],
        windows=[x for x in cli.windows if x[1].code == 0], full_disk=[r for r in cli.full_disk if r.code == 0],
        conus_nc=cli.conus_nc if cli.conus_nc and cli.conus_nc.code == 0 else None,
        startup=cli.startup if cli.startup and cli.startup.code == 0 else None)
    head, detail, figs = accuracy_tables(scores, textures)
    locks_md, locks = locking_table(scores, textures)
    targets = evaluate_targets(figs, locks, scores, textures, tp, cli, sigma_scores)
    L: list[str] = []
    L += ["# cloudmotion benchmark results", "",
          (f"Generated by `benchmarks/run.py{' --quick' if quick else ''}` on "
          f"{state['finished']:%Y-%m-%d %H:%M} UTC in {state['elapsed'] / 60:.1f} min. Do not edit by hand: rerun "
          "(see `benchmarks/README.md`)."), ""]
    if quick:
        L += ["**Reduced run (`--quick`)**: smaller textures, fewer shifts, no 16 Mpx or full-disk run.", ""]
    L += ["## Machine and versions", ""] + [f"- {x}" for x in state["machine"] + state["versions"]] + [""]
    start, end = state.get("versions_start", state["versions"]), state.get("versions_end", state["versions"])
    if start != end:
        if state.get("snapshot"):
            L += [(f"Note: the checkout's cloudmotion/ changed during the run (at start: {start[-1]}; at the end: "
                   f"{end[-1]}). Every figure here is for the copy taken at the start."), ""]
        else:
            L += [(f"**Warning: the code changed during the run** (at start: {start[-1]}; at the end: "
                   f"{end[-1]}). In-process figures use the code as imported at the start, "
                   "command-line runs the code on disk when they ran. Rerun for consistent figures."), ""]

    L += ["## Targets", "", md_table(["target", "verdict", "measured", "miss: figures and cause"],
                                     [[t.name, {True: "met", False: "**missed**", None: "not run"}[t.met], t.figure,
                                       t.cause or ""] for t in targets]), ""]

    L += ["## Headline: cloudmotion against each peer", ""]
    vps = {m: tp.vectors[m] / tp.seconds[m] for m in tp.seconds}
    rows = []
    real = [t.name for t in textures if t.real]
    for m in [CM, *PEER_NAMES]:
        rms_vals = [figs[(t, k, lv, m)]["rms"] for t in real for k in ("fraction", "vortex") for lv in NOISES[:2]
                    if (t, k, lv, m) in figs]
        bias_vals = [figs[(t, k, lv, m)]["worst_bias"] for t in real for k in ("fraction", "vortex")
                     for lv in NOISES[:2] if (t, k, lv, m) in figs]
        cm_rms = [figs[(t, k, lv, CM)]["rms"] for t in real for k in ("fraction", "vortex") for lv in NOISES[:2]
                  if (t, k, lv, m) in figs]
        rms_ratio = np.exp(np.mean(np.log(np.array(rms_vals) / np.array(cm_rms)))) if rms_vals else np.nan
        cli_run = next((r for r in cli.conus if r.label == m), None)
        cm_cli = next((r for r in cli.conus if r.label == CM), None)
        rows.append([m, f4(np.sqrt(np.mean(np.square(rms_vals)))) if rms_vals else "–",
                     f4(max(bias_vals)) if bias_vals else "–", f"{vps[m]:,.0f}",
                     "–" if m == CM else ratio(rms_ratio),
                     "–" if m == CM else ratio(vps[CM] / vps[m]),
                     f"{cli_run.wall:.2f}" if cli_run else "–", f"{cli_run.rss_mib:.0f}" if cli_run else "–",
                     "–" if m == CM or not cli_run or not cm_cli else ratio(cli_run.wall / cm_cli.wall)])
    L += [("Real GOES pairs (fractional sweep and vortex + shear, 0 % and 1 % noise): quadratic mean of the "
          "pair-set RMS errors, worst single-pair |bias| on either axis, in-process speed on the "
          f"{tp.pair}, and a whole command-line run on the CONUS pair. \"RMS ratio\" is the geometric mean over "
          "those pair sets of peer RMS / cloudmotion RMS; \"speed ratio\" is cloudmotion's vectors/s over the peer's."),
          "", md_table(["method", "RMS px", "worst |bias| px", "vectors/s", "RMS ratio (peer/cm)",
                        "speed ratio (cm/peer)", "CLI wall s (CONUS)", "CLI peak RSS MiB", "CLI wall ratio (peer/cm)"],
                       rows), ""]

    L += ["## Method and scoring", "",
          (f"- Grid: {WINDOW} px windows every {STEP} px for every method. cloudmotion centres its grid in the frame "
          "and reports template centres in pixel index coordinates (`MotionField.row/col`). OpenPIV tiles from pixel "
          "0 (top-left aligned); its window centres in pixel index coordinates (first one 15.5) are used as its "
          "origins (OpenPIV's own `x, y` say 16.0, a pixel-edge convention, and `get_coordinates` with its default "
          "`center_on_field=True` shifts them further without moving the windows). scikit-image runs on "
          "cloudmotion's tiles; DIS is sampled bilinearly at cloudmotion's origins."),
          ("- Truth: the known field sampled (bilinear) at each method's own origins. Only *measurable* vectors are "
          "scored: the template moved by the true motion stays inside frame B (2 px margin). Frame B = "
          "`cloudmotion.tools.synthetic.warp(A, field)` (cubic spline, B(p + d(p)) = A(p)); noise is independent Gaussian "
          "noise of the given share of frame A's standard deviation added to both frames."),
          ("- Fields: fractional sweep dx = 1 + f, dy = −(2 + f) for f = 0.0 … 1.0 step 0.1; shifts "
          f"{', '.join(f'({x:+.1f}, {y:+.1f})' for x, y in (LARGE_QUICK if quick else LARGE))} px; vortex + "
          f"shear (`vortex_shear_field`: 4 px at {VORTEX_RADIUS:.0f} px from the frame centre, shear "
          f"{SHEAR_GRADIENT} px/px along rows, drift (1, −0.5) px; the same gradients on every frame size)."),
          ("- Accepted vectors: cloudmotion `flag == 0`; OpenPIV single pass finite values; OpenPIV windef "
          "finite values not replaced by its validation; scikit-image and DIS every finite value. Error statistics "
          "are over accepted vectors; \"flagged\" is the share of measurable vectors not accepted; \"RMS incl. "
          "flagged\" uses every finite estimate."),
          ("- Peers: OpenPIV `extended_search_area_piv` (circular FFT correlation, Gaussian peak fit, vectorised); "
          "OpenPIV `windef.simple_multipass` 64→32→32 px (50 % overlap, symmetric deformation, default "
          "validation); scikit-image `phase_cross_correlation(upsample_factor=20)` per tile; OpenCV DIS, "
          "medium preset, on frames scaled to 8 bit with one joint min/max. Invalid pixels are filled with the "
          "frame mean for the peers (none of them takes a mask)."), "",
          "Sign and origin check (asserted at start-up: a known shift of a 256×256 crop of the real GOES-17 frame):", ""]
    L += [f"- {c}" for c in conventions] + [""]

    L += ["## Accuracy: RMS error (px) of accepted vectors, and peer RMS / cloudmotion RMS", "", head, ""]
    L += ["## Accuracy: all figures", "", ("<details><summary>Bias per axis, 95th percentile, outlier shares, flagged "
          "share, per pair set</summary>"), "", detail, "", "</details>", ""]
    L += ["## Peak locking", "",
          ("Histogram of the fractional parts of the accepted estimates (both axes) on the fractional sweep "
          "f = 0.0 … 0.9, ten bins centred on the true fractional parts: largest deviation of a bin from the mean "
          "count (0 % = flat), then the largest |bias| of a single sweep pair in px."), "", locks_md, "",
          ("Bias curve: mean x error (px) of each sweep pair without noise, dx = 1 + f (the y error mirrors it, "
           "dy = −(2 + f)); an odd curve about f = 0.5 is sub-pixel (interpolation or peak-fit) bias."), "",
          bias_curve_table(scores, textures), ""]
    L += ["## cloudmotion sub-pixel fitters and refinement", "",
          ("RMS (px) of accepted vectors per configuration on the real pairs; worst single-pair |bias| on the "
          "fractional sweep at 0 % and 1 % noise; histogram deviation at 0 % noise; vectors/s on the throughput "
          "pair. The first row is the default."), "", fitter_table(scores, textures, tp), ""]
    if sigma_scores:
        sigma0 = state.get("sigma_default", default_sigma())
        L += [f"### Pre-filter sigma (`sigma=`, default {sigma0})", "",
              ("Default settings otherwise; every other pair of the fractional sweep, and the vortex; \"flagged\" "
               "over both."), "", sigma_table(sigma_scores, sigma0), ""]

    rows = []
    for m in tp.seconds:
        rows.append([m, f"{tp.vectors[m]:,}", f"{tp.seconds[m]:.3f}", f"{tp.vectors[m] / tp.seconds[m]:,.0f}",
                     f4(tp.rms[m]), "–" if m == CM else ratio(vps[CM] / vps[m])])
    L += ["## Throughput (in-process)", "",
          (f"{tp.pair}; best of {1 if quick else 2} runs after a warm-up (one run for windef and scikit-image). "
          "RMS is on this pair, noise free."), "",
          md_table(["method", "vectors", "seconds", "vectors/s", "RMS px", "cm speed / method"], rows), ""]
    if tp.stages:
        total = tp.stages.get("total (profiled)", np.nan)
        L += ["cloudmotion stage times on that pair (cProfile, cumulative): " + "; ".join(
            f"{k} {v:.3f} s" + ("" if k.startswith("total") else f" ({100 * v / total:.0f} %)")
            for k, v in tp.stages.items()) + "."]
    if np.isfinite(tp.masked_vps):
        L += ["", f"cloudmotion on the {tp.masked_pair}: {tp.masked_vps:,.0f} vectors/s."]
    L += [""]

    L += ["## Command-line runs (`/usr/bin/time -v`)", "",
          ("Whole processes: start-up, reading both frames, tracking, writing. cloudmotion runs `cloudmotion track "
          "A.tif B.tif -o out.csv` (its CSV includes lon/lat, u, v, speed, direction). The peers run `run.py "
          "--peer-cli METHOD A.tif B.tif out.csv`: the same reader (rasterio), the method, and a CSV of row, col, "
          "dx, dy. Best wall time of the repeats; peak RSS of that run."), ""]
    rows = []
    if cli.startup:
        rows.append([cli.startup.label, f"{cli.startup.wall:.2f}", f"{cli.startup.rss_mib:.0f}", "–", "–", "–"])
    cm_run = next((r for r in cli.conus if r.label == CM), None)
    for r in cli.conus:
        own = r is cm_run or cm_run is None
        rows.append([f"CONUS {cli.conus_shape[0]}×{cli.conus_shape[1]} vortex pair: {r.label}", f"{r.wall:.2f}",
                     f"{r.rss_mib:.0f}", f"{r.vectors:,}", "–" if own else ratio(r.wall / cm_run.wall),
                     "–" if own else ratio(r.rss_mib / cm_run.rss_mib)])
    if cli.conus_nc:
        r = cli.conus_nc
        rows.append([f"CONUS: {r.label}", f"{r.wall:.2f}", f"{r.rss_mib:.0f}", f"{r.vectors:,}", "–", "–"])
    L += [md_table(["run", "wall s", "peak RSS MiB", "vectors", "wall peer/cm", "RSS peer/cm"], rows), ""]
    if failed:
        L += ["**Runs that failed** (left out of every table and fit):", ""]
        L += [f"- {r.label}: {r.note}" for r in failed] + [""]

    L += ["## Scaling (cloudmotion CLI)", "",
          ("Correlated-noise frames (correlation length 2 px) shifted by (2.6, −1.3) px (exact Fourier shift), "
          "float32 GeoTIFF on the GOES-16 fixed grid with frame times, 32/16 unless stated. \"Median dx, dy\" "
          "checks the output."), ""]
    rows = []
    start = cli.startup.wall if cli.startup else 0.0
    for mp, r in cli.sizes:
        rows.append([r.label, f"{mp:.2f}", f"{r.vectors:,}", f"{r.wall:.2f}", f"{r.vectors / max(r.wall - start, 1e-9):,.0f}",
                     f"{r.rss_mib:.0f}", f"{r.median_dx:+.3f}, {r.median_dy:+.3f}"])
    for _w, r in cli.windows:
        rows.append([r.label, "", f"{r.vectors:,}", f"{r.wall:.2f}", f"{r.vectors / max(r.wall - start, 1e-9):,.0f}",
                     f"{r.rss_mib:.0f}", f"{r.median_dx:+.3f}, {r.median_dy:+.3f}"])
    for r in cli.full_disk:
        rows.append([r.label, f"{5424 * 5424 / 1e6:.2f}", f"{r.vectors:,}", f"{r.wall:.2f}",
                     f"{r.vectors / max(r.wall - start, 1e-9):,.0f}", f"{r.rss_mib:.0f}",
                     f"{r.median_dx:+.3f}, {r.median_dy:+.3f}"])
    L += [md_table(["run", "Mpx", "vectors", "wall s", "vectors/s after start-up", "peak RSS MiB", "median dx, dy"],
                   rows), ""]
    mps = [mp for mp, _ in cli.sizes] + ([5424 * 5424 / 1e6] if cli.full_disk else [])
    walls = [r.wall for _, r in cli.sizes] + ([cli.full_disk[0].wall] if cli.full_disk else [])
    rss = [r.rss_mib for _, r in cli.sizes] + ([cli.full_disk[0].rss_mib] if cli.full_disk else [])
    base_rss = cli.startup.rss_mib if cli.startup else 0.0
    L += [(f"Measured growth with pixel count (least-squares slope of log–log, sizes {', '.join(f'{m:.2f}' for m in mps)} "
          f"Mpx, fill-free): wall time ∝ Mpx^{exponent(mps, walls):.2f} "
          f"(minus the {start:.2f} s start-up: ^{exponent(mps, [w - start for w in walls]):.2f}); "
          f"peak RSS ∝ Mpx^{exponent(mps, rss):.2f} (minus the {base_rss:.0f} MiB start-up RSS: "
          f"^{exponent(mps, [r - base_rss for r in rss]):.2f}).")]
    if len(cli.sizes) >= 2 and cli.sizes[-1][0] >= 4:
        big = [(mp, r) for mp, r in cli.sizes if mp >= 1]
        L += [(f" Between {big[0][0]:.0f} and {big[-1][0]:.0f} Mpx: wall ∝ Mpx^"
              f"{exponent([m for m, _ in big], [r.wall - start for _, r in big]):.2f}, RSS ∝ Mpx^"
              f"{exponent([m for m, _ in big], [r.rss_mib - base_rss for _, r in big]):.2f} (start-up removed).")]
    if cli.windows:
        L += ["", ("Window size (same frames; step = window/2): wall ∝ window^"
              f"{exponent([w for w, _ in cli.windows], [r.wall - start for _, r in cli.windows]):.2f}, vectors ∝ "
              f"window^{exponent([w for w, _ in cli.windows], [r.vectors for _, r in cli.windows]):.2f}, time per "
              "vector ∝ window^"
              f"{exponent([w for w, _ in cli.windows], [(r.wall - start) / r.vectors for _, r in cli.windows]):.2f}.")]
    L += [""]
    if cli.memory:
        rows = [[k, f"{e:.0f}", f"{pk:.0f}", f"{pk - e:+.0f}"] for k, (e, pk) in list(cli.memory.items())[:10]]
        L += [(f"Traced memory (tracemalloc, numpy buffers) in one in-process `track_pair` call on the {cli.memory_pair}, "
              "by function of `cloudmotion.track` (nested calls included; the frames passed in are not counted; "
              "RSS adds the interpreter, libraries and allocator slack):"), "",
              md_table(["function", "held at entry MiB", "peak during MiB", "added MiB"], rows), ""]

    L += ["## Flag quality (cloudmotion)", "",
          ("Real frames, vortex + shear, with injected faults. Over measurable vectors: \"no vector\" = dx/dy NaN "
          "(always flagged if the next column says yes); recall = share of vectors off by > 1 px that are flagged; "
          "kept = share of vectors within 0.2 px that stay good (`flag == 0`); leak = good vectors off by > 1 px. "
           "Patches: unrelated correlated-noise texture pasted into B only. Stripe: NaN rows in B only. Flat "
           "blocks: the same constant value at the same place in A and B (a static featureless area, so templates "
           "straddling a block's edge see a static edge beside moving texture)."), "",
          md_table(["pair", "fault", "vectors", "no vector", "all flagged", "err > 1 px", "recall", "err < 0.2 px",
                    "kept", "0.2–1 px", "good", "leak", "flag bits set (vectors)"],
                   [[r["texture"], r["case"], r["n"], r["none"], "yes" if r["none_flagged"] else "**no**", r["bad"],
                     pct(r["recall"]), r["fine"], pct(r["kept"]), r["mid"], r["good"], r["leak"], r.get("bits", "")]
                    for r in flags]),
          ""]
    return "\n".join(L)


# --------------------------------------------------------------------------- main


def snapshot_package(stack: contextlib.ExitStack) -> None:
    """Measure a copy of the source tree taken now, when cloudmotion is installed from this checkout.

    Others may edit ``cloudmotion/`` while a run takes its minutes; the copy (with
    ``configs/`` as ``cloudmotion.presets``) goes first on ``sys.path`` and ``PYTHONPATH``,
    so the in-process calls and every command-line run use the same code.
    """
    import importlib.util

    spec = importlib.util.find_spec("cloudmotion")
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or origin.parent != (ROOT / "cloudmotion").resolve():
        return  # a regular install: nothing changes under our feet
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cloudmotion-snapshot-")))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "cloudmotion", tmp / "cloudmotion", ignore=ignore)
    if (ROOT / "configs").is_dir() and not (tmp / "cloudmotion" / "presets").exists():
        shutil.copytree(ROOT / "configs", tmp / "cloudmotion" / "presets", ignore=ignore)
    sys.path.insert(0, str(tmp))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")]))
    import cloudmotion

    assert Path(cloudmotion.__file__).resolve().is_relative_to(tmp.resolve()), cloudmotion.__file__
    probe = subprocess.run([*cloudmotion_cmd(), "--version"], capture_output=True, text=True, check=False)
    check = subprocess.run([sys.executable, "-P", "-c", "import cloudmotion; print(cloudmotion.__file__)"],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert probe.returncode == 0 and Path(check).resolve().is_relative_to(tmp.resolve()), (probe.stderr, check)
    log(f"measuring a snapshot of cloudmotion/ taken at start ({tmp})")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced run (a few minutes)")
    p.add_argument("--out", type=Path, default=None,
                   help="report path (default benchmarks/RESULTS.md; with --quick benchmarks/out/RESULTS-quick.md)")
    p.add_argument("--conus", type=Path, default=CONUS_DEFAULT,
                   help="GOES-16 CONUS band-16 L1b netCDF (default ../shared/sample_goes/...)")
    p.add_argument("--workdir", type=Path, default=None, help="folder for the temporary frames (default: a temp dir)")
    p.add_argument("--threads", type=int, default=THREADS, help="threads for every library (default: all cores)")
    p.add_argument("--no-snapshot", action="store_true",
                   help="measure the checkout's cloudmotion/ live instead of a copy taken at start")
    p.add_argument("--report-from", type=Path, default=None, metavar="PICKLE",
                   help="only rebuild the report from the measurements a previous run saved in benchmarks/out/")
    p.add_argument("--peer-cli", nargs=4, metavar=("METHOD", "A", "B", "OUT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every section and write the report."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.peer_cli:
        peer_cli(*args.peer_cli)
        return 0
    if args.report_from:
        with open(args.report_from, "rb") as fh:
            state = pickle.load(fh)  # a file this script wrote
        return write_report(state, args.out)
    t0 = time.perf_counter()
    versions_start = versions()
    stack = contextlib.ExitStack()
    if not args.no_snapshot:
        snapshot_package(stack)
    conus_path = args.conus if args.conus and args.conus.exists() else None
    if conus_path is None:
        log(f"CONUS file not found at {args.conus}: CONUS parts skipped")
    conus = load_conus(conus_path)
    log("checking sign conventions")
    conventions = check_conventions()
    textures = make_textures(args.quick, conus)
    scores = accuracy(textures, args.quick)
    sigma_scores = prefilter_sweep(textures, args.quick)
    log("throughput")
    tp = throughput(conus, args.quick)
    log("flag quality")
    flags = flag_quality(textures, args.quick)
    with stack:
        if args.workdir:
            work = args.workdir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cloudmotion-bench-")))
        cli = cli_runs(conus, conus_path, work, args.quick)
    state = {"quick": args.quick, "conventions": conventions, "textures": textures, "scores": scores,
             "sigma_scores": sigma_scores, "tp": tp, "cli": cli, "flags": flags,
             "elapsed": time.perf_counter() - t0, "finished": dt.datetime.now(dt.UTC),
             "machine": machine_info(), "versions_end": versions(), "sigma_default": default_sigma(),
             "versions_start": versions_start, "snapshot": not args.no_snapshot}
    state["versions"] = versions_start if state["snapshot"] else state["versions_end"]
    pkl = HERE / "out" / ("state-quick.pkl" if args.quick else "state.pkl")
    pkl.parent.mkdir(parents=True, exist_ok=True)
    with open(pkl, "wb") as fh:
        pickle.dump(state, fh)
    log(f"measurements saved to {pkl} (rebuild the report with --report-from)")
    return write_report(state, args.out)


def write_report(state: dict, out: Path | None) -> int:
    """Write the Markdown report from the measurements."""
    out = out or (HERE / "out" / "RESULTS-quick.md" if state["quick"] else HERE / "RESULTS.md")
    report = build_report(state)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
