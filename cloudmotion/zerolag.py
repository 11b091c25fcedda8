"""The correlation coefficient of each template at lag 0 (frame A's window against the same
window of frame B), for the surface-locked test (:data:`cloudmotion.qc.Flag.SURFACE`).

A separate pure function so the correlation stage (:func:`cloudmotion.correlate.correlate_grid`)
stays untouched; it is the Pearson coefficient over the pixels valid in both windows, as the
masked NCC surfaces define every lag (Padfield 2012), from frame-level summed-area tables:
five tables, four gathers per template and table, no window stack.
"""

from __future__ import annotations

import numpy as np

from .grid import integral_image, window_sums

__all__ = ["zero_lag_ncc"]


def zero_lag_ncc(a: np.ndarray, a_valid: np.ndarray, b: np.ndarray, b_valid: np.ndarray, rows: np.ndarray,
                 cols: np.ndarray, window: int) -> np.ndarray:
    """Normalised cross-correlation at zero displacement, vectorised over templates.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Frames A and B (pre-filtered as for the correlation stage), physical units.
    a_valid, b_valid : ndarray of bool, shape (rows, cols)
        Validity masks.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template.
    window : int
        Template size, px.

    Returns
    -------
    ndarray of float64, shape (N,)
        Pearson's coefficient in [-1, 1] between ``A`` and ``B`` over the template's pixels
        valid in both; NaN with fewer than 2 such pixels or no variance in either.

    References
    ----------
    Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE Trans.
    Image Processing 21(5), 2706-2718.
    """
    both = np.asarray(a_valid, bool) & np.asarray(b_valid, bool)
    offset = float(np.mean(a[both], dtype=np.float64)) if both.any() else 0.0  # centred: sums stay accurate
    x = np.where(both, np.asarray(a, np.float64) - offset, 0.0)
    y = np.where(both, np.asarray(b, np.float64) - offset, 0.0)

    def sums(v: np.ndarray) -> np.ndarray:
        return window_sums(integral_image(v), rows, cols, window)

    n = sums(both)
    sx, sy = sums(x), sums(y)
    sxy = sums(x * y)
    sxx = sums(x * x)
    syy = sums(y * y)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        ok = (n >= 2) & (vx > 1e-12 * sxx) & (vy > 1e-12 * syy)
        out = np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)
    return np.clip(out, -1.0, 1.0)
