"""Reading ``truth.tif``, the true displacement field that ``synth`` writes and ``score`` uses."""

from __future__ import annotations

import os

import numpy as np

from cloudmotion.errors import DataError

__all__ = ["read_truth"]


def read_truth(path: str) -> tuple[np.ndarray, np.ndarray, tuple[float, ...] | None]:
    """Read a truth GeoTIFF: bands ``dx`` and ``dy`` (or bands 1 and 2).

    Returns
    -------
    dx, dy : ndarray of float64, shape (rows, cols)
        True displacement per frame step, px.
    transform : tuple of 6 floats or None
        The grid's pixel-corner transform (None without a georeference).

    Raises
    ------
    DataError
        Missing or unreadable file, or fewer than two bands.
    """
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    if not os.path.isfile(path):
        raise DataError(f"{path}: {'is a folder' if os.path.isdir(path) else 'no such file'}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                if ds.count < 2:
                    raise DataError(f"{path}: a truth grid needs two bands, dx and dy; it has {ds.count}")
                names = list(ds.descriptions)
                ix = names.index("dx") + 1 if "dx" in names else 1
                iy = names.index("dy") + 1 if "dy" in names else 2
                dx = ds.read(ix, masked=True).astype(np.float64).filled(np.nan)
                dy = ds.read(iy, masked=True).astype(np.float64).filled(np.nan)
                georef = ds.crs is not None or not ds.transform.is_identity
                transform = tuple(ds.transform)[:6] if georef else None
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({exc})") from exc
    return dx, dy, transform
