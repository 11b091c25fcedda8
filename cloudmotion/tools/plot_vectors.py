"""The vectors of a quick-look: which are drawn (thinned to a readable density) and how
(arrows in m/s or wind barbs in knots), on matplotlib axes in pixel coordinates."""

from __future__ import annotations

import math

import numpy as np

from cloudmotion.model import Vectors

__all__ = [
    "ARROW_SPACING_PX",
    "KNOTS_PER_MS",
    "MIN_ARROW",
    "auto_every",
    "draw_arrows",
    "draw_barbs",
    "grid_spacing",
    "selection",
    "speed_colours",
]

KNOTS_PER_MS = 3600.0 / 1852.0
MIN_ARROW = 0.4
"""Shortest arrow drawn, in grid steps: slower vectors are lengthened to it (direction kept)."""
ARROW_SPACING_PX = 28.0
"""Default thinning: at most about one vector per this many screen pixels along each axis."""


def _thin(v: Vectors, every: int) -> np.ndarray:
    """Boolean selection of every N-th grid row and column of vector origins."""
    keep = np.isfinite(v.row) & np.isfinite(v.col)
    if every <= 1:
        return keep
    rows = np.unique(v.row[keep])
    cols = np.unique(v.col[keep])
    ri = np.searchsorted(rows, v.row)
    ci = np.searchsorted(cols, v.col)
    return keep & (ri % every == 0) & (ci % every == 0)


def _nice_scale(x: float) -> float:
    """``x`` rounded down to one significant digit (at least 0.1): 4.3 -> 4, 0.27 -> 0.2."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return max(math.floor(x / k) * k, 0.1)


def speed_colours():
    """Speed palette: plasma without its darkest fifth, so slow vectors show on dark (and, with
    their dark outline, on white) cloud."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["plasma"](np.linspace(0.3, 1.0, 256)), name="plasma_light")


def draw_arrows(ax, v: Vectors, good, bad, colour, norm, spacing: float, in_ms: bool) -> tuple[object, str]:
    """Arrows along the motion, lengths ×k, at least ``MIN_ARROW`` grid steps; the reference
    arrow in m/s when speeds are known."""
    mag = np.hypot(v.dx, v.dy)
    sel = good | bad
    med = float(np.median(mag[good])) if good.any() else float(np.median(mag[sel])) if sel.any() else 0.0
    k = _nice_scale(0.8 * spacing / med) if med > 0 else 1.0
    shortest = MIN_ARROW * spacing
    with np.errstate(invalid="ignore", divide="ignore"):
        boost = np.where((mag * k > 0) & (mag * k < shortest), shortest / (mag * k), 1.0)
    u, w = v.dx * k * boost, v.dy * k * boost
    # minshaft: an arrow shorter than 2.5 head lengths is scaled down whole, so it keeps a shaft
    qkw = {
        "angles": "xy",
        "scale_units": "xy",
        "scale": 1.0,
        "width": 0.003,
        "headwidth": 3.6,
        "headlength": 4.0,
        "headaxislength": 3.6,
        "minshaft": 2.5,
        "linewidth": 0.25,
    }
    if bad.any():
        ax.quiver(
            v.col[bad],
            v.row[bad],
            u[bad],
            w[bad],
            color=(0.85, 0.85, 0.85, 0.45),
            **qkw,
        )
    mappable = None
    if good.any():
        mappable = ax.quiver(
            v.col[good],
            v.row[good],
            u[good],
            w[good],
            np.nan_to_num(colour[good]),
            cmap=speed_colours(),
            norm=norm,
            edgecolor=(0.05, 0.05, 0.1, 0.9),
            **qkw,
        )
        ratio = np.nanmedian((mag / v.speed)[good & (v.speed > 0)]) if in_ms else np.nan
        if in_ms and np.isfinite(ratio):  # px per m/s over the good vectors
            ref = _nice_scale(2 * float(np.nanmedian(v.speed[good])))
            length, label = ref * ratio * k, f"{ref:g} m/s"
        else:
            ref = _nice_scale(2 * med) if med > 0 else 1.0
            length, label = ref * k, f"{ref:g} px"
        ax._cloudmotion_key = ax.quiverkey(
            mappable,
            0.99,
            -0.1,
            length,
            label,
            labelpos="W",
            coordinates="axes",
            fontproperties={"size": 9},
        )  # placed by _place_key
    note = f"arrows: displacement ×{k:g}" if k != 1 else "arrows: displacement"
    return mappable, note + f", at least {MIN_ARROW:g} grid steps long"


def draw_barbs(
    ax,
    v: Vectors,
    good,
    bad,
    colour,
    norm,
    spacing: float,
    in_ms: bool,
    size,
    shape: tuple[int, int],
) -> tuple[object, str]:
    """Wind barbs along the motion: knots when speeds are known, else px."""
    rows, cols = shape
    mag = np.hypot(v.dx, v.dy)
    spacing_pt = spacing * (0.8 * min(size) * 72.0 / max(rows, cols))
    length = float(np.clip(spacing_pt / 4.0, 3.0, 7.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = np.where(mag > 0, v.dx / mag, 0.0), np.where(mag > 0, -v.dy / mag, 0.0)
    amount = np.where(np.isfinite(v.speed), v.speed * KNOTS_PER_MS, 0.0) if in_ms else mag
    incr = {"half": 5, "full": 10, "flag": 50} if in_ms else {"half": 0.5, "full": 1, "flag": 5}
    bkw = {
        "length": length,
        "barb_increments": incr,
        "linewidth": 0.7,
        "pivot": "middle",
    }
    if bad.any():
        ax.barbs(
            v.col[bad],
            v.row[bad],
            (amount * ux)[bad],
            (amount * uy)[bad],
            color=(0.85, 0.85, 0.85, 0.45),
            **bkw,
        )
    mappable = None
    if good.any():
        mappable = ax.barbs(
            v.col[good],
            v.row[good],
            (amount * ux)[good],
            (amount * uy)[good],
            np.nan_to_num(colour[good]),
            cmap=speed_colours(),
            norm=norm,
            **bkw,
        )
    return mappable, (
        "barbs in knots (half 5, full 10, flag 50 kt)" if in_ms else "barbs in px (half 0.5, full 1, flag 5)"
    )


def grid_spacing(v: Vectors) -> float:
    """Spacing of the vector grid in frame pixels: the tracking step when known, else the
    smallest gap between distinct origin columns (or rows); NaN with fewer than two."""
    if v.step:
        return float(v.step)
    gaps = [np.diff(np.unique(x[np.isfinite(x)])) for x in (v.col, v.row)]
    gaps = [g[g > 0] for g in gaps if g.size]
    gaps = [g for g in gaps if g.size]
    return float(min(g.min() for g in gaps)) if gaps else math.nan


def auto_every(v: Vectors, screen_px: float, target: float = ARROW_SPACING_PX) -> int:
    """The thinning that draws at most about one vector per ``target`` screen pixels.

    Parameters
    ----------
    v : Vectors
        The vectors (their grid spacing, :func:`grid_spacing`, in frame pixels).
    screen_px : float
        Screen (picture) pixels per frame pixel.
    target : float
        Wanted spacing of drawn vectors, screen pixels.

    Returns
    -------
    int
        Draw every N-th vector along each grid axis (1 keeps all); a spacing up to 15 %
        under ``target`` is accepted before thinning further.
    """
    spacing = grid_spacing(v) * screen_px
    if not (spacing > 0 and math.isfinite(spacing)):
        return 1
    return max(1, math.ceil(target / spacing - 0.15))


def selection(v: Vectors, every: int, show_flagged: bool, shape: tuple[int, int]) -> tuple:
    """Good and (shown) flagged vectors on the frame, every N-th, and the grid spacing in px."""
    rows, cols = shape
    sel = _thin(v, max(1, int(every))) & np.isfinite(v.dx) & np.isfinite(v.dy)
    sel &= (v.row >= -0.5) & (v.row <= rows - 0.5) & (v.col >= -0.5) & (v.col <= cols - 0.5)
    gcols = np.unique(v.col[sel])
    spacing = float(np.min(np.diff(gcols))) if gcols.size > 1 else max(rows, cols) / 20.0
    return sel & (v.flag == 0), sel & (v.flag != 0) & show_flagged, spacing
