"""Expected error of every vector: a calibrated estimate of ``|d - d_true|`` in pixels.

The error of a translation estimate that minimises ``sum m (B(p + d) - A(p))^2`` over a
template (Lucas-Kanade, or the peak of a normalised cross-correlation, to first order the
same estimator) has the covariance

    Cov(d) = H^-1 (sum_p sum_q g_p g_q^T C(p - q)) H^-1  ~=  s2 F H^-1,

with ``g`` the template gradient, ``H = sum g g^T`` the structure tensor, ``C`` the
autocovariance of the residual ``e = B_warped - A`` and ``s2 = C(0)`` its variance
(Lucas & Kanade 1981; Kearney et al. 1987; Robinson & Milanfar 2004). Everything is taken
from the pair itself:

* ``s2``: the motion-compensated residual of each template at its final displacement
  (gain- and offset-normalised as the refinement does), which holds the noise of both
  frames plus whatever the translation model misses (cloud evolution, shear, rotation);
* the pair's noise level: a low quantile of the template residual variances (noise is
  everywhere, model mismatch only somewhere), see :func:`pair_noise`;
* ``H`` with the noise's share removed: noise adds ``n sigma_g^2`` to each diagonal entry,
  ``sigma_g^2`` the variance of a central difference of the filtered noise of frame A
  (:func:`prefilter_noise_factors`);
* ``F``, the effective number of correlated residual samples per independent one seen by
  the gradients: the pre-filter (Gaussian of ``sigma`` px, or a difference of Gaussians)
  correlates the noise over
  ``rho(r) = (K*K)(r) / sum K^2``, and the template's gradients decorrelate over lags whose
  lag-one autocorrelation ``a`` is measured per template; ``F = sum_r rho(r) a^|r|^2``
  (``F = 1 / sum K^2`` for smooth texture, ``F = 1`` without a filter);
* the peak of the correlation: its curvature ``kappa`` (per px^2) and height ``rho0``
  give the same covariance independently of the gradients, ``2 (1 - rho0) F / (n kappa)``
  per axis; the larger of the two estimates is kept, so a broad or low peak is never
  hidden by a sharp tensor;
* a model-error floor, :data:`FLOOR_PX`, for interpolation and sub-pixel estimation. The
  flow's non-uniformity needs no term of its own: the residual already holds what the
  first-order unbiasing (:func:`cloudmotion.refine.gradient_bias`) leaves, and on warped
  real GOES texture without noise (vortex plus shear, ``benchmarks/expected_error.py``) the
  deciles are calibrated to 0.87-1.09 with the floor alone.

The result is ``ee = sqrt(CALIBRATION * tr(Cov) + floor^2)`` in px: the expected length of
the error vector, i.e. the RMS of ``|d - d_true|`` over vectors with the same ``ee``.

References
----------
Lucas, B. D. and Kanade, T. (1981). An iterative image registration technique with an
application to stereo vision. Proc. IJCAI, 674-679.
Kearney, J. K., Thompson, W. B. and Boley, D. L. (1987). Optical flow estimation: an error
analysis of gradient-based methods with local optimization. IEEE TPAMI 9(2), 229-244.
Robinson, D. and Milanfar, P. (2004). Fundamental performance limits in image
registration. IEEE Trans. Image Processing 13(9), 1185-1199.
Westerweel, J. (2000). Theoretical analysis of the measurement precision in particle image
velocimetry. Experiments in Fluids 29, S003-S012.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .grid import extract_windows

__all__ = ["CALIBRATION", "FLOOR_PX", "TemplateTerms", "expected_error", "pair_noise",
           "prefilter_noise_factors", "template_terms"]

CALIBRATION = 1.0
"""Multiplier of the noise covariance (1 = the first-order theory), measured."""

FLOOR_PX = 0.01
"""Model-error floor for interpolation and sub-pixel estimation, px (measured, 0 % noise)."""

MIN_CLEAN = 0.1
"""Smallest share of a structure-tensor eigenvalue kept when the noise's share is removed."""


_LAGS = 4  # residual-noise autocorrelation is summed over |lag| <= _LAGS px


@dataclass(frozen=True)
class TemplateTerms:
    """What :func:`template_terms` measures per template, all arrays of shape (N,).

    Attributes
    ----------
    count : float
        Pixels used (valid in A, valid warped support in B, not excluded).
    tensor : (N, 3) float
        Structure tensor ``(sum gx^2, sum gx gy, sum gy^2)`` over those pixels, value^2/px^2.
    residual_var : float
        Variance of the normalised residual ``gain (B_w - mean) - (A - mean)``, value^2.
    grad_corr : (N, 2) float
        Lag-one autocorrelation of the gradients along columns and rows, in [0, 1].
    peak_corr : float
        Correlation coefficient of A and B warped by the displacement.
    curvature : (N, 2) float
        ``-d^2 rho / d dx^2`` and ``-d^2 rho / d dy^2`` of the correlation peak, per px^2,
        from the coefficients at ``d`` and ``d +- 1`` px along each axis.
    """

    count: np.ndarray
    tensor: np.ndarray
    residual_var: np.ndarray
    grad_corr: np.ndarray
    peak_corr: np.ndarray
    curvature: np.ndarray


def _kernel(frac: np.ndarray) -> np.ndarray:
    """Keys bicubic weights at offsets -1, 0, +1, +2, shape (N, 4)."""
    t = frac[:, None]
    t2, t3 = t * t, t * t * t
    return np.hstack([-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t,
                      0.5 * t3 - 0.5 * t2]).astype(np.float32)


def _warp(pb: np.ndarray, pok: np.ndarray, pad: int, rows, cols, w: int, dy, dx, grow: int):
    """B sampled at (row + i + dy, col + j + dx), i, j in range(-grow, w + grow), and its validity."""
    iy = np.floor(dy).astype(np.int64)
    ix = np.floor(dx).astype(np.int64)
    wy, wx = _kernel(dy - iy), _kernel(dx - ix)
    s = w + 2 * grow
    patch = extract_windows(pb, pad, rows + iy - 1 - grow, cols + ix - 1 - grow, s + 3)
    tmp = sum(patch[:, :, k : k + s] * wx[:, k, None, None] for k in range(4))
    out = sum(tmp[:, k : k + s] * wy[:, k, None, None] for k in range(4))
    ok = extract_windows(pok, pad, rows + iy - grow, cols + ix - grow, s)
    return out, ok


def _ncc(t: np.ndarray, u: np.ndarray, m: np.ndarray) -> np.ndarray:
    n = np.maximum(m.sum(axis=(1, 2)), 1.0)
    tm = (t * m).sum(axis=(1, 2)) / n
    um = (u * m).sum(axis=(1, 2)) / n
    tc = (t - tm[:, None, None]) * m
    uc = (u - um[:, None, None]) * m
    num = (tc * uc).sum(axis=(1, 2), dtype=np.float64)
    den = np.sqrt((tc * tc).sum(axis=(1, 2), dtype=np.float64) * (uc * uc).sum(axis=(1, 2), dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _frames(a, valid_a, b, valid_b, dx, dy, exclude):
    """Padded frames both paths read: A (offset removed), usable pixels, masked gradients, B and its support."""
    use = valid_a if exclude is None else valid_a & ~exclude
    offset = float(np.mean(a[valid_a])) if valid_a.any() else 0.0
    pa = np.where(valid_a, a - offset, 0).astype(np.float32)
    gy, gx = np.gradient(pa)
    gmask = cv2.erode(use.view(np.uint8), np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    lim = float(np.max(np.abs(np.concatenate([dx, dy])))) if dx.size else 0.0
    pad = int(np.ceil(lim)) + 5
    pb = np.pad(np.where(valid_b, b - offset, 0).astype(np.float32), pad)
    pok = cv2.erode(np.pad(valid_b, pad).view(np.uint8), np.ones((4, 4), np.uint8), anchor=(1, 1),
                    borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    ppa = np.pad(pa, 1)
    pgm = np.pad(gmask, 1)
    pgx, pgy = np.pad(gx * gmask, 1), np.pad(gy * gmask, 1)
    return ppa, np.pad(use, 1), pgm, pgx, pgy, pb, pok, pad


def template_terms(
    a: np.ndarray,
    valid_a: np.ndarray,
    b: np.ndarray,
    valid_b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    chunk: int = 1024,
    compiled: bool = True,
    threads: int | None = None,
) -> TemplateTerms:
    """Per-template quantities the expected error is built from, at the final displacement.

    Frame B is warped by each template's displacement with the Keys bicubic kernel (the
    refinement's default), so the residual is the one the estimate leaves.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Pre-filtered frames A and B (any values where invalid).
    valid_a, valid_b : ndarray of bool
        Validity masks.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template in A.
    window : int
        Template size, px.
    dx, dy : ndarray of float, shape (N,)
        Final displacements, px; NaN gives NaN terms.
    exclude : ndarray of bool, optional
        Pixels of A to leave out (e.g. a static plateau and its filtered boundary, see
        :mod:`cloudmotion.plateau`).
    chunk : int
        Templates processed at once (numpy path).
    compiled : bool
        Use the compiled kernel (:func:`cloudmotion.ee_kernels.ee_terms`); False runs the
        numpy reference, which gives the same terms to float32 rounding.
    threads : int, optional
        Threads of the compiled kernel; default the cores available.

    Returns
    -------
    TemplateTerms
    """
    n = len(rows)
    w = window
    out = {"count": np.zeros(n), "tensor": np.full((n, 3), np.nan), "residual_var": np.full(n, np.nan),
           "grad_corr": np.full((n, 2), np.nan), "peak_corr": np.full(n, np.nan),
           "curvature": np.full((n, 2), np.nan)}
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
    if todo.size == 0:
        return TemplateTerms(**out)
    ppa, puse, pgm, pgx, pgy, pb, pok, pad = _frames(a, valid_a, b, valid_b, dx[todo], dy[todo], exclude)
    if compiled:
        from .ee_kernels import ee_terms
        from .jit import split_run

        per = (np.ascontiguousarray(rows[todo], dtype=np.int64), np.ascontiguousarray(cols[todo], dtype=np.int64),
               np.ascontiguousarray(dx[todo]), np.ascontiguousarray(dy[todo]))
        res = split_run(ee_terms, threads, (ppa, puse, pgm, pgx, pgy, pb, pok, pad), per, (w,))
        for name, values in zip(("count", "residual_var", "peak_corr", "tensor", "grad_corr", "curvature"), res,
                                strict=True):
            out[name][todo] = values
        return TemplateTerms(**out)
    for lo in range(0, todo.size, chunk):
        idx = todo[lo : lo + chunk]
        r, c = rows[idx], cols[idx]
        # template and the warped window one pixel larger on every side (for the +-1 px lags)
        t = extract_windows(ppa, 1, r - 1, c - 1, w + 2)
        mt = extract_windows(puse, 1, r - 1, c - 1, w + 2)
        bw, bok = _warp(pb, pok, pad, r, c, w, dy[idx], dx[idx], grow=1)
        core = (slice(None), slice(1, w + 1), slice(1, w + 1))
        m = (mt[core] & bok[core]).astype(np.float32)
        cnt = m.sum(axis=(1, 2), dtype=np.float64)
        cs = np.maximum(cnt, 1.0)
        ta, tb = t[core], bw[core]
        mu_a = (ta * m).sum(axis=(1, 2), dtype=np.float64) / cs
        mu_b = (tb * m).sum(axis=(1, 2), dtype=np.float64) / cs
        ac = (ta - mu_a[:, None, None].astype(np.float32)) * m
        bc = (tb - mu_b[:, None, None].astype(np.float32)) * m
        sa = (ac * ac).sum(axis=(1, 2), dtype=np.float64)
        sb = (bc * bc).sum(axis=(1, 2), dtype=np.float64)
        sab = (ac * bc).sum(axis=(1, 2), dtype=np.float64)
        gain = np.where(sb > 0, np.sqrt(sa / np.where(sb > 0, sb, 1.0)), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["residual_var"][idx] = (gain * gain * sb - 2 * gain * sab + sa) / np.maximum(cnt - 3.0, 1.0)
            out["peak_corr"][idx] = np.where(sa * sb > 0, sab / np.sqrt(sa * sb), np.nan)
        out["count"][idx] = cnt
        # gradients over pixels whose central-difference cross is usable
        gm = extract_windows(pgm, 1, r, c, w) & (m > 0)
        tgx = extract_windows(pgx, 1, r, c, w) * gm
        tgy = extract_windows(pgy, 1, r, c, w) * gm
        hxx = (tgx * tgx).sum(axis=(1, 2), dtype=np.float64)
        hxy = (tgx * tgy).sum(axis=(1, 2), dtype=np.float64)
        hyy = (tgy * tgy).sum(axis=(1, 2), dtype=np.float64)
        out["tensor"][idx] = np.stack([hxx, hxy, hyy], axis=1)
        tr = np.maximum(hxx + hyy, 1e-30)
        ax = ((tgx[:, :, 1:] * tgx[:, :, :-1]).sum(axis=(1, 2)) + (tgy[:, :, 1:] * tgy[:, :, :-1]).sum(axis=(1, 2)))
        ay = ((tgx[:, 1:] * tgx[:, :-1]).sum(axis=(1, 2)) + (tgy[:, 1:] * tgy[:, :-1]).sum(axis=(1, 2)))
        out["grad_corr"][idx] = np.clip(np.stack([ax, ay], axis=1) / tr[:, None], 0.0, 0.999)
        # correlation peak: coefficients at d +- 1 px along each axis (template shifted by -+1 px
        # against the warped window is the same lag, and needs no second warp)
        rho0 = out["peak_corr"][idx]
        curv = []
        for axis in (2, 1):  # columns, then rows
            sides = []
            for s in (-1, 1):
                sl_b = [slice(None), slice(1, w + 1), slice(1, w + 1)]
                sl_b[axis] = slice(1 + s, w + 1 + s)
                mb = (mt[core] & bok[tuple(sl_b)]).astype(np.float32)
                sides.append(_ncc(ta, bw[tuple(sl_b)], mb))
            curv.append(2.0 * rho0 - sides[0] - sides[1])
        out["curvature"][idx] = np.stack(curv, axis=1)
    return TemplateTerms(**out)


def prefilter_noise_factors(sigma: float, bandpass: tuple[float, float] | None = None) -> tuple[np.ndarray, float]:
    """How the pre-filter (a Gaussian, or a difference of Gaussians) shapes white noise.

    The filter's 2-D kernel is ``K = sum_i w_i k_i k_i^T`` (one separable Gaussian, or the
    narrow minus the wide one of a band-pass), so the autocovariance of filtered white
    noise is ``(K*K)(r) = sum_ij w_i w_j (k_i * k_j)(r_y) (k_i * k_j)(r_x)``.

    Parameters
    ----------
    sigma : float
        Gaussian pre-filter standard deviation, px (0 = no filter); not used with
        ``bandpass``. The sampled kernels are those of
        :func:`cloudmotion.preprocess.filter_kernels`.
    bandpass : (float, float), optional
        ``(low, high)`` px of a difference-of-Gaussians band-pass.

    Returns
    -------
    rho : ndarray, shape (2 L + 1, 2 L + 1)
        Autocorrelation of filtered white noise at lags ``-L .. L`` (rows, cols), 1 at 0.
    grad_share : float
        Variance of a central difference of the filtered noise along one axis, over the
        filtered noise's variance.
    """
    from .preprocess import filter_kernels

    parts = filter_kernels(sigma, bandpass)
    half = max(k.size for _, k in parts) + _LAGS  # holds every lag of k_i * k_j, and _LAGS
    ac = np.zeros((2 * half + 1, 2 * half + 1))
    for wi, ki in parts:
        for wj, kj in parts:
            full = np.correlate(ki, kj, mode="full")  # odd length, lag 0 in the middle
            c = np.pad(full, half - full.size // 2)
            ac += wi * wj * np.outer(c, c)
    c0 = ac[half, half]
    rho = ac[half - _LAGS : half + _LAGS + 1, half - _LAGS : half + _LAGS + 1] / c0
    # central difference (x[i+1] - x[i-1]) / 2 of the filtered noise: var = (2 c0 - 2 c2) / 4 per axis
    grad_share = (2.0 * c0 - 2.0 * ac[half, half + 2]) / 4.0 / c0
    return rho, float(grad_share)


def pair_noise(residual_var: np.ndarray, count: np.ndarray, *, quantile: float = 0.2) -> float:
    """The pair's residual noise variance: a low quantile of the template residual variances.

    Noise is present in every template, model mismatch (evolution, shear) only in some, so
    the lower part of the distribution measures the noise. Templates with fewer than half
    the median pixel count are ignored.

    Returns
    -------
    float
        Variance of the residual ``B_w - A`` due to noise, value^2 (0 when unknown).
    """
    ok = np.isfinite(residual_var) & (count > 0)
    if not ok.any():
        return 0.0
    ok &= count >= 0.5 * np.median(count[ok])
    return float(np.quantile(residual_var[ok], quantile)) if ok.any() else 0.0


def expected_error(
    tensor: np.ndarray,
    residual_var: np.ndarray,
    count: np.ndarray,
    *,
    noise_var: float,
    sigma: float,
    bandpass: tuple[float, float] | None = None,
    grad_corr: np.ndarray | None = None,
    peak_corr: np.ndarray | None = None,
    curvature: np.ndarray | None = None,
    calibration: float = CALIBRATION,
    floor: float = FLOOR_PX,
) -> np.ndarray:
    """Expected error ``ee`` of each vector in px (RMS of ``|d - d_true|`` at that ``ee``).

    Parameters
    ----------
    tensor : ndarray, shape (N, 3)
        Structure tensor ``(sum gx^2, sum gx gy, sum gy^2)`` of the template, value^2/px^2.
    residual_var : ndarray, shape (N,)
        Motion-compensated residual variance of the template, value^2.
    count : ndarray, shape (N,)
        Pixels in the sums.
    noise_var : float
        The pair's residual noise variance (:func:`pair_noise`), value^2.
    sigma : float
        Gaussian pre-filter standard deviation, px.
    bandpass : (float, float), optional
        ``(low, high)`` px of the difference-of-Gaussians band-pass used instead.
    grad_corr : ndarray, shape (N, 2), optional
        Lag-one gradient autocorrelation along columns and rows; None assumes smooth
        texture (the largest noise correlation factor).
    peak_corr, curvature : ndarray, shapes (N,) and (N, 2), optional
        Correlation peak height and its curvature per px^2 along columns and rows.
    calibration, floor : float
        See :data:`CALIBRATION`, :data:`FLOOR_PX`.

    Returns
    -------
    ndarray of float64, shape (N,)
        ``ee`` in px; inf where the tensor is singular once the noise is removed, NaN
        where the inputs are NaN.
    """
    tensor = np.asarray(tensor, dtype=np.float64)
    n = np.maximum(np.asarray(count, dtype=np.float64), 1.0)
    raw_s2 = np.asarray(residual_var, dtype=np.float64)
    s2 = np.maximum(raw_s2, 0.0)
    rho, gshare = prefilter_noise_factors(sigma, bandpass)
    lag = np.arange(-_LAGS, _LAGS + 1, dtype=np.float64)
    if grad_corr is None:
        f = np.full(n.shape, rho.sum())
    else:
        gc = np.clip(np.nan_to_num(np.asarray(grad_corr, dtype=np.float64), nan=0.0), 0.0, 0.999)
        ax = gc[:, 0, None] ** (lag[None, :] ** 2)  # (N, lags) along columns
        ay = gc[:, 1, None] ** (lag[None, :] ** 2)
        f = np.einsum("rc,nr,nc->n", rho, ay, ax)
    # noise's share of the tensor: each frame carries half the residual noise variance (never
    # more than this template's own residual holds), removed from both eigenvalues, and never
    # more than 1 - MIN_CLEAN of either (the noise estimate is itself uncertain)
    g_noise = n * 0.5 * np.minimum(noise_var, np.nan_to_num(raw_s2, nan=0.0)) * gshare
    hxx, hxy, hyy = tensor[:, 0], tensor[:, 1], tensor[:, 2]
    half_tr = 0.5 * (hxx + hyy)
    root = np.sqrt(np.maximum(0.25 * (hxx - hyy) ** 2 + hxy * hxy, 0.0))
    lam1 = half_tr + root
    lam2 = half_tr - root
    lam1 = np.maximum(lam1 - g_noise, MIN_CLEAN * lam1)
    lam2 = np.maximum(lam2 - g_noise, MIN_CLEAN * lam2)
    with np.errstate(invalid="ignore", divide="ignore"):
        # errors in variables: the noise of the gradients multiplies the residual noise,
        # Cov = s2 F (Hc^-1 + n sigma_g^2 Hc^-2)
        tr_inv = np.where(lam2 > 0, 1.0 / lam1 + 1.0 / lam2 + g_noise * (1.0 / lam1**2 + 1.0 / lam2**2), np.inf)
        var = s2 * f * tr_inv
        if peak_corr is not None and curvature is not None:
            k = np.asarray(curvature, dtype=np.float64)
            one_minus = np.maximum(1.0 - np.asarray(peak_corr, dtype=np.float64), 0.0)
            k_ok = np.all(k > 0, axis=1)
            v_peak = np.where(k_ok, 2.0 * one_minus * f / n * (1.0 / k[:, 0] + 1.0 / k[:, 1]), np.inf)
            v_peak = np.where(np.isfinite(peak_corr), v_peak, np.nan)
            var = np.fmax(var, v_peak)
    ee = np.sqrt(calibration * var + floor * floor)
    ee[~np.isfinite(np.asarray(residual_var, dtype=np.float64))] = np.nan
    return ee
