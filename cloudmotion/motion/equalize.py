"""Contrast-limited adaptive histogram equalisation (CLAHE) in float, over valid pixels only.

The frame is cut into tiles of about :data:`TILE` px; each tile's histogram of the values
between robust percentiles of the whole frame is clipped at :data:`CLIP` times the uniform
level (the excess spread evenly) and its cumulative sum becomes the tile's mapping. A pixel
takes the bilinear blend of the mappings of the four nearest tile centres. Unlike the
8-bit CLAHE of image libraries every step stays in float: the mapping is the piecewise
linear cumulative histogram, evaluated at the exact value, so no value is quantised.

NoData never counts: the percentiles, histograms and blending weights are taken over
valid pixels only (a tile with less than half its pixels valid gets a proportionally
smaller weight), so the equalised value of a valid pixel does not depend on what the
invalid pixels hold.

References
----------
Zuiderveld, K. (1994). Contrast limited adaptive histogram equalization. Graphics Gems IV,
474-485. Thielicke, W. and Stamhuis, E. J. (2014). PIVlab - towards user-friendly,
affordable and accurate digital particle image velocimetry in MATLAB. J. Open Research
Software 2(1), e30 (CLAHE as a PIV pre-filter).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BINS", "CLIP", "PERCENTILES", "TILE", "clahe"]

TILE = 256
"""Tile size, px. The blended mapping varies with position, a gain pattern fixed to the image
grid that moving texture crosses, like the illumination ramps it is meant to remove; it biases
the motion by more the smaller the tiles. On the warped sample frame (benchmarks/prefilter.py)
the RMS error on clean frames grows by 0.002 px at 256 px tiles, 0.02 px at 128 and 0.04 px at
64; on the CONUS crop by 0.004 px at 256 px and 0.006 px at 512 px (stronger equalisation)."""

CLIP = 2.0
"""Clip limit, times the uniform histogram level (1 = no equalisation, large = plain AHE)."""

BINS = 256
"""Histogram bins between the robust percentiles (the mapping is interpolated within a bin)."""

PERCENTILES = (0.5, 99.5)
"""Robust value range, percent of the valid pixels: outliers (hot pixels, glint) do not set it."""


def _tiles(n: int, tile: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Tiles along one axis: count, each pixel's tile, its lower blending tile and weight."""
    k = max(1, round(n / tile))
    pos = np.arange(n)
    own = pos * k // n
    f = (pos + 0.5) * k / n - 0.5  # position in units of tile centres
    lo = np.clip(np.floor(f), 0, k - 1).astype(np.int64)
    w = np.clip(f - lo, 0.0, 1.0) if k > 1 else np.zeros(n)
    return k, own, lo, w


def _mappings(t: np.ndarray, b: np.ndarray, ntiles: int, area: np.ndarray, clip: float, bins: int):
    """Clipped cumulative histograms (ntiles, bins + 1) in [0, 1] and each tile's weight."""
    hist = np.bincount(t * bins + b, minlength=ntiles * bins).reshape(ntiles, bins).astype(np.float64)
    count = hist.sum(axis=1)
    limit = clip * count / bins
    excess = np.maximum(hist - limit[:, None], 0.0).sum(axis=1)
    hist = np.minimum(hist, limit[:, None]) + excess[:, None] / bins
    cdf = np.zeros((ntiles, bins + 1))
    np.cumsum(hist, axis=1, out=cdf[:, 1:])
    empty = count == 0
    cdf[~empty] /= count[~empty, None]
    cdf[empty] = np.linspace(0.0, 1.0, bins + 1)  # never used: weight 0
    weight = np.minimum(1.0, count / np.maximum(0.5 * area, 1.0))
    return cdf, weight


def clahe(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    tile: int = TILE,
    clip: float = CLIP,
    bins: int = BINS,
    percentiles: tuple[float, float] = PERCENTILES,
) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of the valid pixels, in float.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        One channel in physical units; invalid pixels may hold anything, including NaN.
    mask : ndarray of bool, shape (rows, cols)
        True where valid.
    tile : int
        Tile size, px (the frame is cut into ``round(rows / tile)`` by
        ``round(cols / tile)`` tiles of nearly equal size).
    clip : float
        Clip limit, times the uniform histogram level; >= 1.
    bins : int
        Histogram bins between the robust percentiles.
    percentiles : (float, float)
        Robust value range, percent of the valid pixels; values outside it are clipped
        to it before equalisation.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Equalised values in [0, 1] at valid pixels, 0 at invalid pixels.

    References
    ----------
    Zuiderveld (1994); Thielicke and Stamhuis (2014), see the module.
    """
    if tile < 1 or clip < 1 or bins < 2:
        raise ValueError(f"clahe needs tile >= 1, clip >= 1 and bins >= 2, got {tile}, {clip}, {bins}")
    out = np.zeros(image.shape, dtype=np.float32)
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        return out
    v = np.asarray(image[rr, cc], dtype=np.float64)
    lo, hi = np.percentile(v, percentiles)
    if not hi > lo:  # (almost) constant frame: nothing to equalise
        lo, hi = float(v.min()), float(v.max())
        if not hi > lo:
            out[rr, cc] = 0.5
            return out
    p = np.clip((v - lo) / (hi - lo), 0.0, 1.0) * bins
    b = np.minimum(p.astype(np.int64), bins - 1)
    frac = p - b
    ky, own_y, lo_y, wy = _tiles(image.shape[0], tile)
    kx, own_x, lo_x, wx = _tiles(image.shape[1], tile)
    area = np.outer(np.bincount(own_y, minlength=ky), np.bincount(own_x, minlength=kx)).ravel()
    cdf, weight = _mappings(own_y[rr] * kx + own_x[cc], b, ky * kx, area, clip, bins)
    num = np.zeros(rr.size)
    den = np.zeros(rr.size)
    for dy_, fy in ((0, 1.0 - wy[rr]), (1, wy[rr])):
        ty = np.minimum(lo_y[rr] + dy_, ky - 1)
        for dx_, fx in ((0, 1.0 - wx[cc]), (1, wx[cc])):
            t = ty * kx + np.minimum(lo_x[cc] + dx_, kx - 1)
            w = fy * fx * weight[t]
            num += w * (cdf[t, b] + frac * (cdf[t, b + 1] - cdf[t, b]))
            den += w
    out[rr, cc] = num / np.maximum(den, 1e-12)
    return out
