"""CONUS-size test pairs of real GOES-16 band-16 texture warped by a known field, and their scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["make_pair", "read_conus", "score", "tile_texture", "vortex"]


def read_conus(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Band-16 radiance (scale/offset applied) and its validity, through GDAL's netCDF driver."""
    import rasterio

    with rasterio.open(f"NETCDF:{path}:Rad") as ds:
        data = ds.read(1, masked=True)
        values = np.ma.filled(data.astype(np.float64), np.nan) * ds.scales[0] + ds.offsets[0]
    valid = ~np.ma.getmaskarray(data) & np.isfinite(values)
    return values, valid


def vortex(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vortex (4 px at 120 px), shear 0.006 px/px, drift (1, -0.5) px: benchmarks/run.py's field."""
    from cloudmotion.tools.known_motion import vortex_shear_field

    return vortex_shear_field(shape, strength=4.0, radius=120.0, shear=0.006 * shape[0] / 2.0, drift=(1.0, -0.5))


def make_pair(image: np.ndarray, valid: np.ndarray, field, iterations: int = 8) -> tuple[np.ndarray, np.ndarray]:
    from cloudmotion.tools.known_motion import warp

    filled = np.where(valid, image, np.nanmean(image[valid]))
    b = warp(filled, *field, iterations=iterations)
    a = image.copy()
    a[~valid] = np.nan
    b[~valid] = np.nan
    return a.astype(np.float32), b.astype(np.float32)


def score(mf, field) -> dict:
    from scipy import ndimage

    r, c = mf.row.ravel(), mf.col.ravel()
    tx = ndimage.map_coordinates(field[0], [r, c], order=1, mode="nearest").reshape(mf.row.shape)
    ty = ndimage.map_coordinates(field[1], [r, c], order=1, mode="nearest").reshape(mf.row.shape)
    e = np.hypot(mf.dx - tx, mf.dy - ty)[mf.good]
    return {"rms": float(np.sqrt(np.mean(e**2))), "good": float(mf.good.mean()), "vectors": int(mf.dx.size)}


def tile_texture(image: np.ndarray, valid: np.ndarray, side: int) -> np.ndarray:
    """Real texture on a side x side frame: the valid CONUS block mirrored and tiled."""
    r0 = next(r for r in range(valid.shape[0]) if valid[r:].all())
    c0 = next(c for c in range(valid.shape[1]) if valid[:, c:].all())
    block = image[r0:, c0:]
    block = np.concatenate([block, block[::-1]], axis=0)
    block = np.concatenate([block, block[:, ::-1]], axis=1)
    reps = (-(-side // block.shape[0]), -(-side // block.shape[1]))
    return np.tile(block, reps)[:side, :side]
