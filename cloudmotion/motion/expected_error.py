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
* the residual's spatially smooth part (growth, decay, a brightness change the translation
  model cannot follow): its autocovariance reaches far beyond the noise's, and the
  gradients integrate it over those lags. The sandwich's middle term of the residual as it
  is, less its fit by an affine deformation (which moves no centroid), ``M = sum_r G(r) C(r)``
  over every lag of the window (``G(r) = sum_p g_p g_{p+r}^T``
  the gradients' lag products, ``C(r)`` the template residual's autocovariance), less what
  the noise-like model above already counts, ``C(0) sum_r G(r) rho(r)``, adds
  ``tr(H^-1 (M - C(0) sum_r G(r) rho(r)) H^-1)`` when positive. A noise residual adds
  (on average) nothing; a smooth one adds what its correlation does to the estimate, so a
  brightness gradient across a cloud edge counts as the apparent motion it makes;
* a model-error floor, :data:`FLOOR_PX`, for interpolation and sub-pixel estimation. The
  flow's non-uniformity needs no term of its own: the residual already holds what the
  first-order unbiasing (:func:`cloudmotion.motion.refine.gradient_bias`) leaves, and on warped
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

import numpy as np

from cloudmotion.motion.ee_terms import TemplateTerms, template_terms

__all__ = [
    "CALIBRATION",
    "FLOOR_PX",
    "TemplateTerms",
    "expected_error",
    "pair_noise",
    "prefilter_noise_factors",
    "smooth_share",
    "template_terms",
]

CALIBRATION = 1.0
"""Multiplier of the noise covariance (1 = the first-order theory), measured."""

FLOOR_PX = 0.01
"""Model-error floor for interpolation and sub-pixel estimation, px (measured, 0 % noise)."""

MIN_CLEAN = 0.1
"""Smallest share of a structure-tensor eigenvalue kept when the noise's share is removed."""


_LAGS = 4  # residual-noise autocorrelation is summed over |lag| <= _LAGS px


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
        :func:`cloudmotion.motion.prefilter.filter_kernels`.
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
    from cloudmotion.motion.prefilter import filter_kernels

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


def smooth_share(
    tensor: np.ndarray, lag_cov: np.ndarray, lag_noise: np.ndarray, residual_var: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """Variance the residual's spatially correlated part adds beyond the noise model, px^2.

    ``tr(H^-1 X H^-1)`` with ``X = lag_cov - C(0) lag_noise`` and ``C(0)`` the residual's
    variance over the template's pixels; 0 where negative (a noise residual scatters
    around 0) or undefined.

    Parameters
    ----------
    tensor : ndarray, shape (N, 3)
        Structure tensor ``H`` (xx, xy, yy), value^2/px^2.
    lag_cov, lag_noise : ndarray, shape (N, 3)
        See :class:`TemplateTerms`.
    residual_var, count : ndarray, shape (N,)
        The template's residual variance (divided by ``count - 3``) and pixel count.

    Returns
    -------
    ndarray, shape (N,)
    """
    h = np.asarray(tensor, dtype=np.float64)
    c0 = np.nan_to_num(residual_var, nan=0.0) * np.maximum(count - 3.0, 1.0) / np.maximum(count, 1.0)
    x = np.asarray(lag_cov, dtype=np.float64) - c0[:, None] * np.asarray(lag_noise, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = h[:, 0] * h[:, 2] - h[:, 1] ** 2
        ixx, ixy, iyy = h[:, 2] / det, -h[:, 1] / det, h[:, 0] / det
        # tr(Hi X Hi) = sum_ij (Hi X)_ij Hi_ji
        tr = (
            (ixx * x[:, 0] + ixy * x[:, 1]) * ixx
            + (ixx * x[:, 1] + ixy * x[:, 2]) * ixy
            + (ixy * x[:, 0] + iyy * x[:, 1]) * ixy
            + (ixy * x[:, 1] + iyy * x[:, 2]) * iyy
        )
    return np.where(np.isfinite(tr) & (tr > 0), tr, 0.0)


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
    lag_cov: np.ndarray | None = None,
    lag_noise: np.ndarray | None = None,
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
    lag_cov, lag_noise : ndarray, shape (N, 3), optional
        The residual's autocovariance and the noise's autocorrelation summed against the
        gradients' lag products (:class:`TemplateTerms`); they add the smooth residual's
        share (evolution) to ``ee``. None leaves it out.
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
        if lag_cov is not None and lag_noise is not None:
            var = var + smooth_share(tensor, lag_cov, lag_noise, raw_s2, n)
    ee = np.sqrt(calibration * var + floor * floor)
    ee[~np.isfinite(np.asarray(residual_var, dtype=np.float64))] = np.nan
    return ee
