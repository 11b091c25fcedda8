"""Correlation peaks: integer location, second peak, and sub-pixel fits by name.

Surfaces are (N, K, K) stacks from :func:`cloudmotion.motion.correlate.ncc_surfaces`; NaN marks
undefined lags. Sub-pixel offsets are in pixels, per axis, relative to the integer peak.

References
----------
Willert, C. E. and Gharib, M. (1991). Digital particle image velocimetry.
Experiments in Fluids 10, 181-193 (three-point Gaussian fit).
Raffel, M. et al. (2018). Particle Image Velocimetry, 3rd ed., Springer, sec. 5.4.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cloudmotion.registry import SUBPIXEL

__all__ = ["FITTERS", "Peaks", "centroid_fit", "fit_subpixel", "gaussian_fit", "locate_peaks", "parabolic_fit"]


@dataclass(frozen=True)
class Peaks:
    """Integer peaks of a stack of correlation surfaces.

    Attributes
    ----------
    iy, ix : ndarray of int, shape (N,)
        Row and column index of the highest value in each surface.
    value : ndarray of float, shape (N,)
        Peak correlation; NaN where the surface is all NaN.
    second : ndarray of float, shape (N,)
        Highest local maximum outside the (2 * exclude + 1)^2 block around the peak;
        NaN when there is none.
    on_border : ndarray of bool, shape (N,)
        The peak lies on the edge of the surface or next to an undefined lag, so it
        cannot be fitted and the true motion may lie outside the search range.
    """

    iy: np.ndarray
    ix: np.ndarray
    value: np.ndarray
    second: np.ndarray
    on_border: np.ndarray


def locate_peaks(surfaces: np.ndarray, *, exclude: int = 2) -> Peaks:
    """Find the highest and the second-highest peak of each correlation surface.

    Parameters
    ----------
    surfaces : ndarray, shape (N, K, K)
        Correlation surfaces, NaN where undefined.
    exclude : int
        Half-width in pixels of the block around the main peak that cannot hold the
        second peak.

    Returns
    -------
    Peaks
    """
    n, ky, kx = surfaces.shape
    s = np.where(np.isfinite(surfaces), surfaces, -np.inf)
    flat = s.reshape(n, -1).argmax(axis=1)
    iy, ix = np.divmod(flat, kx)
    idx = np.arange(n)
    value = s[idx, iy, ix].astype(np.float64)
    empty = ~np.isfinite(value)
    value[empty] = np.nan

    padded = np.pad(s, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    neighbours = np.stack([padded[idx, iy + 1 + di, ix + 1 + dj] for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1))])
    on_border = empty | ~np.isfinite(neighbours).all(axis=0)

    local_max = (_max3x3(s) == s) & np.isfinite(s)
    rr = np.arange(ky)[None, :, None]
    cc = np.arange(kx)[None, None, :]
    near = (np.abs(rr - iy[:, None, None]) <= exclude) & (np.abs(cc - ix[:, None, None]) <= exclude)
    cand = np.where(local_max & ~near, s, -np.inf).reshape(n, -1).max(axis=1).astype(np.float64)
    cand[~np.isfinite(cand)] = np.nan
    return Peaks(iy=iy, ix=ix, value=value, second=cand, on_border=on_border)


def _max3x3(s: np.ndarray) -> np.ndarray:
    """3 x 3 maximum filter of each surface of a (N, K, K) stack, -inf outside each surface.

    The surfaces are laid one under another with a -inf row between neighbours, so one
    OpenCV dilation (SIMD, float32) filters them all without mixing them.
    """
    n, ky, kx = s.shape
    tall = np.full((n, ky + 1, kx), -np.inf, dtype=np.float32)
    tall[:, :ky] = s
    out = cv2.dilate(
        tall.reshape(n * (ky + 1), kx), np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf
    )
    return out.reshape(n, ky + 1, kx)[:, :ky]


def _three_point(
    surfaces: np.ndarray, peaks: Peaks
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Values (minus, centre, plus) along rows and along columns around each peak."""
    n, ky, kx = surfaces.shape
    idx = np.arange(n)
    iy = np.clip(peaks.iy, 1, ky - 2)
    ix = np.clip(peaks.ix, 1, kx - 2)
    c0 = surfaces[idx, iy, ix].astype(np.float64)
    ym = surfaces[idx, iy - 1, ix].astype(np.float64)
    yp = surfaces[idx, iy + 1, ix].astype(np.float64)
    xm = surfaces[idx, iy, ix - 1].astype(np.float64)
    xp = surfaces[idx, iy, ix + 1].astype(np.float64)
    return (ym, c0, yp), (xm, c0, xp)


def parabolic_fit(m: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    den = m - 2.0 * c + p
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(den < 0, (m - p) / (2.0 * den), 0.0)
    return d


def gaussian_fit(m: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    positive = (m > 0) & (c > 0) & (p > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lm, lc, lp = (np.log(np.where(positive, v, 1.0)) for v in (m, c, p))
        den = 2.0 * lm - 4.0 * lc + 2.0 * lp
        d = np.where(den < 0, (lm - lp) / den, 0.0)
    return np.where(positive, d, parabolic_fit(m, c, p))


def centroid_fit(m: np.ndarray, c: np.ndarray, p: np.ndarray) -> np.ndarray:
    base = np.minimum(np.minimum(m, c), p)
    tot = (m - base) + (c - base) + (p - base)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tot > 0, ((p - base) - (m - base)) / tot, 0.0)


FITTERS = SUBPIXEL
"""Three-point sub-pixel fitters by name (the :data:`cloudmotion.registry.SUBPIXEL` registry):
``f(minus, centre, plus) -> offset`` in px.

``gaussian`` fits a Gaussian through the three values (parabola through their logs) and
falls back to ``parabolic`` where any value is <= 0; ``centroid`` is the centre of mass of
the three values above their minimum.
"""


def fit_subpixel(surfaces: np.ndarray, peaks: Peaks, method: str = "gaussian") -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peak position of each surface, per axis.

    Parameters
    ----------
    surfaces : ndarray, shape (N, K, K)
        Correlation surfaces.
    peaks : Peaks
        Their integer peaks from :func:`locate_peaks`.
    method : {"gaussian", "parabolic", "centroid"}
        Fitter name (see :data:`FITTERS`).

    Returns
    -------
    row, col : ndarray of float64, shape (N,)
        Peak position in surface index units (row lag index, column lag index);
        NaN where the peak is on the border or the surface is empty.
    """
    fit = SUBPIXEL.get(method)
    (ym, c0, yp), (xm, _, xp) = _three_point(surfaces, peaks)
    fy = np.clip(np.nan_to_num(fit(ym, c0, yp)), -0.5, 0.5)
    fx = np.clip(np.nan_to_num(fit(xm, c0, xp)), -0.5, 0.5)
    row = peaks.iy + fy
    col = peaks.ix + fx
    row[peaks.on_border] = np.nan
    col[peaks.on_border] = np.nan
    return row, col
