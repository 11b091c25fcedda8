"""A DMW-shaped netCDF product: one pair's winds as a 1-D ``nMeasures`` table (``-o winds.dmw.nc``).

Variable names follow the GOES-R Product User Guide, vol. 5 (L2+), for the ABI Derived
Motion Winds product (ABI-L2-DMW): ``lat``, ``lon``, ``wind_speed``, ``wind_direction``
(meteorological, where the wind comes from), ``pressure`` (hPa), ``temperature`` (K),
``DQF`` (0 good, 1 flagged) on ``nMeasures``, and ``time`` with ``time_bounds`` in seconds
since 2000-01-01 12:00:00 (J2000, as every GOES-R product). Additions, named for what they
are: ``eastward_wind``, ``northward_wind``, ``height``, ``expected_error`` (px),
``expected_error_speed``, ``quality_index`` (0-100), ``flag`` (the full bitmask),
``lat_apparent``, ``lon_apparent`` and ``row``, ``col`` (the vector's origin in frame A, to
join with the CSV). Only measured vectors with a position and a speed are written. With
``--parallax``, ``lat``/``lon`` are the corrected positions where a height was assigned.
Needs the ``netcdf`` extra.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.gdal_errors import capture_write_errors, verify_netcdf
from cloudmotion.formats.netcdf import require_netcdf
from cloudmotion.formats.writers import Writer
from cloudmotion.model import Vectors
from cloudmotion.qc.checks import Flag

__all__ = ["WRITER", "write_dmw"]

_J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
_FILL = np.float32(-999.0)


def _variables(cols: dict, keep: np.ndarray) -> dict[str, tuple[np.ndarray, dict]]:
    """name -> (values, attributes) of the per-measure variables."""
    corrected = np.isfinite(cols["lat_corrected"]) & np.isfinite(cols["lon_corrected"])
    lat = np.where(corrected, cols["lat_corrected"], cols["lat"])
    lon = np.where(corrected, cols["lon_corrected"], cols["lon"])
    k = lambda name: cols[name][keep]
    return {
        "lat": (
            lat[keep],
            {
                "standard_name": "latitude",
                "units": "degrees_north",
                "long_name": "latitude of the wind (parallax-corrected where a height is known)",
            },
        ),
        "lon": (
            lon[keep],
            {
                "standard_name": "longitude",
                "units": "degrees_east",
                "long_name": "longitude of the wind (parallax-corrected where a height is known)",
            },
        ),
        "wind_speed": (
            k("speed"),
            {"standard_name": "wind_speed", "units": "m s-1", "long_name": "derived motion wind speed"},
        ),
        "wind_direction": (
            k("direction"),
            {
                "standard_name": "wind_from_direction",
                "units": "degree",
                "long_name": "derived motion wind direction, where the wind comes from, clockwise from north",
            },
        ),
        "eastward_wind": (k("u"), {"standard_name": "eastward_wind", "units": "m s-1"}),
        "northward_wind": (k("v"), {"standard_name": "northward_wind", "units": "m s-1"}),
        "pressure": (
            k("pressure"),
            {
                "standard_name": "air_pressure",
                "units": "hPa",
                "long_name": "pressure of the cloud top (height assignment)",
            },
        ),
        "temperature": (
            k("ctt"),
            {
                "standard_name": "air_temperature",
                "units": "K",
                "long_name": "cloud-top temperature (EBBT, mean of the template's coldest pixels)",
            },
        ),
        "height": (
            k("height"),
            {"standard_name": "height_above_mean_sea_level", "units": "m", "long_name": "cloud-top height"},
        ),
        "expected_error": (k("ee"), {"units": "1", "long_name": "expected error of the displacement, pixels"}),
        "expected_error_speed": (k("ee_speed"), {"units": "m s-1", "long_name": "expected error of the speed"}),
        "quality_index": (
            k("quality"),
            {"units": "1", "long_name": "quality index 0-100", "valid_range": np.array([0, 100], dtype=np.float32)},
        ),
        "lat_apparent": (k("lat"), {"units": "degrees_north", "long_name": "latitude of the vector origin as seen"}),
        "lon_apparent": (k("lon"), {"units": "degrees_east", "long_name": "longitude of the vector origin as seen"}),
        "row": (k("row"), {"units": "1", "long_name": "vector origin, row index in frame A"}),
        "col": (k("col"), {"units": "1", "long_name": "vector origin, column index in frame A"}),
    }


def write_dmw(path: str, vectors: Vectors) -> None:
    """Write one pair's measured winds as a DMW-shaped netCDF-4 file, atomically.

    Parameters
    ----------
    path : str
        Destination, ``*.dmw.nc``.
    vectors : Vectors
        The pair, geolocated, with times (``extra`` may name the source frames, band and settings).
    """
    nc4 = require_netcdf(path)
    cols = vectors.values
    keep = np.isfinite(cols["speed"]) & np.isfinite(cols["lat"]) & np.isfinite(cols["lon"])
    variables = _variables(cols, keep)

    def verify(tmp: str) -> None:
        verify_netcdf(tmp, path, variables=(*variables, "DQF"))

    with atomic_path(path, verify) as tmp, capture_write_errors(path):
        ds = nc4.Dataset(tmp, "w", format="NETCDF4", clobber=True)
        try:
            _attributes(ds, vectors, int(keep.sum()))
            ds.createDimension("nMeasures", int(keep.sum()))
            ds.createDimension("number_of_time_bounds", 2)
            for name, (values, attrs) in variables.items():
                v = ds.createVariable(name, "f4", ("nMeasures",), fill_value=_FILL, zlib=True)
                v.setncatts(attrs)
                if name not in ("lat", "lon", "row", "col", "lat_apparent", "lon_apparent"):
                    v.coordinates = "lat lon"
                v[:] = np.where(np.isfinite(values), values, _FILL).astype(np.float32)
            dqf = ds.createVariable("DQF", "u1", ("nMeasures",), fill_value=np.uint8(255), zlib=True)
            dqf.setncatts(
                {
                    "standard_name": "status_flag",
                    "long_name": "derived motion wind data quality flag",
                    "flag_values": np.array([0, 1], dtype=np.uint8),
                    "flag_meanings": "good_quality_qc flagged_qc",
                    "coordinates": "lat lon",
                }
            )
            dqf[:] = (cols["flag"][keep] != 0).astype(np.uint8)
            fl = ds.createVariable("flag", "i4", ("nMeasures",), zlib=True)
            fl.setncatts(
                {
                    "long_name": "cloudmotion flag bitmask, 0 = good",
                    "flag_masks": np.array([int(b) for b in Flag], dtype=np.int32),
                    "flag_meanings": " ".join(b.name.lower() for b in Flag),
                }
            )
            fl[:] = cols["flag"][keep].astype(np.int32)
            if vectors.time_a is not None and vectors.time_b is not None:
                ta, tb = ((t - _J2000).total_seconds() for t in (vectors.time_a, vectors.time_b))
                t = ds.createVariable("time", "f8")
                t.setncatts(
                    {
                        "standard_name": "time",
                        "units": "seconds since 2000-01-01 12:00:00",
                        "axis": "T",
                        "bounds": "time_bounds",
                        "long_name": "mid-point of the image pair",
                    }
                )
                t.assignValue(0.5 * (ta + tb))
                tbv = ds.createVariable("time_bounds", "f8", ("number_of_time_bounds",))
                tbv.setncatts(
                    {"units": "seconds since 2000-01-01 12:00:00", "long_name": "scan start of frame A and frame B"}
                )
                tbv[:] = [ta, tb]
        finally:
            ds.close()


def _attributes(ds, vectors: Vectors, n: int) -> None:
    """The global attributes: conventions, the product, the source frames, band and settings."""
    extra = vectors.extra or {}
    ds.Conventions = "CF-1.8"
    ds.title = "Derived motion winds (DMW-shaped)"
    ds.summary = (
        "Cloud motion vectors from a pair of geostationary images with cloud-top temperature, "
        "pressure and height from a climatological profile; variable names after the GOES-R PUG "
        "ABI-L2-DMW product"
    )
    ds.source = "cloudmotion: coarse-to-fine masked normalised cross-correlation and float Lucas-Kanade"
    ds.cdm_data_type = "Point"
    ds.featureType = "point"
    ds.number_of_measures = n
    ds.source_frames = " ".join(extra.get("frames", ())) or "unknown"
    ds.band = str(extra.get("band", "unknown"))
    ds.quantity = str(extra.get("quantity", "unknown"))
    ds.profile = str(extra.get("profile", "unknown"))
    ds.settings = json.dumps(extra.get("settings", {}), sort_keys=True, default=str)
    ds.window_px = vectors.window if vectors.window is not None else -1
    ds.step_px = vectors.step if vectors.step is not None else -1
    for key, t in (("time_coverage_start", vectors.time_a), ("time_coverage_end", vectors.time_b)):
        if t is not None:
            ds.setncattr(key, t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


WRITER = Writer(
    name="dmw",
    suffixes=(".dmw.nc",),
    write=write_dmw,
    extra="netcdf",
    require=require_netcdf,
    description="DMW-shaped 1-D nMeasures product after the GOES-R PUG",
)
