"""Band values beyond the pixels: palette colour tables and NoData written as metadata."""

from __future__ import annotations

import numpy as np

__all__ = ["expand_palette", "metadata_nodata", "nested_items", "with_nested"]


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

_NESTED_KEY = "gdal_metadata"


def nested_items(tags: dict) -> tuple[dict[str, str], dict[int, dict[str, str]]]:
    """Items of a GDAL_METADATA document kept as the value of a metadata item.

    Some radar composites write their ``<GDALMetadata><Item name="Nodata">255</Item>
    <Item name="Observation time">201609281445</Item>...`` document inside an item called
    ``GDAL_METADATA`` (or as an item's value), where GDAL leaves it as text.

    Parameters
    ----------
    tags : dict
        A dataset's or band's metadata (``ds.tags()``).

    Returns
    -------
    dataset : dict
        Items without a ``sample`` attribute.
    bands : dict
        1-based band -> items with ``sample="k"`` (0-based in the document).
    """
    import xml.etree.ElementTree as ET

    dataset: dict[str, str] = {}
    bands: dict[int, dict[str, str]] = {}
    for key, value in tags.items():
        text = str(value).strip()
        if key.lower() != _NESTED_KEY and not text.startswith("<GDALMetadata"):
            continue
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            continue
        for item in root.iter("Item"):
            name, role = item.get("name"), item.get("role")
            if not name or role or item.text is None:
                continue  # scale, offset and descriptions are GDAL's own, not metadata items
            sample = item.get("sample")
            target = dataset if sample is None or not sample.isdigit() else bands.setdefault(int(sample) + 1, {})
            target.setdefault(name, item.text.strip())
    return dataset, bands


def with_nested(dataset_tags: dict, band_tags: dict, band: int) -> tuple[dict, dict]:
    """A frame's dataset and band metadata with the items of nested GDAL_METADATA documents added.

    Items GDAL read itself win over nested ones of the same name.
    """
    nested, per_band = nested_items({**dataset_tags, **band_tags})
    return {**nested, **dataset_tags}, {**per_band.get(band, {}), **band_tags}


def metadata_nodata(ds, bands) -> list[float]:
    """NoData values written only as metadata items (GDAL_METADATA ``<Item name="Nodata">255</Item>``,
    also inside a nested GDAL_METADATA item, :func:`nested_items`).

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
    tables = [with_nested(ds.tags(), ds.tags(b), b) for b in bands]
    for tags in [tables[0][0]] + [t[1] for t in tables]:
        for key, value in tags.items():
            if key.lower() in _NODATA_KEYS:
                try:
                    v = float(str(value).strip())
                except ValueError:
                    continue
                if v not in out:
                    out.append(v)
    return out
