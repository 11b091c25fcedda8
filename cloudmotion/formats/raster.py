"""Read frames with rasterio: values in physical units, a validity mask, georeference, time.

Handles GeoTIFF and anything else GDAL opens, including GOES ABI netCDF (``file.nc``,
whose ``Rad``/``CMI`` variable is picked automatically, or ``NETCDF:file.nc:VAR``).
"""

from __future__ import annotations

import functools
import math
import os
import warnings

import numpy as np
import rasterio
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats import calibration
from cloudmotion.formats.band_values import expand_palette, metadata_nodata, with_nested
from cloudmotion.formats.frame_times import tag_time
from cloudmotion.formats.goes_names import parse_goes_name, start_stamp
from cloudmotion.formats.name_stamps import name_stamp
from cloudmotion.formats.readers import Frame, FrameInfo, Reader

EXTREME = 1e30
"""Values of this magnitude or more are NoData: float32 extremes (±3.4e38) used as undeclared
fill, which no physical image holds and whose squares overflow the arithmetic."""

__all__ = ["RASTER", "check_path", "metadata_nodata", "open_raster", "read_frame"]


def check_path(path: str) -> str:
    """Return what rasterio should open, or raise DataError naming the path."""
    if path.upper().startswith("NETCDF:"):
        rest = path.split(":", 1)[1]
        fname = (rest.rpartition(":")[0] if rest.count(":") else rest).strip('"')
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


def open_raster(
    path: str,
    *,
    band: int | None = None,
    channels: str | None = None,
    source: str | None = None,
    dqf_source: str | None = None,
    reader: str = "raster",
) -> FrameInfo:
    """Read a raster frame's header with rasterio: shape, bands, georeference, time and GOES identity.

    Parameters
    ----------
    path : str
        GeoTIFF, GOES ABI netCDF, ``NETCDF:file:VAR`` or any GDAL raster.
    band : int, optional
        1-based band to read. Default: band 1, or for a red-green-blue image all three
        reduced to luminance.
    channels : {"luminance", "pca", "mean"}, optional
        Reduce all bands (alpha excluded) to one channel by this method.
    source : str, optional
        What rasterio opens, when not ``path`` (a netCDF subdataset).
    dqf_source : str, optional
        A data quality flag raster beside the image (GOES ``DQF``).
    reader : str
        Name of the registered reader that opened it (reads go back through it).

    Returns
    -------
    FrameInfo

    Raises
    ------
    DataError
        Missing, unreadable or unsupported file.
    UsageError
        A band the file does not have, or ``band`` and ``channels`` together.
    """

    check_path(path)
    if band is not None and channels is not None:
        raise UsageError("--band and --channels: give one or the other")
    source = source or path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(source) as ds:
                if band is not None and not 1 <= int(band) <= ds.count:
                    raise UsageError(f"--band {band}: {path} has {ds.count} band(s)")
                bands, method, palette = _choose_bands(ds, path, band, channels)
                if path.lower().endswith((".tif", ".tiff")) and ds.driver not in ("GTiff", "COG"):
                    raise DataError(f"{path}: is a {ds.driver} file, not a GeoTIFF as its name says")
                transform = usable_transform(ds)
                crs_wkt = ds.crs.to_wkt() if ds.crs else None
                tags, band_tags = with_nested(ds.tags(), ds.tags(bands[0]), bands[0])
                tag_t, tag_source = tag_time(tags, band_tags)
                info = {
                    "shape": (ds.height, ds.width),
                    "count": ds.count,
                    "dtype": ds.dtypes[bands[0] - 1],
                    "driver": ds.driver,
                }
                complex_bands = [b for b in bands if np.dtype(ds.dtypes[b - 1]).kind == "c"]
                if complex_bands:
                    raise DataError(
                        f"{path}: band {complex_bands[0]} holds complex numbers "
                        f"({ds.dtypes[complex_bands[0] - 1]}); cloudmotion tracks real values: "
                        "convert it first (e.g. its amplitude)"
                    )
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({first_line(exc)})") from exc
    _check_crs(path, crs_wkt, transform, info["shape"])
    time, ident = parse_goes_name(path)
    stamp = start_stamp(path)
    if time is None and (stamp or ident):
        raise DataError(
            f"{path}: the GOES-style file name has no valid start time "
            f"(_sYYYYJJJHHMMSSt{', got _s' + ''.join(g or '' for g in stamp.groups()) if stamp else ''})"
        )
    time_source = "file name" if time else None
    if time is None:
        time, time_source = tag_t, tag_source
    if time is None and (stamp_found := name_stamp(path)) is not None:  # trusted last: no pattern, GOES name or tag
        time, time_source = stamp_found.time, "file name stamp"
    constants = calibration.from_tags(tags, path)
    return FrameInfo(
        path=path,
        source=source,
        band=bands[0],
        transform=transform,
        crs_wkt=crs_wkt,
        time=time,
        time_source=time_source,
        goes=ident,
        bands=bands,
        channels=method,
        dqf_source=dqf_source,
        reader=reader,
        palette=palette,
        calibration=constants,
        quantity=calibration.RADIANCE if constants else None,
        unit=tags.get("units"),
        **info,
    )


def _choose_bands(ds, path: str, band: int | None, channels: str | None) -> tuple[tuple[int, ...], str | None, bool]:
    """The bands read, their reduction and whether the band holds palette indices (see open_raster)."""
    from rasterio.enums import ColorInterp

    colour = [i + 1 for i, c in enumerate(ds.colorinterp) if c != ColorInterp.alpha]
    rgb = [
        ds.colorinterp.index(c) + 1
        for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
        if c in ds.colorinterp
    ]
    palette = ds.colorinterp[(band or 1) - 1] == ColorInterp.palette and _has_colormap(ds, band or 1)
    if palette:
        bands, method = (int(band or 1),), channels or "luminance"
    elif band is not None:
        bands, method = (int(band),), None
    elif channels is not None and len(colour) > 1:
        bands, method = tuple(rgb if channels == "luminance" and len(rgb) == 3 else colour), channels
    elif channels is None and len(rgb) == 3:
        bands, method = tuple(rgb), "luminance"
    else:
        bands, method = (1,), None
    if method == "luminance" and len(bands) < 3 and not palette:
        raise UsageError(f"--channels luminance: {path} has no red, green and blue bands")
    return bands, method, palette


def _has_colormap(ds, band: int) -> bool:
    try:
        return bool(ds.colormap(band))
    except ValueError:  # "NULL color table"
        return False


def usable_transform(ds) -> tuple[float, ...] | None:
    """The dataset's pixel-corner affine transform, or None when it has no georeference.

    GDAL drivers without georeferencing return the identity (PNG, BMP) or, for some
    (PNM), an uninitialised all-zero or denormal matrix; without a CRS neither maps pixels
    anywhere, so both mean "no transform". With a CRS the matrix is kept as it is, for the
    projection check to judge.
    """
    t = ds.transform
    coeffs = tuple(float(v) for v in tuple(t)[:6])
    if ds.crs is not None:
        return coeffs
    det = coeffs[0] * coeffs[4] - coeffs[1] * coeffs[3]
    if t.is_identity or not all(np.isfinite(coeffs)) or not abs(det) > 1e-200:
        return None
    return coeffs


@functools.lru_cache(maxsize=64)
def _crs_problem(crs_wkt: str, transform: tuple[float, ...], shape: tuple[int, int]) -> str | None:
    """Why PROJ cannot use this CRS (None when it can): tried on the frame's centre pixel."""
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError, ProjError

    try:
        crs = CRS.from_wkt(crs_wkt)
        ell = crs.ellipsoid
        if ell is not None and not (ell.semi_major_metre > 0 and ell.semi_minor_metre > 0):
            return f"ellipsoid semi-major axis {ell.semi_major_metre:g} m, semi-minor {ell.semi_minor_metre:g} m"
        if crs.is_geographic:
            return None
        tr = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
        a, b, c, d, e, f = transform[:6]
        col, row = shape[1] / 2.0, shape[0] / 2.0
        with np.errstate(all="ignore"):
            tr.transform(a * col + b * row + c, d * col + e * row + f, errcheck=False)
    except (CRSError, ProjError) as exc:
        return " ".join(str(exc).split())
    return None


def _check_crs(path: str, crs_wkt: str | None, transform: tuple[float, ...] | None, shape: tuple[int, int]) -> None:
    """Refuse a CRS that PROJ cannot use (e.g. GOES projection attributes such as
    ``perspective_point_height = 0`` or ``semi_major_axis = 0``), with one line."""
    if not crs_wkt or transform is None:
        return
    problem = _crs_problem(crs_wkt, tuple(transform), tuple(shape))
    if problem:
        raise DataError(
            f"{path}: impossible map projection in the file ({problem}); the file's projection attributes are damaged"
        )


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_frame(
    info: FrameInfo,
    *,
    nodata: float | None = None,
    valid_range: tuple[float, float] | None = None,
    dqf: bool = False,
) -> Frame:
    """Load a frame's pixels in physical units with a validity mask.

    Scale and offset are applied in float64 and the result stored as float32, never
    cast to 8 bit. Invalid pixels are the union of the file's NoData value, mask band,
    alpha or per-dataset mask (GDAL's ``read_masks``, of every band read), NaN/inf,
    ``nodata``, values outside ``valid_range`` and, with ``dqf``, a GOES DQF other than 0.
    Several bands are reduced to one channel (``info.channels``) before any filtering.

    Parameters
    ----------
    info : FrameInfo
        From :func:`open_frame`.
    nodata : float, optional
        Extra NoData value in stored (raw) units, overriding a missing or wrong tag.
    valid_range : (float, float), optional
        Valid values in physical units (after scale, offset and ``info.calibrate``), inclusive.
    dqf : bool
        Mask pixels whose GOES data quality flag is not 0.

    Returns
    -------
    Frame

    Raises
    ------
    DataError
        Unreadable pixels or no valid pixel at all.
    UsageError
        ``dqf`` on a file without a DQF variable.
    """
    from cloudmotion.motion.prefilter import reduce_channels

    if dqf and info.dqf_source is None:
        raise UsageError(f"--dqf: {info.path} has no GOES DQF variable")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(info.source) as ds:
                idx = list(info.bands)
                raw = ds.read(idx)
                valid = np.ones(raw.shape[1:], dtype=bool)
                for b in idx:
                    if mask_adds(ds, b):
                        valid &= ds.read_masks(b) > 0
                meta_nodata = metadata_nodata(ds, idx)
                scales = [ds.scales[b - 1] if ds.scales else 1.0 for b in idx]
                offsets = [ds.offsets[b - 1] if ds.offsets else 0.0 for b in idx]
                if info.palette:  # NoData values are palette indices: applied before the expansion
                    raw, valid = expand_palette(raw[0], ds.colormap(idx[0]), valid, [nodata, *meta_nodata])
                    nodata, meta_nodata, scales, offsets = None, [], [1.0] * 3, [0.0] * 3
            if dqf:
                with rasterio.open(info.dqf_source) as dq:
                    flags = dq.read(1)
                    valid &= (flags == 0) & (dq.read_masks(1) > 0)
    except RasterioError as exc:
        raise DataError(f"{info.path}: cannot read pixels ({first_line(exc)})") from exc
    for value in ([nodata] if nodata is not None else []) + meta_nodata:
        valid &= ~np.any(np.isnan(raw) if np.isnan(value) else raw == value, axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.array([float(v or 1.0) for v in scales])[:, None, None]
        offset = np.array([float(v or 0.0) for v in offsets])[:, None, None]
        if raw.dtype == np.float32 and np.all(scale == 1) and np.all(offset == 0):
            data = raw  # already physical float32: no float64 copy of a large frame
        else:
            data = raw.astype(np.float64) * scale + offset
        valid &= np.all(np.isfinite(data), axis=0)
        valid &= np.all(np.abs(data) < EXTREME, axis=0)  # ±3.4e38: float32 fill values, never physical
        calibrated = calibration.apply(data, info)  # --calibrate: --valid-range is in the calibrated unit
        if calibrated is not data:  # the values changed: test them again
            valid &= np.all(np.isfinite(calibrated), axis=0)
        data = calibrated
        if valid_range is not None:
            lo, hi = valid_range
            valid &= np.all((data >= lo) & (data <= hi), axis=0)
    stored = raw[0] if raw.shape[0] == 1 else raw  # bit-identical stored values mean unchanged data
    as_tested = data.dtype == np.float32 and info.channels is None  # the values tested finite above, unchanged
    data = data[0] if info.channels is None else reduce_channels(data, valid, info.channels)
    with np.errstate(over="ignore", invalid="ignore"):
        data = data.astype(np.float32)  # a copy even of float32 values: ``stored`` keeps the file's
    if not as_tested:  # float64 values may overflow float32; combined channels are new values
        valid &= np.isfinite(data)
    if not valid.any():
        raise DataError(f"{info.path}: no valid pixel (all NoData, masked or non-finite)")
    data[~valid] = np.nan
    return Frame(info=info, data=data, valid=valid, raw=stored)


def mask_adds(ds, band: int) -> bool:
    """Whether GDAL's validity mask of ``band`` (1-based) can mark a pixel that :func:`read_frame`'s
    value tests keep.

    Not when the band has no mask (every pixel valid), nor when its mask only marks a NaN
    NoData value: the non-finite test marks those pixels, and reading the mask is one more
    pass over the frame. A mask band, alpha, or a NoData number (which GDAL may compare with
    a tolerance) is read.
    """
    flags = ds.mask_flag_enums[band - 1]
    if flags == [MaskFlags.all_valid]:
        return False
    nodata = ds.nodatavals[band - 1]
    return not (flags == [MaskFlags.nodata] and nodata is not None and math.isnan(nodata))


def _open_generic(path: str, *, band: int | None = None, channels: str | None = None) -> FrameInfo:
    return open_raster(path, band=band, channels=channels)


RASTER = Reader(
    name="raster",
    claims=lambda path: True,
    open=_open_generic,
    read=read_frame,
    description="GeoTIFF and any raster GDAL reads",
)
