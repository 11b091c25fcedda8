"""Per-template terms the expected error is built from, at each vector's final displacement.

Frame B is warped by the template's displacement with the Keys bicubic kernel (the
refinement's default), so the residual is the one the estimate leaves; the structure
tensor, the gradients' lag-one correlation, the correlation coefficients one pixel
either side of the peak and the residual's spatial correlation weighted by the gradients'
(``lag_cov``, ``lag_noise``: what tells a smooth residual, growth and decay, from noise)
complete the terms. :func:`template_terms` runs the compiled kernels
(:mod:`cloudmotion.motion.kernels.ee`, :mod:`cloudmotion.motion.kernels.ee_smooth`), or their
numpy reference (:mod:`cloudmotion.motion.references.ee`) under
:func:`cloudmotion.motion.kernels.backend.reference_kernels`. See :mod:`cloudmotion.motion.expected_error` for the model and its references.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cloudmotion.grid import bicubic_support
from cloudmotion.motion.references.ee import spectral_weights

__all__ = ["LAG_BIN", "TemplateTerms", "binned_noise", "template_terms"]

LAG_BIN = 2
"""Block size, px, of the residual-correlation sums (:func:`template_terms`).

They measure the residual's spatially smooth part (growth, decay, brightness changes),
whose autocovariance reaches far beyond the noise's; on 2 x 2 px block sums of the
residual and the gradients, that part is summed as at full resolution (its
autocovariance hardly changes over one pixel), the noise model is binned the same way
(:func:`binned_noise`), and the FFTs the sums need cost a fifth. A window the blocks do not
tile (an odd size) is summed pixel by pixel: a partial block would count its share of the
smooth part short."""


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
    lag_cov : (N, 3) float
        ``sum_r G(r) C(r)`` over every lag of the window: the gradients' lag products
        ``G(r) = sum_p g_p g_{p+r}^T`` (xx, xy, yy) against the residual's autocovariance
        ``C(r) = sum_p e_p e_{p+r} / count``, value^4/px^2; the middle of the sandwich
        ``Cov(d) = H^-1 M H^-1`` for the residual as it is, smooth parts included. Taken on
        :data:`LAG_BIN` px block sums of the residual and the gradients (divided by
        ``LAG_BIN^2``), which keeps the smooth part and leaves out the gradients'
        within-block structure.
    lag_noise : (N, 3) float
        The same sum on the same blocks with the block sums' noise autocorrelation
        (:func:`binned_noise` of the pre-filtered noise's ``rho``, over ``LAG_BIN^4``) in place
        of ``C``, value^2/px^2: what ``lag_cov / C(0)`` is on average had the residual been noise.
    """

    count: np.ndarray
    tensor: np.ndarray
    residual_var: np.ndarray
    grad_corr: np.ndarray
    peak_corr: np.ndarray
    curvature: np.ndarray
    lag_cov: np.ndarray
    lag_noise: np.ndarray


def _frames(a, valid_a, b, valid_b, dx, dy, exclude, offset):
    """Padded frames both paths read, built in place (no unpadded copies): A with its offset
    removed and 0 where invalid, and its usable pixels, padded by 1 px; B likewise, padded to
    cover every displacement, and where its 4 x 4 bicubic support is valid."""
    use = valid_a if exclude is None else valid_a & ~exclude
    if offset is None:
        offset = float(np.mean(a[valid_a])) if valid_a.any() else 0.0
    ppa = np.zeros((a.shape[0] + 2, a.shape[1] + 2), dtype=np.float32)
    np.subtract(a, offset, out=ppa[1:-1, 1:-1], where=valid_a, casting="same_kind")
    lim = float(np.max(np.abs(np.concatenate([dx, dy])))) if dx.size else 0.0
    pad = int(np.ceil(lim)) + 5
    pb = np.zeros((b.shape[0] + 2 * pad, b.shape[1] + 2 * pad), dtype=np.float32)
    np.subtract(b, offset, out=pb[pad:-pad, pad:-pad], where=valid_b, casting="same_kind")
    return ppa, np.pad(use, 1), pb, bicubic_support(valid_b, pad), pad


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
    threads: int | None = None,
    smooth: bool = True,
    rho: np.ndarray | None = None,
    offset: float | None = None,
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
        :mod:`cloudmotion.motion.plateau`).
    chunk : int
        Templates processed at once by the numpy reference (see
        :mod:`cloudmotion.motion.kernels.backend`: the compiled kernels run unless
        :func:`~cloudmotion.motion.kernels.backend.reference_kernels` is in force).
    threads : int, optional
        Threads of the compiled kernel; default the cores available.
    smooth : bool
        Measure the residual-correlation sums ``lag_cov`` and ``lag_noise`` (over every lag
        of the window, on :data:`LAG_BIN` px blocks where they tile it); False leaves them 0.
    rho : ndarray, shape (2 L + 1, 2 L + 1), optional
        Autocorrelation of the pre-filtered noise (see
        :func:`cloudmotion.motion.expected_error.prefilter_noise_factors`); default no filter
        (1 at lag 0 only).

    offset : float, optional
        ``np.mean(a[valid_a])`` when the caller has it already (saves a gathered copy of A).
    Returns
    -------
    TemplateTerms
    """
    n = len(rows)
    w = window
    rho = np.ones((1, 1)) if rho is None else np.ascontiguousarray(rho, dtype=np.float64)
    f = LAG_BIN if w % LAG_BIN == 0 else 1  # blocks that tile the window, else every pixel
    rho_bin = binned_noise(rho, f) / f**4  # what the binned residual's lag sums hold for noise
    # what a template without a displacement keeps: no pixels, NaN terms; (columns per template)
    columns = {"count": 0, "residual_var": 0, "peak_corr": 0, "tensor": 3, "grad_corr": 2, "curvature": 2}
    columns.update(lag_cov=3, lag_noise=3)
    out = {name: np.full((n, k) if k else n, np.nan) for name, k in columns.items()}
    out["count"][:] = 0.0
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
    if todo.size == 0:
        return TemplateTerms(**out)
    frames = _frames(a, valid_a, b, valid_b, dx[todo], dy[todo], exclude, offset)
    per = (
        np.ascontiguousarray(rows[todo], dtype=np.int64),
        np.ascontiguousarray(cols[todo], dtype=np.int64),
        np.ascontiguousarray(dx[todo]),
        np.ascontiguousarray(dy[todo]),
    )
    from cloudmotion.motion.kernels.backend import implementation

    found = implementation("ee")(*frames, *per, w, f, rho_bin, chunk=chunk, smooth=smooth, threads=threads)
    for name, values in found.items():
        out[name][todo] = values
    out["lag_cov"][todo] /= f * f * np.maximum(out["count"][todo], 1.0)[:, None]
    return TemplateTerms(**out)


def terms_compiled(
    ppa, puse, pb, pok, pad, rows, cols, dx, dy, w, f, rho_bin, *, chunk=1024, smooth=True, threads=None
):
    """The terms of templates with finite displacements by the compiled kernels, in threads.

    The compiled side of the ``ee`` stage (:mod:`cloudmotion.motion.kernels.backend`); its
    reference is :func:`cloudmotion.motion.references.ee.terms_numpy`, with the same
    arguments and result. ``chunk`` is the reference's batch size, unused here.

    Returns
    -------
    dict of ndarray
        ``count, residual_var, peak_corr`` (N,), ``tensor`` (N, 3), ``grad_corr, curvature``
        (N, 2), ``lag_cov, lag_noise`` (N, 3); ``lag_cov`` not divided by the pixel count.
    """
    from cloudmotion.motion.kernels.jit import split_run

    spectral = spectral_weights(2 * (-(-w // f)), rho_bin) if smooth else None
    res = split_run(_terms_part, threads, (ppa, puse, pb, pok, pad), (rows, cols, dx, dy), (w, f, spectral))
    names = ("count", "residual_var", "peak_corr", "tensor", "grad_corr", "curvature", "lag_cov", "lag_noise")
    return dict(zip(names, res, strict=True))


def _terms_part(ppa, puse, pb, pok, pad, rows, cols, dx, dy, w, f, spectral) -> tuple:
    """The compiled terms of a part of the templates, in blocks small enough to stay in cache.

    Each block's binned residual and gradient windows go straight to their spectra (scipy's
    FFT, one thread: the parts already run in threads) and the compiled spectral sums, so
    that no frame-sized stack of windows or spectra is ever held. ``spectral`` is None when
    the residual-correlation sums are not wanted.
    """
    from scipy import fft

    from cloudmotion.motion.kernels.ee import ee_terms
    from cloudmotion.motion.kernels.ee_smooth import spectral_sums

    n = rows.shape[0]
    smooth = spectral is not None
    block = max(1, 2**16 // (w * w)) if smooth else max(n, 1)
    parts = []
    for lo in range(0, n, block):
        sl = slice(lo, lo + block)
        *terms, win = ee_terms(ppa, puse, pb, pok, pad, rows[sl], cols[sl], dx[sl], dy[sl], w, smooth, f)
        if smooth:
            # the upper half-rows of the padded windows are zeros: transform along rows first,
            # then along the columns of the padded size, so the padding costs no row transforms
            size = 2 * win.shape[-1]
            spec = fft.fft(fft.rfft(win, n=size, axis=-1), n=size, axis=-2, overwrite_x=True)
            sums = spectral_sums(spec, *spectral)
        else:
            sums = (np.zeros((len(terms[0]), 3)), np.zeros((len(terms[0]), 3)))
        parts.append((*terms, *sums))
    return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))


def binned_noise(rho: np.ndarray, f: int) -> np.ndarray:
    """Lag covariance of ``f x f`` block sums of noise whose autocorrelation is ``rho``.

    ``rho_f(R) = sum_{a, b} rho(f R + b - a)`` over the pixel offsets ``a, b`` of two blocks
    (``f^4`` pairs), in units of the noise variance.

    Parameters
    ----------
    rho : ndarray, shape (2 L + 1, 2 L + 1)
        Autocorrelation of the noise at pixel lags ``-L .. L`` (rows, cols).
    f : int
        Block size, px.

    Returns
    -------
    ndarray, shape (2 M + 1, 2 M + 1)
        At block lags ``-M .. M``, ``M = ceil((L + f - 1) / f)``.
    """
    half = rho.shape[0] // 2
    m = -(-(half + f - 1) // f)
    big = np.zeros((2 * (f * m + f) + 1,) * 2)
    c = big.shape[0] // 2
    big[c - half : c + half + 1, c - half : c + half + 1] = rho
    out = np.zeros((2 * m + 1, 2 * m + 1))
    for d_y in range(-(f - 1), f):
        for d_x in range(-(f - 1), f):
            times = (f - abs(d_y)) * (f - abs(d_x))  # block pixel pairs with this offset
            out += times * big[c + d_y - f * m : c + d_y + f * m + 1 : f, c + d_x - f * m : c + d_x + f * m + 1 : f]
    return out
