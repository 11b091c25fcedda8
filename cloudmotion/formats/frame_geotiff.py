"""GeoTIFFs on a frame's own grid (nowcasts, dense motion fields): float32 bands, NaN NoData,
written atomically and read back before the rename."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.gdal_errors import capture_write_errors, verify_geotiff

__all__ = ["read_tags", "value_meaning", "write_frame_geotiff"]


def write_frame_geotiff(
    path: str,
    bands: Mapping[str, np.ndarray],
    *,
    transform: tuple[float, ...] | None,
    crs_wkt: str | None,
    time: datetime | None = None,
    tags: Mapping[str, str] | None = None,
    band_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Write named (rows, cols) bands as one float32 GeoTIFF in the frame's grid, atomically.

    Parameters
    ----------
    path : str
    bands : mapping of str to ndarray, shape (rows, cols)
        Band name (its description) to values; NaN is NoData.
    transform : 6 floats or None
        The frame's pixel-corner affine transform.
    crs_wkt : str or None
    time : datetime, optional
        Written as ``TIFFTAG_DATETIME`` (``YYYY:MM:DD HH:MM:SS``, UTC).
    tags, band_tags : mapping, optional
        Dataset tags, and per-band tags by band name.

    Raises
    ------
    DataError
        The file cannot be written whole (the old file, if any, stays as it was).
    """
    import rasterio
    from affine import Affine

    names = list(bands)
    stack = np.stack([np.asarray(bands[k], dtype=np.float32) for k in names])
    _, rows, cols = stack.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": len(names),
        "dtype": "float32",
        "nodata": np.nan,
        "transform": Affine(*transform[:6]) if transform is not None else Affine.identity(),
        "crs": crs_wkt or None,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
    }
    if max(rows, cols) <= 256:
        profile.update(tiled=False)
        del profile["blockxsize"], profile["blockysize"]

    def verify(tmp: str) -> None:
        verify_geotiff(tmp, path, count=len(names), shape=(rows, cols))

    with atomic_path(path, verify) as tmp, capture_write_errors(path), rasterio.open(tmp, "w", **profile) as ds:
        ds.write(stack)
        for i, name in enumerate(names, start=1):
            ds.set_band_description(i, name)
            if band_tags and name in band_tags:
                ds.update_tags(i, **band_tags[name])
        extra = dict(tags or {})
        if time is not None:
            extra["TIFFTAG_DATETIME"] = f"{time:%Y:%m:%d %H:%M:%S}"
        ds.update_tags(SOFTWARE="cloudmotion", **extra)


def read_tags(path: str) -> dict[str, str]:
    """The dataset tags of a raster (empty when it has none)."""
    import rasterio

    with rasterio.open(path) as ds:
        return dict(ds.tags())


def value_meaning(info) -> tuple[str, str]:
    """What a frame's values are and their unit, for labels: the reader's quantity and unit
    (``brightness_temperature``, ``K``), else the band's description and unit in the file,
    else empty strings.

    Parameters
    ----------
    info : cloudmotion.formats.raster.FrameInfo
        The frame's header.
    """
    if info.quantity or info.unit:
        return (info.quantity or "").replace("_", " "), info.unit or ""
    import rasterio

    try:
        with rasterio.open(info.source) as ds:
            return (ds.descriptions[info.band - 1] or "").strip(), (ds.units[info.band - 1] or "").strip()
    except (rasterio.errors.RasterioError, IndexError):
        return "", ""
