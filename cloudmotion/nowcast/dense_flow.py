"""A dense motion field from scattered motion vectors: expected-error-weighted normalised
convolution that relaxes to the scene's median motion far from any good vector.

Pure numpy/scipy/OpenCV: arrays in, arrays out; no file I/O.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["EE_FLOOR", "PRIOR_SHARE", "dense_flow", "vector_weights"]

EE_FLOOR = 0.01
"""Smallest expected error used in a weight, px (the tracker's model-error floor): no single
vector gets an unbounded weight."""

PRIOR_SHARE = 0.1
"""Certainty of the median motion, as a share of a typical good vector's certainty: a lone
vector dominates within about two smoothing lengths, and the median beyond three."""


def vector_weights(ee: np.ndarray, good: np.ndarray) -> np.ndarray:
    """Inverse-variance weights ``1 / max(ee, EE_FLOOR)**2`` for good vectors, 0 elsewhere.

    Parameters
    ----------
    ee : ndarray
        Expected error of each vector, px; an unknown (NaN) ee counts as the median ee of
        the good vectors.
    good : ndarray of bool
        Vectors to use (``flag == 0`` and a finite displacement).

    Returns
    -------
    ndarray of float64, same shape
    """
    ee = np.asarray(ee, dtype=np.float64)
    good = np.asarray(good, dtype=bool)
    known = good & np.isfinite(ee)
    typical = float(np.median(ee[known])) if known.any() else 0.1
    e = np.where(np.isfinite(ee), ee, typical)
    return np.where(good, 1.0 / np.maximum(e, EE_FLOOR) ** 2, 0.0)


def _splat(
    values: np.ndarray, weights: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Bilinear splat of ``values * weights`` at fractional lattice positions (one bincount)."""
    r0 = np.floor(rows).astype(np.int64)
    c0 = np.floor(cols).astype(np.int64)
    fr, fc = rows - r0, cols - c0
    out = np.zeros(shape[0] * shape[1])
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr = np.clip(r0 + dr, 0, shape[0] - 1)
        cc = np.clip(c0 + dc, 0, shape[1] - 1)
        out += np.bincount(rr * shape[1] + cc, weights=values * weights * w, minlength=out.size)
    return out.reshape(shape)


def dense_flow(
    rows: np.ndarray,
    cols: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    weights: np.ndarray,
    shape: tuple[int, int],
    *,
    length: float,
    spacing: float | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Interpolate scattered displacements onto every pixel of a frame.

    Normalised convolution (Knutsson & Westin 1993) with a Gaussian applicability of
    standard deviation ``length``: ``d(p) = (G*(w d) + w0 m) / (G*w + w0)``, where ``w`` are
    the vectors' certainties (inverse expected-error variance, :func:`vector_weights`),
    ``m`` is the weighted median motion of the scene and ``w0 = PRIOR_SHARE`` times the
    median certainty. Near good vectors the field follows them; far from all of them it
    relaxes smoothly to ``m``. The sums are formed on a lattice of ``spacing`` px (bilinear
    splatting, then a separable Gaussian continuing the edge sums past the frame), then
    interpolated bilinearly to every pixel, so
    the cost is that of the vector count plus one resampling of the frame.

    Parameters
    ----------
    rows, cols : ndarray, shape (n,)
        Where each displacement applies, in frame pixel indices (0-based, fractional
        allowed; e.g. the midpoint of each vector).
    dx, dy : ndarray, shape (n,)
        Displacement along columns and rows, px per frame interval. Non-finite entries
        are ignored.
    weights : ndarray, shape (n,)
        Certainty of each vector (0 ignores it).
    shape : (int, int)
        Frame shape (rows, cols).
    length : float
        Smoothing length: the Gaussian's standard deviation, px (> 0).
    spacing : float, optional
        Lattice spacing, px; default ``length / 2`` (at most 16, at least 1).

    Returns
    -------
    dx, dy : ndarray of float32, shape ``shape``
        Dense displacement along columns and rows, px per frame interval.
    median : (float, float)
        The median motion (dx, dy) the field relaxes to; (0, 0) without any good vector.

    References
    ----------
    Knutsson, H. & Westin, C.-F. (1993). Normalized and differential convolution. CVPR, 515-523.
    """
    import cv2

    if length <= 0:
        raise ValueError("length must be > 0")
    rows, cols, dx, dy, w = (np.asarray(a, dtype=np.float64).ravel() for a in (rows, cols, dx, dy, weights))
    use = np.isfinite(dx) & np.isfinite(dy) & np.isfinite(rows) & np.isfinite(cols) & (w > 0)
    rows, cols, dx, dy, w = rows[use], cols[use], dx[use], dy[use], w[use]
    if not w.size:
        return (np.zeros(shape, np.float32), np.zeros(shape, np.float32), (0.0, 0.0))
    med = (_weighted_median(dx, w), _weighted_median(dy, w))
    h = float(spacing) if spacing is not None else float(np.clip(length / 2.0, 1.0, 16.0))
    # lattice node j sits at frame position (j + 0.5) * scale - 0.5, cv2.resize's convention
    nr, nc = (max(2, int(np.ceil(s / h))) for s in shape)
    sr, sc = shape[0] / nr, shape[1] / nc
    lr, lc = np.clip((rows + 0.5) / sr - 0.5, 0, nr - 1), np.clip((cols + 0.5) / sc - 0.5, 0, nc - 1)
    sigma = (length / sr, length / sc)
    smooth = lambda a: ndimage.gaussian_filter(a, sigma, mode="nearest", truncate=4.0)  # edge vectors carry on
    peak = smooth(_unit(nr, nc)).max()  # so that one vector's own certainty reads as w at its node
    wsum = smooth(_splat(np.ones_like(w), w, lr, lc, (nr, nc))) / peak
    w0 = PRIOR_SHARE * float(np.median(w))
    out = []
    for d, m in zip((dx, dy), med, strict=True):
        num = smooth(_splat(d, w, lr, lc, (nr, nc))) / peak
        lattice = ((num + w0 * m) / (wsum + w0)).astype(np.float32)
        out.append(cv2.resize(lattice, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR))
    return out[0], out[1], med


def _unit(nr: int, nc: int) -> np.ndarray:
    a = np.zeros((nr, nc))
    a[nr // 2, nc // 2] = 1.0
    return a


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])
