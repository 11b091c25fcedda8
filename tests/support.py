"""Shared test data and helpers: the sample frames, a frame writer, times and the one-line error check.

Fixtures live in conftest.py; tests import these plain names from here.
"""

from __future__ import annotations

import glob
import os
from datetime import UTC, datetime

import numpy as np
import rasterio
from affine import Affine

from cloudmotion.tools import synth

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = sorted(glob.glob(os.path.join(ROOT, "sample_data", "*.tif")))
SAMPLE_NC = os.path.join(
    ROOT, "sample_data", "OR_ABI-L1b-RadM1-M6C13_G17_s20193002000275_e20193002000344_c20193002000386.nc"
)
"""The real GOES-17 M1 band-13 L1b netCDF file (shipped; frame 0 of SAMPLE is its radiance)."""

# GOES-16 fixed grid (geostationary, sweep x), as GDAL builds it from the ABI netCDF
GOES16_WKT = synth.GOES16_WKT
PIXEL = synth.PIXEL_M  # ABI 2 km pixel on the fixed grid, metres


def write_frame(path, data, *, crs=GOES16_WKT, transform=None, time=None, nodata=np.nan, dtype="float32"):
    """Write a single-band GeoTIFF frame; ``time`` goes to TIFFTAG_DATETIME."""
    rows, cols = data.shape
    if transform is None and crs is not None:
        transform = Affine(PIXEL, 0, -cols / 2 * PIXEL, 0, -PIXEL, rows / 2 * PIXEL)  # centred on nadir
    profile = {"driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": dtype, "nodata": nodata}
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(np.asarray(data).astype(dtype), 1)
        if time is not None:
            ds.update_tags(TIFFTAG_DATETIME=f"{time:%Y:%m:%d %H:%M:%S}")
    return str(path)


def goes_copy(folder, *, band: int = 13, sector: str = "M1", sat: str = "G17", start: str = "20193002000275") -> str:
    """A copy of SAMPLE_NC under another GOES name (band, sector, satellite, start stamp)."""
    import shutil

    name = f"OR_ABI-L1b-Rad{sector}-M6C{band:02d}_{sat}_s{start}_e{start[:-1]}9_c{start[:-1]}9.nc"
    path = os.path.join(str(folder), name)
    shutil.copy(SAMPLE_NC, path)
    os.chmod(path, 0o644)
    return path


def t0(minutes: float = 0.0) -> datetime:
    from datetime import timedelta

    return datetime(2020, 1, 4, 3, 0, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def one_line_error(err, *needles):
    """Assert a single stderr line, without traceback, containing every needle; return it."""
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]
