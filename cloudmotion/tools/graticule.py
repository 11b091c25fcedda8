"""The lon/lat graticule of the quick-look pictures: lines, labels and edge ticks."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["draw_graticule"]

LABEL_SIZE = 9
"""Font size of graticule labels and ticks, points (legible at 100 dpi and when printed)."""


def _nice_step(span: float, target: int = 5) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 45, 90):
        if span / step <= target:
            return step
    return 90.0


def _deg(value: float, axis: str) -> str:
    if axis == "lon":
        value = (value + 180.0) % 360.0 - 180.0
        hemi = "E" if value > 0 else "W" if value < 0 else ""
    else:
        hemi = "N" if value > 0 else "S" if value < 0 else ""
    return f"{abs(round(value, 4)):g}°{hemi}"


def _crossings(values: np.ndarray, positions: np.ndarray, levels: np.ndarray) -> list[tuple[float, float]]:
    """Positions along an edge where ``values`` crosses each level (linear interpolation)."""
    out = []
    for lev in levels:
        d = values - lev
        ok = np.isfinite(d[:-1]) & np.isfinite(d[1:]) & (np.sign(d[:-1]) != np.sign(d[1:]))
        for i in np.flatnonzero(ok)[:1]:
            t = d[i] / (d[i] - d[i + 1])
            out.append((float(positions[i] + t * (positions[i + 1] - positions[i])), float(lev)))
    return out


def draw_graticule(ax, shape: tuple[int, int], transform, crs_wkt: str) -> bool:
    """Lon/lat graticule lines with labels, and lon/lat ticks where lines cross the frame edges."""
    from pyproj import CRS

    from cloudmotion.geo import _lonlat, pixel_to_crs

    crs = CRS.from_wkt(crs_wkt)
    rows, cols = shape
    n = 160
    rr, cc = np.meshgrid(np.linspace(-0.5, rows - 0.5, n), np.linspace(-0.5, cols - 0.5, n), indexing="ij")
    lon, lat = _lonlat(*pixel_to_crs(rr, cc, transform), crs)
    lon, lat = lon.reshape(rr.shape), lat.reshape(rr.shape)
    if not np.isfinite(lon).any():
        return False
    if np.nanmax(lon) - np.nanmin(lon) > 180:  # across the antimeridian: work in [0, 360)
        lon = lon % 360.0
    levels = {}
    for name, grid in (("lon", lon), ("lat", lat)):
        lo, hi = float(np.nanmin(grid)), float(np.nanmax(grid))
        step = _nice_step(hi - lo)
        levels[name] = np.arange(math.ceil(lo / step) * step, hi + 1e-9, step)
    style = {"colors": "#ffe08a", "linewidths": 0.7, "alpha": 0.8, "linestyles": "-"}
    for name, grid in (("lon", lon), ("lat", lat)):
        if len(levels[name]):
            cs = ax.contour(cc, rr, np.ma.masked_invalid(grid), levels=levels[name], **style)
            ax.clabel(cs, fontsize=LABEL_SIZE - 1, fmt=lambda v, name=name: _deg(v, name), inline=True)
    # ticks where the lines meet the bottom and left edges
    xt = _crossings(lon[-1, :], cc[-1, :], levels["lon"])
    yt = _crossings(lat[:, 0], rr[:, 0], levels["lat"])
    ax.set_xticks([p for p, _ in xt], [_deg(v, "lon") for _, v in xt])
    ax.set_yticks([p for p, _ in yt], [_deg(v, "lat") for _, v in yt])
    ax.tick_params(labelsize=LABEL_SIZE)
    ax.set_xlabel("longitude (graticule on the frame)", fontsize=LABEL_SIZE + 1)
    ax.set_ylabel("latitude", fontsize=LABEL_SIZE + 1)
    return True
