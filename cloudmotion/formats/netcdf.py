"""CF-1.8 netCDF vector grids (with netCDF4, a dependency of cloudmotion).

Variables on (time, y, x): ``eastward_wind``, ``northward_wind``, ``wind_speed``,
``wind_from_direction`` with their CF standard names, plus ``dx``, ``dy``, ``corr``,
``quality`` and ``flag`` (with ``flag_masks``/``flag_meanings``); ``lon``/``lat`` are
auxiliary coordinates, ``x``/``y`` projection coordinates of the vector origins with a
``crs`` grid mapping from pyproj, and ``time`` is the middle of the pair with bounds
[time A, time B].
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from cloudmotion.errors import missing_extra
from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.gdal_errors import capture_write_errors, verify_netcdf
from cloudmotion.formats.writers import Writer
from cloudmotion.model import Vectors
from cloudmotion.qc.checks import Flag

__all__ = ["WRITER", "require_netcdf", "write_netcdf"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WINDS = {
    "eastward_wind": ("u", "eastward_wind", "m s-1", "eastward wind from cloud motion"),
    "northward_wind": ("v", "northward_wind", "m s-1", "northward wind from cloud motion"),
    "wind_speed": ("speed", "wind_speed", "m s-1", "wind speed from cloud motion (geodesic)"),
    "wind_from_direction": (
        "direction",
        "wind_from_direction",
        "degree",
        "direction the wind blows from, clockwise from north",
    ),
}
_EXTRA = {
    "dx": ("1", "displacement along columns, pixels (+ = increasing column)"),
    "dy": ("1", "displacement along rows, pixels (+ = increasing row)"),
    "corr": ("1", "peak normalised correlation coefficient"),
    "quality": ("1", "quality index 0-100"),
    "ee": ("1", "expected error, pixels (RMS of |d - d_true| at this ee)"),
    "ee_speed": ("m s-1", "expected error of the wind speed"),
    "cloud_fraction": ("1", "cloudy share of the template: mean cloud probability 0-1"),
}


def require_netcdf(path: str):
    """Import netCDF4 or raise a one-line UsageError naming the output and the extra."""
    try:
        import netCDF4
    except ImportError:
        raise missing_extra(f"-o {path}: netCDF output", "netcdf", "netCDF4") from None
    return netCDF4


def write_netcdf(path: str, result: Vectors) -> None:
    """Write one pair's vector grid as CF-1.8 netCDF-4, atomically.

    Parameters
    ----------
    path : str
        Destination ``.nc`` file.
    result : Vectors
        The pair, with geolocation and times.
    """
    nc4 = require_netcdf(path)

    def verify(tmp: str) -> None:
        verify_netcdf(tmp, path, variables=("x", "y", *_WINDS, *_EXTRA, "flag"))

    # HDF5 prints its error stack on fd 2 and a full disk may only show at close
    with atomic_path(path, verify) as tmp, capture_write_errors(path):
        ds = nc4.Dataset(tmp, "w", format="NETCDF4", clobber=True)
        try:
            _header(ds, result)
            coords, grid_mapping = _coordinates(ds, result)
            _variables(ds, result, coords, grid_mapping)
        finally:
            ds.close()


def _header(ds, result: Vectors) -> None:
    """Global attributes (provenance: version and settings), dimensions and the time axis."""
    from cloudmotion.settings.provenance import provenance, settings_json

    record = result.extra.get("provenance") or provenance()
    ny, nx = result.shape
    ds.Conventions = "CF-1.8"
    ds.title = "Cloud motion vectors"
    ds.source = (
        f"cloudmotion {record['version']}: normalised cross-correlation at every lag (coarse-to-fine) "
        "and float Lucas-Kanade"
    )
    ds.cloudmotion_version = record["version"]
    ds.cloudmotion_settings = settings_json(record)  # the settings used, as JSON
    ds.window_px = result.window
    ds.step_px = result.step
    ds.createDimension("time", 1)
    ds.createDimension("nv", 2)
    ds.createDimension("y", ny)
    ds.createDimension("x", nx)
    if result.time_a is not None and result.time_b is not None:
        ta = (result.time_a - _EPOCH).total_seconds()
        tb = (result.time_b - _EPOCH).total_seconds()
        t = ds.createVariable("time", "f8", ("time",))
        t.setncatts(
            {
                "standard_name": "time",
                "units": "seconds since 1970-01-01 00:00:00",
                "calendar": "standard",
                "bounds": "time_bnds",
            }
        )
        t[:] = [0.5 * (ta + tb)]
        tbv = ds.createVariable("time_bnds", "f8", ("time", "nv"))
        tbv[:] = [[ta, tb]]


def _coordinates(ds, result: Vectors) -> tuple[str | None, str | None]:
    """Projection x/y (or pixel) coordinates, the CF grid mapping and 2-D lon/lat; their names."""
    from pyproj import CRS

    ny, nx = result.shape
    cols = result.values
    projected = result.transform is not None
    x = ds.createVariable("x", "f8", ("x",))
    y = ds.createVariable("y", "f8", ("y",))
    x[:] = cols["x"].reshape(ny, nx)[0] if projected else cols["col"].reshape(ny, nx)[0]
    y[:] = cols["y"].reshape(ny, nx)[:, 0] if projected else cols["row"].reshape(ny, nx)[:, 0]
    grid_mapping = None
    if projected and result.crs_wkt:
        crs = CRS.from_wkt(result.crs_wkt)
        cf = crs.to_cf()
        gm = ds.createVariable("crs", "i4")
        gm.setncatts({k: v for k, v in cf.items() if v is not None})
        grid_mapping = "crs"
        for var, axis in ((x, "x"), (y, "y")):
            std = "projection_x_coordinate" if axis == "x" else "projection_y_coordinate"
            if cf.get("grid_mapping_name") == "latitude_longitude":
                std = "longitude" if axis == "x" else "latitude"
            var.setncatts(
                {
                    "standard_name": std,
                    "units": crs.axis_info[0].unit_name if crs.axis_info else "m",
                    "axis": axis.upper(),
                }
            )
    else:
        x.long_name, y.long_name = "pixel column of the vector origin", "pixel row of the vector origin"
    coords = None
    if np.isfinite(cols["lon"]).any():
        for name, std, units in (("lon", "longitude", "degrees_east"), ("lat", "latitude", "degrees_north")):
            v = ds.createVariable(name, "f8", ("y", "x"), fill_value=np.nan)
            v.setncatts({"standard_name": std, "units": units})
            v[:] = cols[name].reshape(ny, nx)
        coords = "lon lat"
    return coords, grid_mapping


def _variables(ds, result: Vectors, coords: str | None, grid_mapping: str | None) -> None:
    """The winds (CF standard names), the other gridded columns and the flag bitmask."""
    ny, nx = result.shape
    cols = result.values
    dims = ("time", "y", "x")

    def add(name: str, values: np.ndarray, attrs: dict) -> None:
        v = ds.createVariable(name, "f4", dims, fill_value=np.float32(np.nan), zlib=True)
        v.setncatts(attrs)
        if coords:
            v.coordinates = coords
        if grid_mapping:
            v.grid_mapping = grid_mapping
        v[:] = values.reshape(1, ny, nx).astype(np.float32)

    for name, (col, std, units, long_name) in _WINDS.items():
        add(name, cols[col], {"standard_name": std, "units": units, "long_name": long_name})
    for name, (units, long_name) in _EXTRA.items():
        add(name, cols[name], {"units": units, "long_name": long_name})
    fl = ds.createVariable("flag", "i4", dims, zlib=True)
    fl.setncatts(
        {
            "long_name": "quality flag bitmask, 0 = good",
            "flag_masks": np.array([int(b) for b in Flag], dtype=np.int32),
            "flag_meanings": " ".join(b.name.lower() for b in Flag),
        }
    )
    if coords:
        fl.coordinates = coords
    fl[:] = cols["flag"].reshape(1, ny, nx).astype(np.int32)


WRITER = Writer(
    name="nc",
    suffixes=(".nc",),
    write=write_netcdf,
    extra="netcdf",
    require=require_netcdf,
    description="CF-1.8 grid with standard names",
)
