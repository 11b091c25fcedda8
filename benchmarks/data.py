"""Frames and known motion: textures, fields, warps, noise, injected faults, GOES frames, GeoTIFFs.

The textures, fields and the warp come from :mod:`cloudmotion.tools.known_motion`, the
GOES-16 fixed grid from :mod:`cloudmotion.tools.synth`. Frames are read here in float64
with rasterio (band 1, scale and offset applied) rather than with the package's reader,
which stores float32: the accuracy pairs keep the precision of the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import SAMPLE_TIF


@dataclass
class Texture:
    """A frame A for the accuracy pairs."""

    name: str
    image: np.ndarray
    real: bool


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


def sample_frame() -> np.ndarray:
    """The GOES-17 M1 band-13 sample frame of ``sample_data/``."""
    return read_raster(str(SAMPLE_TIF))[0]


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
    from cloudmotion.tools.known_motion import correlated_noise

    n = 256 if quick else 512
    out = [Texture("noise, corr 1.5 px", correlated_noise((n, n), 1.5, seed=11), False)]
    if not quick:
        out.append(Texture("noise, corr 4 px", correlated_noise((n, n), 4.0, seed=12), False))
    out.append(Texture("GOES-17 M1 C13", sample_frame(), True))
    if conus is not None:
        rs, cs = conus_valid_crop(conus)
        side = 384 if quick else 768
        r0 = rs.start + (rs.stop - rs.start - side) // 2
        c0 = cs.start + (cs.stop - cs.start - side) // 2
        crop = conus[0][r0 : r0 + side, c0 : c0 + side]
        out.append(Texture(f"GOES-16 CONUS C16 crop {side}", np.array(crop), True))
    return out


def vortex(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vortex (4 px at 120 px from the centre) plus shear (0.006 px/px) plus drift (1, -0.5) px.

    The same gradients on every frame size, as in the test suite's 500 x 500 case.
    """
    from cloudmotion.tools.known_motion import vortex_shear_field

    shear = SHEAR_GRADIENT * shape[0] / 2.0
    return vortex_shear_field(shape, strength=4.0, radius=VORTEX_RADIUS, shear=shear, drift=(1.0, -0.5))


def vortex_motion(shape: tuple[int, int], label: str = "vortex+shear") -> Motion:
    """The vortex plus shear of :func:`vortex` as a :class:`Motion`."""
    return Motion("vortex", label, *vortex(shape), uniform=False)


def make_motions(shape: tuple[int, int], quick: bool) -> list[Motion]:
    """Fractional sweep dx = 1 + f, dy = -(2 + f); large shifts; vortex plus shear."""
    from cloudmotion.tools.known_motion import uniform_field

    out = []
    for f in FRACTIONS:
        out.append(Motion("fraction", f"f={f:.1f}", *uniform_field(shape, 1.0 + f, -(2.0 + f)), frac=float(f)))
    for sx, sy in LARGE_QUICK if quick else LARGE:
        out.append(Motion("large", f"({sx:+.1f}, {sy:+.1f})", *uniform_field(shape, sx, sy)))
    out.append(vortex_motion(shape))
    return out


def warp_pair(image: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame B from A and a known field (one fixed-point iteration is exact when uniform)."""
    from cloudmotion.tools.known_motion import warp

    return warp(image, motion.dx, motion.dy, iterations=1 if motion.uniform else 8)


def warp_masked(image: np.ndarray, valid: np.ndarray, motion: Motion) -> np.ndarray:
    """Frame B of a frame with invalid pixels: warped with them at the mean, then NaN where A's are."""
    b = warp_pair(np.where(valid, image, np.nanmean(image)), motion)
    b[~valid] = np.nan
    return b


def add_noise(a: np.ndarray, b: np.ndarray, level: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`cloudmotion.tools.known_motion.add_noise` (imported late: threads are set up first)."""
    from cloudmotion.tools.known_motion import add_noise as library_add_noise

    return library_add_noise(a, b, level, seed)


def fourier_shift(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Exact periodic sub-pixel shift of a frame: B(p + d) = A(p)."""
    ky = np.fft.fftfreq(img.shape[0])[:, None]
    kx = np.fft.rfftfreq(img.shape[1])[None, :]
    ramp = np.exp(-2j * np.pi * (kx * dx + ky * dy))
    return np.fft.irfft2(np.fft.rfft2(img) * ramp, s=img.shape)


def fault_cases(img: np.ndarray) -> dict:
    """Injected faults for the flag-quality section: name -> fault(a, b) -> (a, b).

    Unrelated correlated-noise patches pasted into B, a NaN stripe in B, flat blocks at
    the same place in both frames, 3 % noise, and all four together.
    """
    from cloudmotion.tools.known_motion import correlated_noise

    shape = img.shape
    rng = np.random.default_rng(99)
    mean, sd = float(img.mean()), float(img.std())

    def patches(a, b):
        b = b.copy()
        for k in range(6):
            r, c = rng.integers(40, shape[0] - 90), rng.integers(40, shape[1] - 90)
            b[r : r + 48, c : c + 48] = mean + sd * correlated_noise((48, 48), 2.0, seed=500 + k)
        return a, b

    def stripe(a, b):
        b = b.copy()
        r = shape[0] // 3
        b[r : r + 24, :] = np.nan
        return a, b

    def flat(a, b):
        a, b = a.copy(), b.copy()
        for r, c in ((shape[0] // 5, shape[1] // 5), (shape[0] * 3 // 5, shape[1] * 3 // 5)):
            a[r : r + 80, c : c + 80] = mean
            b[r : r + 80, c : c + 80] = mean
        return a, b

    def noisy(a, b):
        return add_noise(a, b, 0.03, seed=77)

    def combined(a, b):
        for fault in (patches, stripe, flat, noisy):
            a, b = fault(a, b)
        return a, b

    return {
        "unrelated patches in B (6 x 48 px)": patches,
        "NoData stripe in B (24 rows)": stripe,
        "flat constant blocks (2 x 80 px)": flat,
        "3 % noise": noisy,
        "all four together": combined,
    }


def write_tif(
    path: Path, data: np.ndarray, *, crs_wkt: str | None = None, transform=None, when: dt.datetime | None = None
) -> str:
    """A single-band float32 GeoTIFF frame (NaN NoData, uncompressed), optionally timed.

    Without ``crs_wkt`` the frame goes on the GOES-16 fixed grid
    (:data:`cloudmotion.tools.synth.GOES16_WKT`), centred on the sub-satellite point.
    """
    import rasterio
    from affine import Affine

    from cloudmotion.tools.synth import GOES16_WKT, PIXEL_M

    rows, cols = data.shape
    if crs_wkt is None:
        crs_wkt = GOES16_WKT
        transform = Affine(PIXEL_M, 0, -cols / 2 * PIXEL_M, 0, -PIXEL_M, rows / 2 * PIXEL_M)
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "nodata": np.nan,
        "crs": crs_wkt,
        "transform": transform,
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data.astype(np.float32), 1)
        if when is not None:
            ds.update_tags(TIFFTAG_DATETIME=f"{when:%Y:%m:%d %H:%M:%S}")
    return str(path)
