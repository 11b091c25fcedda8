"""GOES ABI netCDF frames: the image variable (``Rad``, ``CMI``, ``CMI_C##``) and its DQF.

``file.nc`` picks the image variable by itself; ``NETCDF:file.nc:VAR`` names one. The
pixels are read by GDAL's netCDF driver through :mod:`cloudmotion.formats.raster`, with
``scale_factor``/``add_offset`` applied and ``_FillValue`` masked; the data quality flag
variable beside it masks pixels with ``--dqf``. L1b radiance is calibrated to brightness
temperature or reflectance factor with the constants beside ``Rad``
(:mod:`cloudmotion.formats.calibration`, ``--calibrate``). Reference: GOES-R Product User Guide,
vol. 3 (L1b) and vol. 5 (L2+).
"""

from __future__ import annotations

import dataclasses
import re
import warnings

import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from cloudmotion.errors import DataError
from cloudmotion.formats import calibration
from cloudmotion.formats.raster import check_path, open_raster, read_frame
from cloudmotion.formats.readers import FrameInfo, Reader

__all__ = ["GOES_NETCDF", "netcdf_source", "open_goes_netcdf"]

_NC_VARS = ("Rad", "CMI")


def netcdf_source(path: str) -> tuple[str, str | None]:
    """The image subdataset of a netCDF file (``Rad``/``CMI``/``CMI_C##`` unless one is named
    as ``NETCDF:file:VAR``) and the matching GOES ``DQF`` subdataset, if any."""
    named = None
    fname = path
    if path.upper().startswith("NETCDF:"):
        rest = path.split(":", 1)[1]
        fname, _, named = rest.rpartition(":") if rest.count(":") else (rest, "", "")
        fname, named = fname.strip('"'), named or None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(fname) as ds:
            subs = list(ds.subdatasets)
    if not subs:
        return path, None
    names = {s.rsplit(":", 1)[-1]: s for s in subs}
    cmi = sorted(v for v in names if re.fullmatch(r"CMI_C\d{2}", v))
    candidates = [named] if named else [*_NC_VARS, *cmi]
    for var in candidates:
        if var in names:
            dqf = "DQF" if var in _NC_VARS else f"DQF_C{var[-2:]}"
            return names[var], names.get(dqf)
    if named:
        raise DataError(f"{path}: no variable {named} (have {', '.join(names)})")
    raise DataError(f"{path}: no Rad or CMI variable; name one as NETCDF:{path}:VARIABLE (have {', '.join(names)})")


def open_goes_netcdf(path: str, *, band: int | None = None, channels: str | None = None) -> FrameInfo:
    """Header of a GOES ABI netCDF frame (``file.nc`` or ``NETCDF:file.nc:VAR``); see :func:`open_raster`."""
    from cloudmotion.formats.raster import first_line

    check_path(path)
    try:
        source, dqf = netcdf_source(path)
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({first_line(exc)})") from exc
    info = open_raster(path, band=band, channels=channels, source=source, dqf_source=dqf, reader="goes-netcdf")
    return _with_calibration(info)


_QUANTITIES = {
    "toa_outgoing_radiance_per_unit_wavenumber": calibration.RADIANCE,
    "toa_outgoing_radiance_per_unit_wavelength": calibration.RADIANCE,
    "toa_brightness_temperature": calibration.BT,
    "toa_lambertian_equivalent_albedo_multiplied_by_cosine_solar_zenith_angle": calibration.REFLECTANCE,
}


def _with_calibration(info: FrameInfo) -> FrameInfo:
    """The header with the variable's quantity and unit, and the L1b calibration constants
    (:mod:`cloudmotion.formats.calibration`; read with netCDF4, scalar variables GDAL does not expose)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(info.source) as ds:
            tags = ds.tags(info.band)
    std = tags.get("standard_name")
    quantity = _QUANTITIES.get(std, std)
    constants, note = None, None
    if tags.get("NETCDF_VARNAME") == "Rad":
        fname = info.source
        if fname.upper().startswith("NETCDF:"):
            fname = fname.split(":", 1)[1].rpartition(":")[0].strip('"')
        constants, note = calibration.read_netcdf_constants(fname)
    return dataclasses.replace(
        info, quantity=quantity, unit=tags.get("units"), calibration=constants, notes=(note,) if note else ()
    )


GOES_NETCDF = Reader(
    name="goes-netcdf",
    claims=lambda path: path.lower().endswith(".nc") or path.upper().startswith("NETCDF:"),
    open=open_goes_netcdf,
    read=read_frame,
    description="GOES ABI L1b/L2 netCDF: Rad/CMI picked, scale/offset, _FillValue, DQF, calibration",
)
