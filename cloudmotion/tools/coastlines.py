"""Coastlines and land borders on the quick-looks, from Natural Earth 1:50m data shipped in the package.

The lines live in ``data/natural_earth_50m.geojson`` (public domain; built by
``scripts/make_coastlines.py``, which names the source): read with :mod:`json`, projected
with pyproj into the frame's CRS and cut to the frame. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np

__all__ = ["COASTLINE_FILE", "draw_coastlines", "frame_segments", "natural_earth_lines"]

COASTLINE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "natural_earth_50m.geojson")
"""Natural Earth 1:50m coastline and border lines, lon/lat degrees (WGS 84), 0.01 degree."""

STYLE = {
    "coastline": {"colors": "#40d0ff", "linewidths": 0.9, "alpha": 0.9},
    "borders": {
        "colors": "#40d0ff",
        "linewidths": 0.6,
        "alpha": 0.75,
        "linestyles": (0, (4, 2)),
    },
}
"""Line styles: cyan, apart from the grey image, the pale yellow graticule and the plasma vectors."""


@lru_cache(maxsize=1)
def natural_earth_lines() -> dict[str, np.ndarray]:
    """The shipped lines: name (``coastline``, ``borders``) -> (n, 2) lon, lat in degrees,
    one row of NaN between consecutive lines."""
    with open(COASTLINE_FILE, encoding="utf-8") as f:
        collection = json.load(f)
    out = {}
    for feature in collection["features"]:
        lines = feature["geometry"]["coordinates"]
        gap = np.full((1, 2), np.nan)
        out[feature["properties"]["name"]] = np.concatenate([p for line in lines for p in (np.asarray(line), gap)])
    return out


def frame_segments(lonlat: np.ndarray, shape: tuple[int, int], transform, crs_wkt: str) -> np.ndarray:
    """Line segments in pixel coordinates of a frame, only those that touch it.

    Parameters
    ----------
    lonlat : ndarray, shape (n, 2)
        Longitude and latitude in degrees, NaN rows between lines.
    shape : (int, int)
        The frame's rows and columns.
    transform : sequence of 6 floats
        The frame's pixel-corner affine transform (GDAL order a, b, c, d, e, f as in
        :class:`affine.Affine`).
    crs_wkt : str
        The frame's CRS.

    Returns
    -------
    ndarray, shape (m, 2, 2)
        Segments ``[[x0, y0], [x1, y1]]`` with x the column and y the row (pixel centres at
        integers); a segment with an end off the earth disc (geostationary views) or
        outside the frame on both ends is left out.
    """
    from pyproj import CRS, Transformer

    to_frame = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)
    a, b, c, d, e, f = (float(t) for t in tuple(transform)[:6])
    det = a * e - b * d
    with np.errstate(all="ignore"):  # points off the earth disc project to inf
        x, y = to_frame.transform(lonlat[:, 0], lonlat[:, 1], errcheck=False)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        col = (e * (x - c) - b * (y - f)) / det - 0.5  # pixel-corner affine -> centre-based indices
        row = (-d * (x - c) + a * (y - f)) / det - 0.5
    pts = np.stack([col, row], axis=1)
    pts[~np.isfinite(pts).all(axis=1)] = np.nan
    seg = np.stack([pts[:-1], pts[1:]], axis=1)
    rows, cols = shape
    ok = np.isfinite(seg).all(axis=(1, 2))
    inside = (seg[..., 0] >= -0.5) & (seg[..., 0] <= cols - 0.5) & (seg[..., 1] >= -0.5) & (seg[..., 1] <= rows - 0.5)
    # a projection jump (the far side of a disc, a wrap) is a segment far longer than any real coast step
    length = np.hypot(*(seg[:, 1] - seg[:, 0]).T)
    return seg[ok & inside.any(axis=1) & (length < max(rows, cols) / 4)]


def draw_coastlines(ax, shape: tuple[int, int], transform, crs_wkt: str) -> int:
    """Draw the coastline and border segments that touch the frame on an image axes (pixel coordinates).

    Each set is one ``LineCollection`` labelled (and with ``gid``) ``coastline`` or
    ``borders``, clipped to the axes. Returns the number of segments drawn.
    """
    from matplotlib.collections import LineCollection

    drawn = 0
    for name, lonlat in natural_earth_lines().items():
        seg = frame_segments(lonlat, shape, transform, crs_wkt)
        if len(seg):
            lc = LineCollection(
                seg,
                label=name,
                zorder=2.5,
                capstyle="round",
                **STYLE.get(name, STYLE["coastline"]),
            )
            lc.set_gid(name)
            ax.add_collection(lc, autolim=False)
            drawn += len(seg)
    return drawn
