"""Rebuild the sample frames from the real GOES-17 netCDF file shipped beside them.

    python sample_data/make_sample_data.py [PATH_TO_OR_ABI-L1b-RadM1-...nc]

Frame 0 is the file's radiance (scale and offset applied) as float32; frames 1 and 2
are frame 0 moved by 1x and 2x the displacement field documented in README.md here.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import rasterio

from cloudmotion.tools.known_motion import vortex_shear_field, warp

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "OR_ABI-L1b-RadM1-M6C13_G17_s20193002000275_e20193002000344_c20193002000386.nc")
START = datetime(2019, 10, 27, 20, 0, 27, 500000, tzinfo=UTC)
STEP = timedelta(minutes=5)
# the documented motion per 5 minutes (see README.md)
FIELD = {"strength": 2.0, "radius": 100.0, "shear": 1.0, "drift": (2.5, -1.0)}


def main(source: str = SOURCE) -> None:
    with rasterio.open(f"NETCDF:{source}:Rad") as ds:
        rad = ds.read(1).astype(np.float64) * ds.scales[0] + ds.offsets[0]
        profile = {
            "driver": "GTiff",
            "width": ds.width,
            "height": ds.height,
            "count": 1,
            "dtype": "float32",
            "crs": ds.crs.to_wkt(),
            "transform": ds.transform,
            "nodata": float("nan"),
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "compress": "deflate",
            "predictor": 3,
        }
    dx, dy = vortex_shear_field(rad.shape, **FIELD)
    for k in range(3):
        t = START + k * STEP
        frame = rad if k == 0 else warp(rad, k * dx, k * dy)
        stamp = f"{t:%Y}{t.timetuple().tm_yday:03d}{t:%H%M%S}{t.microsecond // 100000}"
        path = os.path.join(HERE, f"G17_M1_C13_s{stamp}.tif")
        with rasterio.open(path, "w", **profile) as out:
            out.write(frame.astype(np.float32), 1)
            out.set_band_description(1, "Rad: ABI band 13 radiance, mW m-2 sr-1 (cm-1)-1")
            out.update_tags(TIFFTAG_DATETIME=f"{t:%Y:%m:%d %H:%M:%S}")
        print(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
