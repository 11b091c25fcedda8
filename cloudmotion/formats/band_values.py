"""Band values beyond the pixels: palette colour tables and NoData written as metadata."""

from __future__ import annotations

import numpy as np

__all__ = ["expand_palette", "metadata_nodata"]


def expand_palette(
    index: np.ndarray,
    colormap: dict[int, tuple[int, ...]],
    valid: np.ndarray | None = None,
    nodata: list[float | None] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """Palette indices to red, green and blue through the band's colour table.

    Parameters
    ----------
    index : ndarray of int, shape (rows, cols)
        The stored palette indices.
    colormap : dict
        Index -> (red, green, blue, alpha), 0-255, from rasterio's ``colormap``.
    valid : ndarray of bool, optional
        The pixels valid so far (file mask); combined into the result.
    nodata : list of float
        NoData values, as palette indices (None entries are ignored).

    Returns
    -------
    rgb : ndarray of float32, shape (3, rows, cols)
        Colour values 0-255 (band axis first), ready for :func:`~cloudmotion.motion.prefilter.reduce_channels`.
    valid : ndarray of bool, shape (rows, cols)
        ``valid``, and False where the index is NoData, missing from the table or its
        alpha is 0.
    """
    size = max(int(index.max(initial=0)), max(colormap, default=0)) + 1
    table = np.zeros((size, 4), dtype=np.float32)
    for k, rgba in colormap.items():
        table[int(k), : len(rgba)] = rgba
    idx = np.clip(index.astype(np.int64), 0, size - 1)
    rgba = table[idx]  # (rows, cols, 4): one gather, no per-pixel loop
    ok = rgba[..., 3] > 0
    if valid is not None:
        ok &= valid
    for value in nodata:
        if value is not None:
            ok &= index != value
    return np.moveaxis(rgba[..., :3], -1, 0), ok


_NODATA_KEYS = ("nodata", "nodata_value", "no_data", "nodatavalue")


def metadata_nodata(ds, bands) -> list[float]:
    """NoData values written only as metadata items (GDAL_METADATA ``<Item name="Nodata">255</Item>``).

    Radar composites often declare their fill or outside-coverage value this way instead of
    in the NoData tag, which GDAL then does not apply. Dataset-level and band-level items of
    the bands read are honoured when the file declares no NoData of its own.

    Parameters
    ----------
    ds : rasterio dataset
    bands : sequence of int
        1-based bands read.

    Returns
    -------
    list of float
        Values in stored (raw) units; empty when none or when the NoData tag is set.
    """
    if ds.nodata is not None:
        return []
    out: list[float] = []
    for tags in [ds.tags()] + [ds.tags(b) for b in bands]:
        for key, value in tags.items():
            if key.lower() in _NODATA_KEYS:
                try:
                    v = float(str(value).strip())
                except ValueError:
                    continue
                if v not in out:
                    out.append(v)
    return out
