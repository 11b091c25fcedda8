"""Tiny GOES ABI L1b-like netCDF files for the calibration and AMV tests (netCDF4 builds them)."""

from __future__ import annotations

import numpy as np

SCALE_RAD = 5.6e-5  # ABI 2 km fixed-grid pixel, radians


def write_l1b(
    path,
    rad: np.ndarray,
    *,
    band: int = 13,
    planck=(10835.6, 1394.12, 0.07786, 0.99974),
    kappa0: float | None = None,
    scale: float = 0.04572892,
    offset: float = -1.6443,
    lon0: float = -75.0,
    start: str = "2020-01-04T03:16:18.2Z",
    y0: float = 0.0,
) -> str:
    """Write ``rad`` (radiance, physical units) as a GOES L1b ``Rad`` variable with its constants.

    ``planck`` = (fk1, fk2, bc1, bc2) for an infrared band, or None (fill -999); ``kappa0``
    for a visible band (None: fill -999). The grid is centred on the sub-satellite point's meridian,
    ``y0`` radians north of the equator (0.1 rad is about 36.6 degrees north).
    """
    import netCDF4

    rows, cols = rad.shape
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", rows)
        ds.createDimension("x", cols)
        ds.time_coverage_start = start
        for name, n, sign, centre in (("x", cols, 1, 0.0), ("y", rows, -1, y0)):
            v = ds.createVariable(name, "i2", (name,))
            first = centre - sign * (n - 1) / 2.0 * SCALE_RAD
            v.setncatts(
                {
                    "scale_factor": np.float32(sign * SCALE_RAD),
                    "add_offset": np.float32(first),
                    "units": "rad",
                    "axis": name.upper(),
                    "standard_name": f"projection_{name}_coordinate",
                }
            )
            v[:] = first + sign * np.arange(n) * SCALE_RAD
        gm = ds.createVariable("goes_imager_projection", "i4")
        gm.setncatts(
            {
                "grid_mapping_name": "geostationary",
                "perspective_point_height": 35786023.0,
                "semi_major_axis": 6378137.0,
                "semi_minor_axis": 6356752.31414,
                "inverse_flattening": 298.2572221,
                "latitude_of_projection_origin": 0.0,
                "longitude_of_projection_origin": lon0,
                "sweep_angle_axis": "x",
            }
        )
        r = ds.createVariable("Rad", "i2", ("y", "x"), fill_value=np.int16(4095))
        r.setncatts(
            {
                "scale_factor": np.float32(scale),
                "add_offset": np.float32(offset),
                "units": "mW m-2 sr-1 (cm-1)-1" if planck else "W m-2 sr-1 um-1",
                "standard_name": "toa_outgoing_radiance_per_unit_wavenumber"
                if planck
                else "toa_outgoing_radiance_per_unit_wavelength",
                "grid_mapping": "goes_imager_projection",
                "_Unsigned": "true",
            }
        )
        r.set_auto_scale(True)
        r[:] = rad
        values = dict(zip(("planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2"), planck or (None,) * 4, strict=True))
        values["kappa0"] = kappa0
        for key, value in values.items():
            v = ds.createVariable(key, "f4", (), fill_value=np.float32(-999.0))
            v[...] = -999.0 if value is None else value
        b = ds.createVariable("band_id", "i1", ("band",) if "band" in ds.dimensions else ())
        b[...] = band
    return str(path)


def goes_name(band: int, minute: int, sat: str = "G16") -> str:
    """A GOES ABI L1b file name of a Mesoscale-1 frame at 03:MM:00 on 2020-01-04."""
    return f"OR_ABI-L1b-RadM1-M6C{band:02d}_{sat}_s202000403{minute:02d}000_e202000403{minute:02d}300_c202000403{minute:02d}400.nc"
