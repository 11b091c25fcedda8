"""Per-template terms the expected error is built from, at each vector's final displacement.

Frame B is warped by the template's displacement with the Keys bicubic kernel (the
refinement's default), so the residual is the one the estimate leaves; the structure
tensor, the gradients' lag-one correlation, the correlation coefficients one pixel
either side of the peak and the residual's spatial correlation weighted by the gradients'
(``lag_cov``, ``lag_noise``: what tells a smooth residual, growth and decay, from noise)
complete the terms. :func:`template_terms` runs the compiled
kernel (:mod:`cloudmotion.motion.kernels.ee`) by default and keeps a vectorised numpy path as
the reference. See :mod:`cloudmotion.motion.expected_error` for the model and its references.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cloudmotion.grid import extract_windows

__all__ = ["TemplateTerms", "lag_sums", "template_terms"]


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
        ``sum_r G(r) C(r)`` over lags ``|r_y|, |r_x| <= lags``: the gradients' lag products
        ``G(r) = sum_p g_p g_{p+r}^T`` (xx, xy, yy) against the residual's autocovariance
        ``C(r) = sum_p e_p e_{p+r} / count``, value^4/px^2; the middle of the sandwich
        ``Cov(d) = H^-1 M H^-1`` for the residual as it is, smooth parts included.
    lag_noise : (N, 3) float
        ``sum_r G(r) rho(r)``, ``rho`` the pre-filtered noise's autocorrelation, value^2/px^2:
        the same sum had the residual been noise.
    """

    count: np.ndarray
    tensor: np.ndarray
    residual_var: np.ndarray
    grad_corr: np.ndarray
    peak_corr: np.ndarray
    curvature: np.ndarray
    lag_cov: np.ndarray
    lag_noise: np.ndarray


def _kernel(frac: np.ndarray) -> np.ndarray:
    """Keys bicubic weights at offsets -1, 0, +1, +2, shape (N, 4)."""
    t = frac[:, None]
    t2, t3 = t * t, t * t * t
    return np.hstack(
        [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]
    ).astype(np.float32)


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
    gmask = cv2.erode(
        use.view(np.uint8),
        np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).view(bool)
    lim = float(np.max(np.abs(np.concatenate([dx, dy])))) if dx.size else 0.0
    pad = int(np.ceil(lim)) + 5
    pb = np.pad(np.where(valid_b, b - offset, 0).astype(np.float32), pad)
    pok = cv2.erode(
        np.pad(valid_b, pad).view(np.uint8),
        np.ones((4, 4), np.uint8),
        anchor=(1, 1),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).view(bool)
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
    lags: int | None = None,
    rho: np.ndarray | None = None,
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
        Templates processed at once (numpy path).
    compiled : bool
        Use the compiled kernel (:func:`cloudmotion.motion.kernels.ee.ee_terms`); False runs the
        numpy reference, which gives the same terms to float32 rounding.
    threads : int, optional
        Threads of the compiled kernel; default the cores available.
    lags : int, optional
        Largest lag of the residual-correlation sums ``lag_cov`` and ``lag_noise``, px;
        default every lag (``window - 1``); 0 leaves them 0.
    rho : ndarray, shape (2 L + 1, 2 L + 1), optional
        Autocorrelation of the pre-filtered noise (see
        :func:`cloudmotion.motion.expected_error.prefilter_noise_factors`); default no filter
        (1 at lag 0 only).

    Returns
    -------
    TemplateTerms
    """
    n = len(rows)
    w = window
    lags = w - 1 if lags is None else min(int(lags), w - 1)
    rho = np.ones((1, 1)) if rho is None else np.ascontiguousarray(rho, dtype=np.float64)
    out = {
        "count": np.zeros(n),
        "tensor": np.full((n, 3), np.nan),
        "residual_var": np.full(n, np.nan),
        "grad_corr": np.full((n, 2), np.nan),
        "peak_corr": np.full(n, np.nan),
        "curvature": np.full((n, 2), np.nan),
        "lag_cov": np.full((n, 3), np.nan),
        "lag_noise": np.full((n, 3), np.nan),
    }
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
    if todo.size == 0:
        return TemplateTerms(**out)
    ppa, puse, pgm, pgx, pgy, pb, pok, pad = _frames(a, valid_a, b, valid_b, dx[todo], dy[todo], exclude)
    if compiled:
        from cloudmotion.motion.kernels.ee import ee_terms
        from cloudmotion.motion.kernels.jit import split_run

        per = (
            np.ascontiguousarray(rows[todo], dtype=np.int64),
            np.ascontiguousarray(cols[todo], dtype=np.int64),
            np.ascontiguousarray(dx[todo]),
            np.ascontiguousarray(dy[todo]),
        )
        names = ("count", "residual_var", "peak_corr", "tensor", "grad_corr", "curvature")
        # bounds the windows and their padded spectra held at once (about 100 MB at 64 px windows)
        step = max(1, min(chunk, 2**21 // (w * w))) if lags > 0 else todo.size
        for lo in range(0, todo.size, step):
            part = tuple(p[lo : lo + step] for p in per)
            res = split_run(ee_terms, threads, (ppa, puse, pgm, pgx, pgy, pb, pok, pad), part, (w, lags > 0, 4))
            idx = todo[lo : lo + step]
            for name, values in zip(names, res[:6], strict=True):
                out[name][idx] = values
            if lags > 0:
                out["lag_cov"][idx], out["lag_noise"][idx] = lag_sums(res[6], res[7], res[8], lags, rho)
                out["lag_cov"][idx] /= np.maximum(out["count"][idx], 1.0)[:, None]
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
        ax = (tgx[:, :, 1:] * tgx[:, :, :-1]).sum(axis=(1, 2)) + (tgy[:, :, 1:] * tgy[:, :, :-1]).sum(axis=(1, 2))
        ay = (tgx[:, 1:] * tgx[:, :-1]).sum(axis=(1, 2)) + (tgy[:, 1:] * tgy[:, :-1]).sum(axis=(1, 2))
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
        if lags > 0:
            e = _remove_deformation((gain[:, None, None].astype(np.float32) * bc - ac) * m, tgx, tgy)
            out["lag_cov"][idx], out["lag_noise"][idx] = lag_sums(e, tgx, tgy, lags, rho)
            out["lag_cov"][idx] /= cs[:, None]
    return TemplateTerms(**out)


def _remove_deformation(e: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The residual less its least-squares fit by an affine deformation ``g . (J p)`` about the centre."""
    w = e.shape[1]
    h = 0.5 * (w - 1)
    jj, ii = np.meshgrid(np.arange(w) - h, np.arange(w) - h)
    gx, gy = gx.astype(np.float64), gy.astype(np.float64)
    phi = np.stack([gx * jj, gx * ii, gy * jj, gy * ii], axis=1).reshape(e.shape[0], 4, -1)
    a = np.einsum("kpn,kqn->kpq", phi, phi)
    tr = np.trace(a, axis1=1, axis2=2)
    a += 1e-9 * tr[:, None, None] * np.eye(4)
    v = np.einsum("kpn,kn->kp", phi, e.reshape(e.shape[0], -1).astype(np.float64))
    ok = tr > 0
    beta = np.zeros((e.shape[0], 4))
    beta[ok] = np.linalg.solve(a[ok], v[ok][:, :, None])[:, :, 0]
    return e - np.einsum("kp,kpn->kn", beta, phi).reshape(e.shape)


def lag_sums(e: np.ndarray, gx: np.ndarray, gy: np.ndarray, lags: int, rho: np.ndarray) -> tuple:
    """``sum_r G(r) C(r)`` and ``sum_r G(r) rho(r)`` of stacks of windows, over ``|r_y|, |r_x| <= lags``.

    The lag products come from FFTs of the zero-padded windows (exact, no wrap-around).

    Parameters
    ----------
    e, gx, gy : ndarray, shape (K, w, w)
        Residual and gradients, 0 outside the usable pixels.
    lags : int
        Largest lag, px.
    rho : ndarray, shape (2 L + 1, 2 L + 1)
        Autocorrelation of the pre-filtered noise.

    Returns
    -------
    cov, noise : ndarray, shape (K, 3)
        ``(xx, xy, yy)`` sums; ``cov`` not yet divided by the pixel count.
    """
    # scipy's batched real FFT is about 3x numpy's on these stacks of small windows, which
    # outweighs its import (about 0.2 s, scipy's array-API layer included); imported here only
    from scipy import fft

    k, w = e.shape[0], e.shape[1]
    size = 2 * w  # zero padding: circular lags never wrap onto the window
    fe, fx, fy = (fft.rfft2(np.asarray(v, dtype=np.float32), s=(size, size), workers=-1) for v in (e, gx, gy))
    # Parseval: sum_r G(r) C(r) = sum_k |G^(k)| |E^(k)|^2 / size^2, rfft halves counted twice
    wk = np.full(fe.shape[-1], 2.0, dtype=np.float32)
    wk[0] = 1.0
    if size % 2 == 0:
        wk[-1] = 1.0
    wk /= size * size
    ce = fe.real**2 + fe.imag**2
    if lags < w - 1:  # the residual's autocovariance beyond ``lags`` left out
        near = np.zeros((size, size), dtype=np.float32)
        keep = np.arange(-lags, lags + 1) % size
        near[np.ix_(keep, keep)] = 1.0
        ce = fft.rfft2(fft.irfft2(ce, s=(size, size), workers=-1) * near, workers=-1).real
    ce *= wk
    half = rho.shape[0] // 2
    kernel = np.zeros((size, size))
    lag = np.arange(-half, half + 1) % size
    kernel[np.ix_(lag, lag)] = rho
    rk = (fft.rfft2(kernel).real * wk).astype(np.float32)
    spectra = (fx.real**2 + fx.imag**2, fx.real * fy.real + fx.imag * fy.imag, fy.real**2 + fy.imag**2)
    cov = np.stack([(sp * ce).sum(axis=(1, 2), dtype=np.float64) for sp in spectra], axis=1)
    noise = np.stack([(sp * rk).sum(axis=(1, 2), dtype=np.float64) for sp in spectra], axis=1)
    return cov.reshape(k, 3), noise.reshape(k, 3)
