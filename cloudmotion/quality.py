"""Quality control: the ``flag`` bitmask, the normalised median test and the quality score.

Every vector carries ``flag`` (0 = good, otherwise the OR of the reasons below)
and ``quality``, a score from 0 (worthless) to 100 (fully trusted).

References
----------
Westerweel, J. and Scarano, F. (2005). Universal outlier detection for PIV data.
Experiments in Fluids 39, 1096-1100.
Holmlund, K. (1998). The utilization of statistical properties of satellite-derived
atmospheric motion vectors to derive quality indicators. Weather and Forecasting 13, 1093-1104.
"""

from __future__ import annotations

import enum
import warnings

import numpy as np

__all__ = ["FLAG_DESCRIPTIONS", "Flag", "median_test", "quality_score"]


class Flag(enum.IntFlag):
    """Reasons a vector is not good; ``flag == 0`` means good. See :data:`FLAG_DESCRIPTIONS`."""

    NODATA = 1
    LOW_TEXTURE = 2
    LOW_CORRELATION = 4
    LOW_PEAK_RATIO = 8
    PEAK_AT_BORDER = 16
    REFINE_FAILED = 32
    MEDIAN_OUTLIER = 128


FLAG_DESCRIPTIONS = {
    Flag.NODATA: "too little valid data in the template (min_valid) or no defined correlation: no vector",
    Flag.LOW_TEXTURE: "template too flat to carry motion: its standard deviation is below min_texture "
    "times the frame's (clear sky, flat cloud tops)",
    Flag.LOW_CORRELATION: "peak correlation coefficient below min_corr",
    Flag.LOW_PEAK_RATIO: "first over second correlation peak below min_peak_ratio: ambiguous match",
    Flag.PEAK_AT_BORDER: "correlation peak on the edge of the search region or of the defined lags: "
    "the motion may exceed --search; no vector",
    Flag.REFINE_FAILED: "Lucas-Kanade did not converge, was ill-conditioned (aperture problem) or moved "
    "more than 1.5 px from the correlation peak; the correlation estimate is kept",
    Flag.MEDIAN_OUTLIER: "normalised median residual against the 3x3 neighbours above median_threshold "
    "(Westerweel & Scarano 2005)",
}
"""One line per flag bit, as documented in the README."""


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
