"""Read frames with rasterio: values in physical units, a validity mask, georeference, time.

Handles GeoTIFF and anything else GDAL opens, including GOES ABI netCDF (``file.nc``,
whose ``Rad``/``CMI`` variable is picked automatically, or ``NETCDF:file.nc:VAR``).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from .errors import DataError, UsageError

__all__ = ["Frame", "FrameInfo", "check_compatible", "open_frame", "parse_goes_name", "read_frame"]

_GOES_RE = re.compile(
    r"OR_ABI-(?P<level>L\w+?)-(?P<product>[A-Za-z]+?)(?P<sector>F|C|M1|M2)-M(?P<mode>\d)C?(?P<band>\d{2})?"
    r"_(?P<sat>G\d{2})_s(?P<start>\d{13,14})"
)
_START_RE = re.compile(r"_s(\d{4})(\d{3})(\d{2})(\d{2})(\d{2})(\d)?(?=[_.]|$)")
_NC_VARS = ("Rad", "CMI")


@dataclass(frozen=True)
class FrameInfo:
    """What a frame's header says, read without loading the pixels.

    Attributes
    ----------
    path : str
        The path as given by the user (the name used in messages).
    source : str
        What rasterio opens (may be a ``NETCDF:path:VAR`` subdataset).
    shape : (int, int)
        Rows and columns.
    count : int
        Number of bands.
    band : int
        The band read (1-based).
    dtype : str
        Storage data type.
    transform : tuple of 6 floats or None
        Affine pixel-corner transform, ``None`` when the file has no georeference.
    crs_wkt : str or None
        CRS as WKT.
    time : datetime or None
        Acquisition (scan start) time, UTC.
    time_source : str or None
        Where the time came from: ``"file name"``, ``"netCDF time_coverage_start"`` or
        ``"TIFFTAG_DATETIME"``.
    goes : dict or None
        Satellite, sector and band parsed from a GOES ABI file name.
    """

    path: str
    source: str
    shape: tuple[int, int]
    count: int
    band: int
    dtype: str
    transform: tuple[float, ...] | None
    crs_wkt: str | None
    time: datetime | None
    time_source: str | None
    goes: dict | None


@dataclass(frozen=True)
class Frame:
    """A frame's pixels: float32 values in physical units plus a validity mask."""

    info: FrameInfo
    data: np.ndarray
    valid: np.ndarray


def parse_goes_name(name: str) -> tuple[datetime | None, dict | None]:
    """Scan start time and identity from a GOES ABI file name.

    Parameters
    ----------
    name : str
        File name or path, e.g.
        ``OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e..._c....nc``.

    Returns
    -------
    time : datetime or None
        The ``_sYYYYJJJHHMMSSt`` start time (UTC, tenths of a second kept).
    ident : dict or None
        ``{"satellite": "G16", "sector": "C", "band": 16, "product": "Rad"}`` for a full
        GOES ABI name, else None.
    """
    base = os.path.basename(name)
    time = None
    m = _START_RE.search(base)
    if m:
        year, doy, hh, mm, ss, tenth = m.groups()
        try:
            time = datetime(int(year), 1, 1, tzinfo=UTC) + timedelta(
                days=int(doy) - 1, hours=int(hh), minutes=int(mm), seconds=int(ss), milliseconds=100 * int(tenth or 0)
            )
        except ValueError:
            time = None
        if time is not None and not (1 <= int(doy) <= 366 and int(hh) < 24 and int(mm) < 60 and int(ss) < 61):
            time = None
    g = _GOES_RE.search(base)
    ident = None
    if g:
        ident = {
            "satellite": g["sat"],
            "sector": g["sector"],
            "band": int(g["band"]) if g["band"] else None,
            "product": g["product"],
        }
    return time, ident


def _parse_tag_time(value: str) -> datetime | None:
    value = value.strip().rstrip("Z")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _check_path(path: str) -> str:
    """Return what rasterio should open, or raise DataError naming the path."""
    if path.upper().startswith("NETCDF:"):
        fname = path.split(":", 2)[1].strip('"')
    else:
        fname = path
    if not os.path.exists(fname):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(fname):
        raise DataError(f"{path}: is a directory, not a frame")
    if not os.access(fname, os.R_OK):
        raise DataError(f"{path}: permission denied")
    if os.path.getsize(fname) == 0:
        raise DataError(f"{path}: empty file")
    return path


def _netcdf_source(path: str) -> str:
    """Pick the GOES ``Rad``/``CMI``/``CMI_C##`` variable of a netCDF file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as ds:
            subs = list(ds.subdatasets)
    if not subs:
        return path
    names = {s.rsplit(":", 1)[-1]: s for s in subs}
    for var in _NC_VARS:
        if var in names:
            return names[var]
    cmi = sorted(v for v in names if re.fullmatch(r"CMI_C\d{2}", v))
    if cmi:
        return names[cmi[0]]
    raise DataError(f"{path}: no Rad or CMI variable; name one as NETCDF:{path}:VARIABLE (have {', '.join(names)})")


def open_frame(path: str, *, band: int | None = None) -> FrameInfo:
    """Read a frame's header: shape, georeference, time and GOES identity.

    Parameters
    ----------
    path : str
        GeoTIFF, GOES ABI netCDF, ``NETCDF:file:VAR`` or any GDAL raster.
    band : int, optional
        1-based band to read; default 1.

    Returns
    -------
    FrameInfo

    Raises
    ------
    DataError
        Missing, unreadable or unsupported file, or a band it does not have.
    """
    _check_path(path)
    source = path
    try:
        if path.lower().endswith(".nc") and not path.upper().startswith("NETCDF:"):
            source = _netcdf_source(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(source) as ds:
                b = 1 if band is None else int(band)
                if not 1 <= b <= ds.count:
                    raise UsageError(f"--band {b}: {path} has {ds.count} band(s)")
                georef = ds.crs is not None or not ds.transform.is_identity
                transform = tuple(ds.transform)[:6] if georef else None
                crs_wkt = ds.crs.to_wkt() if ds.crs else None
                tags = ds.tags()
                info = {"shape": (ds.height, ds.width), "count": ds.count, "dtype": ds.dtypes[b - 1]}
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({_first_line(exc)})") from exc
    time, ident = parse_goes_name(path)
    time_source = "file name" if time else None
    if time is None:
        for key, label in (("NC_GLOBAL#time_coverage_start", "netCDF time_coverage_start"),
                           ("TIFFTAG_DATETIME", "TIFFTAG_DATETIME")):
            if key in tags and (t := _parse_tag_time(tags[key])):
                time, time_source = t, label
                break
    return FrameInfo(path=path, source=source, band=b, transform=transform, crs_wkt=crs_wkt, time=time,
                     time_source=time_source, goes=ident, **info)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_frame(info: FrameInfo, *, nodata: float | None = None) -> Frame:
    """Load a frame's pixels in physical units with a validity mask.

    Scale and offset are applied in float64 and the result stored as float32, never
    cast to 8 bit. Invalid pixels are the union of the file's NoData value, mask band,
    alpha or per-dataset mask (GDAL's ``read_masks``), NaN/inf, and ``nodata``.

    Parameters
    ----------
    info : FrameInfo
        From :func:`open_frame`.
    nodata : float, optional
        Extra NoData value in stored (raw) units, overriding a missing or wrong tag.

    Returns
    -------
    Frame

    Raises
    ------
    DataError
        Unreadable pixels or no valid pixel at all.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(info.source) as ds:
                raw = ds.read(info.band)
                valid = ds.read_masks(info.band) > 0
                scale = ds.scales[info.band - 1] if ds.scales else 1.0
                offset = ds.offsets[info.band - 1] if ds.offsets else 0.0
    except RasterioError as exc:
        raise DataError(f"{info.path}: cannot read pixels ({_first_line(exc)})") from exc
    if nodata is not None:
        valid &= ~(raw == nodata) if not np.isnan(nodata) else ~np.isnan(raw)
    with np.errstate(over="ignore", invalid="ignore"):
        data = raw.astype(np.float64) * float(scale or 1.0) + float(offset or 0.0)
        valid &= np.isfinite(data)
        data = data.astype(np.float32)
    valid &= np.isfinite(data)
    if not valid.any():
        raise DataError(f"{info.path}: no valid pixel (all NoData, masked or non-finite)")
    data[~valid] = np.nan
    return Frame(info=info, data=data, valid=valid)


def check_compatible(infos: list[FrameInfo]) -> None:
    """Require the same shape, CRS and transform for every frame of a sequence.

    Raises
    ------
    DataError
        Naming the first frame that differs and what differs.
    """
    from pyproj import CRS

    ref = infos[0]
    for other in infos[1:]:
        if other.shape != ref.shape:
            raise DataError(f"{other.path}: shape {other.shape[0]}x{other.shape[1]} differs from "
                            f"{ref.path} ({ref.shape[0]}x{ref.shape[1]})")
        if (ref.crs_wkt is None) != (other.crs_wkt is None) or (
            ref.crs_wkt and not CRS.from_wkt(ref.crs_wkt).equals(CRS.from_wkt(other.crs_wkt))
        ):
            raise DataError(f"{other.path}: CRS differs from {ref.path}")
        if (ref.transform is None) != (other.transform is None) or (
            ref.transform is not None and not np.allclose(ref.transform, other.transform, rtol=0, atol=1e-6 * max(
                1.0, abs(ref.transform[0]), abs(ref.transform[4])))
        ):
            raise DataError(f"{other.path}: transform {other.transform} differs from {ref.path} ({ref.transform})")
