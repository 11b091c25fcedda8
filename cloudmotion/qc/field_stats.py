"""Statistics over a vector field: the normalised median test over measured neighbours,
the forward-backward limit, temporal consistency, the quality score that ranks errors and
the interpolation of gaps. Pure numpy/scipy on (rows, cols) grids.

A vector with too few measured neighbours is unknown for the median test (NaN), never
"fully consistent"; the quality score then loses its consistency share.

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

__all__ = ["QUALITY_WEIGHTS", "fb_limit", "fill_field", "median_test", "quality_score", "temporal_consistency"]


QUALITY_WEIGHTS = {"error": 0.6, "consistency": 0.3, "correlation": 0.1}
"""Weights of the three quality terms (they sum to 1)."""


def _neighbours(field: np.ndarray) -> np.ndarray:
    """The 8 neighbours of every cell, shape (8, ny, nx), NaN outside the grid."""
    p = np.pad(field, 1, mode="constant", constant_values=np.nan)
    ny, nx = field.shape
    return np.stack(
        [p[1 + i : 1 + i + ny, 1 + j : 1 + j + nx] for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
    )


def median_test(
    dx: np.ndarray, dy: np.ndarray, measured: np.ndarray, *, eps: float = 0.1, min_neighbours: int = 3
) -> np.ndarray:
    """Normalised median residual against the measured vectors of the 3 x 3 neighbourhood.

    Parameters
    ----------
    dx, dy : ndarray, shape (ny, nx)
        Displacements on the vector grid, px.
    measured : ndarray of bool, shape (ny, nx)
        Vectors that are measurements and may act as neighbours: finite, and not failed by
        a gross test (NoData, peak at border, refinement failure, static plateau). Vectors
        flagged only for texture or correlation are measurements and count.
    eps : float
        Acceptable fluctuation level, px (0.1 px in Westerweel & Scarano 2005).
    min_neighbours : int
        Fewer measured neighbours than this: the test is not possible.

    Returns
    -------
    ndarray of float64, shape (ny, nx)
        ``max over components of |u0 - um| / (rm + eps)`` (median ``um`` and median absolute
        deviation ``rm`` of the neighbours); NaN where the vector is not finite or has fewer
        than ``min_neighbours`` measured neighbours (unknown, not consistent).
    """
    ok = np.asarray(measured, dtype=bool) & np.isfinite(dx) & np.isfinite(dy)
    n_ok = _neighbours(ok.astype(np.float64))
    n_ok = np.nansum(n_ok, axis=0)
    res = np.zeros(dx.shape)
    for comp in (dx, dy):
        nb = _neighbours(np.where(ok, comp, np.nan))
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # empty neighbourhoods are expected
            um = np.nanmedian(nb, axis=0)
            rm = np.nanmedian(np.abs(nb - um), axis=0)
        res = np.fmax(res, np.abs(comp - um) / (rm + eps))
    res[(n_ok < min_neighbours) | ~(np.isfinite(dx) & np.isfinite(dy))] = np.nan
    return res


def fb_limit(ee: np.ndarray, fb_max: float) -> np.ndarray:
    """Forward-backward threshold per vector, px: ``max(fb_max, 3 sqrt(2) ee)``.

    The forward and the backward estimate each err by about ``ee``, so their sum's length
    has an RMS of about ``sqrt(2) ee``; three times that is rarely exceeded by chance.
    Where ``ee`` is unknown the fixed ``fb_max`` applies.
    """
    ee = np.nan_to_num(np.asarray(ee, dtype=np.float64), nan=0.0, posinf=np.inf)
    return np.maximum(float(fb_max), 3.0 * np.sqrt(2.0) * ee)


def quality_score(
    ee: np.ndarray,
    median_residual: np.ndarray,
    corr: np.ndarray,
    *,
    max_error: float | np.ndarray,
    temporal: np.ndarray | None = None,
) -> np.ndarray:
    """Quality 0-100 that ranks errors.

    ``quality = 100 (0.6 q_e + 0.3 q_s + 0.1 q_c)`` with

    * ``q_e = 1 / (1 + 3 ee / max_error)``: the expected error against the accepted one
      (0.5 at a third of the threshold, 0.25 at it); it does not saturate, so it keeps
      ranking small errors (with the default 0.3 px: 0.83 at 0.02 px, 0.67 at 0.05 px);
    * ``q_s = 1 - tanh(residual / 2)^2`` from the median test over measured neighbours,
      0 where the test was not possible (unknown is not consistent); with a triplet
      comparison, the mean of this and the temporal consistency (0 where unknown);
    * ``q_c = clip(corr, 0, 1)^8``: the correlation peak height, steep near 1 where good
      matches lie (0.92 at 0.99, 0.43 at 0.9).

    Parameters
    ----------
    ee : ndarray
        Expected error, px (NaN or inf gives q_e = 0).
    median_residual : ndarray
        From :func:`median_test` (NaN = unknown).
    corr : ndarray
        Peak correlation coefficient; NaN gives quality 0.
    max_error : float or ndarray
        The ``--max-error`` threshold, px (per vector when it is a speed).
    temporal : ndarray, optional
        Temporal consistency in [0, 1] (NaN = unknown).

    Returns
    -------
    ndarray of float64
        Quality in [0, 100].
    """
    ee = np.asarray(ee, dtype=np.float64)
    with np.errstate(over="ignore"):
        q_e = np.where(
            np.isfinite(ee), 1.0 / (1.0 + 3.0 * np.nan_to_num(ee, nan=0.0) / np.maximum(max_error, 1e-9)), 0.0
        )
    res = np.asarray(median_residual, dtype=np.float64)
    q_s = np.where(np.isfinite(res), 1.0 - np.tanh(np.nan_to_num(res, nan=0.0) / 2.0) ** 2, 0.0)
    if temporal is not None:
        q_s = 0.5 * q_s + 0.5 * np.clip(np.nan_to_num(temporal, nan=0.0), 0.0, 1.0)
    c = np.asarray(corr, dtype=np.float64)
    q_c = np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0) ** 8
    w = QUALITY_WEIGHTS
    q = 100.0 * (w["error"] * q_e + w["consistency"] * q_s + w["correlation"] * q_c)
    q[~np.isfinite(c)] = 0.0
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

    from scipy import ndimage  # here: its import is slow and only this check needs it

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
    from cloudmotion.grid import fill_invalid

    if not good.any():
        return dx.copy(), dy.copy(), np.zeros(good.shape, dtype=bool)
    return fill_invalid(dx, good, sigma=sigma), fill_invalid(dy, good, sigma=sigma), ~good
