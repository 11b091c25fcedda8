"""Statistics over a vector field: the normalised median test, temporal consistency, the
quality score and the interpolation of gaps. Pure numpy/scipy on (rows, cols) grids.

References
----------
Westerweel, J. and Scarano, F. (2005). Universal outlier detection for PIV data.
Experiments in Fluids 39, 1096-1100.
Holmlund, K. (1998). The utilization of statistical properties of satellite-derived
atmospheric motion vectors to derive quality indicators. Weather and Forecasting 13, 1093-1104.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

__all__ = ["fill_field", "median_test", "quality_score", "temporal_consistency"]


def _neighbour_stack(field: np.ndarray) -> np.ndarray:
    """Return the 8 neighbours of every cell as an array of shape (8, ny, nx), NaN outside."""
    padded = np.pad(field, 1, mode="constant", constant_values=np.nan)
    ny, nx = field.shape
    out = [
        padded[1 + di : 1 + di + ny, 1 + dj : 1 + dj + nx]
        for di in (-1, 0, 1)
        for dj in (-1, 0, 1)
        if (di, dj) != (0, 0)
    ]
    return np.stack(out)


def median_test(
    dx: np.ndarray, dy: np.ndarray, good: np.ndarray, *, eps: float = 0.1, min_neighbours: int = 3
) -> np.ndarray:
    """Normalised median residual of every vector against its 3x3 neighbourhood.

    Parameters
    ----------
    dx, dy : ndarray, shape (ny, nx)
        Displacement components in pixels on the vector grid (rows, cols).
    good : ndarray of bool, shape (ny, nx)
        Vectors allowed to act as neighbours (flagged vectors are excluded).
    eps : float
        Acceptable fluctuation level in pixels (Westerweel & Scarano use 0.1 px).
    min_neighbours : int
        Fewer good neighbours than this gives a residual of 0 (not testable).

    Returns
    -------
    ndarray, shape (ny, nx)
        The larger of the two component residuals ``|u0 - um| / (rm + eps)``; NaN where
        the vector itself is NaN. Westerweel & Scarano flag residuals above 2.
    """
    res = np.zeros(dx.shape, dtype=np.float64)
    count = _neighbour_stack(np.where(good, 1.0, np.nan))
    n_ok = np.sum(np.isfinite(count), axis=0)
    for comp in (dx, dy):
        nb = _neighbour_stack(np.where(good, comp, np.nan))
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN neighbourhoods are expected
            um = np.nanmedian(nb, axis=0)
            rm = np.nanmedian(np.abs(nb - um), axis=0)
        r = np.abs(comp - um) / (rm + eps)
        res = np.fmax(res, np.where(n_ok >= min_neighbours, r, 0.0))
    res[~(np.isfinite(dx) & np.isfinite(dy))] = np.nan
    return res


def quality_score(
    corr: np.ndarray,
    peak_ratio: np.ndarray,
    median_residual: np.ndarray,
    temporal: np.ndarray | None = None,
) -> np.ndarray:
    """Combine per-vector evidence into a quality index from 0 to 100.

    Each component is mapped to [0, 1] and the components are averaged with weights
    (Holmlund 1998 style quality index, without a forecast model):

    * correlation: ``clip((corr - 0.3) / 0.6, 0, 1)`` (weight 0.4);
    * peak ratio: ``clip((ratio - 1) / 1, 0, 1)`` (weight 0.2);
    * spatial consistency: ``1 - tanh(residual / 2)**2`` (weight 0.4), so a residual
      at the median-test threshold of 2 scores 0.42;
    * temporal consistency (triplets), already in [0, 1], shares weight 0.4 with the
      spatial term when given.

    Parameters
    ----------
    corr, peak_ratio, median_residual : ndarray
        Same shape; NaN in ``corr`` gives quality 0.
    temporal : ndarray, optional
        Temporal consistency in [0, 1] from a triplet comparison.

    Returns
    -------
    ndarray of float64
        Quality in [0, 100].
    """
    qc = np.clip((np.nan_to_num(corr, nan=0.0) - 0.3) / 0.6, 0.0, 1.0)
    qr = np.clip(np.nan_to_num(peak_ratio, nan=1.0) - 1.0, 0.0, 1.0)
    qs = 1.0 - np.tanh(np.nan_to_num(median_residual, nan=10.0) / 2.0) ** 2
    if temporal is None:
        consistency = qs
    else:
        consistency = 0.5 * qs + 0.5 * np.clip(np.nan_to_num(temporal, nan=0.0), 0.0, 1.0)
    q = 100.0 * (0.4 * qc + 0.2 * qr + 0.4 * consistency)
    q[~np.isfinite(corr)] = 0.0
    return q


def temporal_consistency(
    row: np.ndarray,
    col: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    other_dx: np.ndarray,
    other_dy: np.ndarray,
    other_good: np.ndarray,
    *,
    row0: float,
    col0: float,
    step: float,
    backward: bool = False,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Compare each vector with the next (or previous) pair's vector along its trajectory.

    With ``backward=False`` the other field (pair B -> C) is sampled at this vector's end
    point ``origin + d``; with ``backward=True`` the other field (pair Z -> A) is sampled
    at ``origin - d``, where the feature came from. Sampling is bilinear over the other
    field's good vectors.

    The consistency follows Holmlund (1998): the mean of three terms, each
    ``1 - tanh(difference / tolerance)``, with ``s`` the mean length of the two vectors
    in pixels:

    * direction: ``|angle difference|`` in degrees, tolerance ``20 exp(-s / 0.5) + 10``
      (short vectors have uncertain directions);
    * speed: ``| |d1| - |d2| |``, tolerance ``0.2 s + 0.1`` px;
    * vector: ``|d1 - d2|``, tolerance ``0.2 s + 0.1`` px.

    Parameters
    ----------
    row, col : ndarray, shape (ny, nx)
        Origins of this field's vectors (pixel index coordinates).
    dx, dy : ndarray, shape (ny, nx)
        This field's displacements, px.
    other_dx, other_dy : ndarray, shape (my, mx)
        The other pair's displacements on its grid, px.
    other_good : ndarray of bool, shape (my, mx)
        The other pair's good vectors.
    row0, col0, step : float
        The other grid's first origin and spacing, px.
    backward : bool
        Sample at ``origin - d`` (previous pair) instead of ``origin + d`` (next pair).
    scale : float
        Multiplies the other field's displacements to this pair's time step
        (``dt_this / dt_other``).

    Returns
    -------
    consistency : ndarray, shape (ny, nx)
        In [0, 1]; NaN where no comparison is possible.
    difference : ndarray, shape (ny, nx)
        ``|d1 - d2|`` in px; NaN where no comparison is possible.
    """
    sign = -1.0 if backward else 1.0
    pr = (row + sign * dy - row0) / step
    pc = (col + sign * dx - col0) / step
    good = other_good & np.isfinite(other_dx) & np.isfinite(other_dy)
    w = good.astype(np.float64)
    coords = [np.nan_to_num(pr.ravel(), nan=-1e9), np.nan_to_num(pc.ravel(), nan=-1e9)]

    def sample(values: np.ndarray) -> np.ndarray:
        return ndimage.map_coordinates(values, coords, order=1, mode="constant", cval=0.0).reshape(row.shape)

    wsum = sample(w)
    with np.errstate(invalid="ignore", divide="ignore"):
        ox = sample(np.where(good, other_dx, 0.0)) / wsum * scale
        oy = sample(np.where(good, other_dy, 0.0)) / wsum * scale
    usable = (wsum > 0.5) & np.isfinite(dx) & np.isfinite(dy)
    s1, s2 = np.hypot(dx, dy), np.hypot(ox, oy)
    s = 0.5 * (s1 + s2)
    ang = np.degrees(np.abs(np.angle(np.exp(1j * (np.arctan2(dy, dx) - np.arctan2(oy, ox))))))
    diff = np.hypot(dx - ox, dy - oy)
    tol = 0.2 * s + 0.1
    dc = 1.0 - np.tanh(ang / (20.0 * np.exp(-s / 0.5) + 10.0))
    sc = 1.0 - np.tanh(np.abs(s1 - s2) / tol)
    vc = 1.0 - np.tanh(diff / tol)
    cons = (dc + sc + vc) / 3.0
    return np.where(usable, cons, np.nan), np.where(usable, diff, np.nan)


def fill_field(dx: np.ndarray, dy: np.ndarray, good: np.ndarray, *, sigma: float = 1.0) -> tuple[np.ndarray, ...]:
    """Replace vectors that are not good by normalised-convolution interpolation of good ones.

    Parameters
    ----------
    dx, dy : ndarray, shape (ny, nx)
        Displacements, px.
    good : ndarray of bool, shape (ny, nx)
        Vectors to keep and interpolate from.
    sigma : float
        Gaussian width in grid cells (see :func:`cloudmotion.grid.fill_invalid`).

    Returns
    -------
    dx, dy : ndarray
        Filled fields (good vectors unchanged).
    filled : ndarray of bool
        Cells that were interpolated; all False when no vector is good.
    """
    from .grid import fill_invalid

    if not good.any():
        return dx.copy(), dy.copy(), np.zeros(good.shape, dtype=bool)
    return fill_invalid(dx, good, sigma=sigma), fill_invalid(dy, good, sigma=sigma), ~good
