"""The numpy reference of the expected-error terms (:func:`cloudmotion.motion.ee_terms.template_terms`).

Vectorised over stacks of template windows, it computes what the compiled kernel
(:func:`cloudmotion.motion.kernels.ee.ee_terms` with :func:`cloudmotion.motion.kernels.ee_smooth.spectral_sums`)
computes one template at a time, to float32 rounding; tests compare the two. It is also the
home of :func:`lag_sums`, the residual-correlation sums by FFT in plain numpy.
"""

from __future__ import annotations

import cv2
import numpy as np

from cloudmotion.grid import extract_windows

__all__ = ["bin_windows", "lag_sums", "spectral_weights", "terms_numpy"]


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


def terms_numpy(ppa, puse, pb, pok, pad, rows, cols, dx, dy, w, f, rho_bin, *, chunk=1024, smooth=True, threads=None):
    """The terms of templates with finite displacements, in the order of ``rows``.

    Arguments as prepared by :func:`cloudmotion.motion.ee_terms.template_terms` (padded
    frames, per-template top-left pixels and displacements, template size ``w``, block size
    ``f`` and the binned noise autocorrelation ``rho_bin`` of the residual-correlation sums);
    ``threads`` is accepted for the compiled side's signature and unused.

    Returns
    -------
    dict of ndarray
        ``count, residual_var, peak_corr`` (N,), ``tensor`` (N, 3), ``grad_corr, curvature``
        (N, 2), ``lag_cov, lag_noise`` (N, 3); ``lag_cov`` not divided by the pixel count.
    """
    # gradients where the pixel's 3 x 3 cross is usable (the ring of padding is not)
    pgm = cv2.erode(
        puse.view(np.uint8),
        np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).view(bool)
    pgy, pgx = np.gradient(ppa)
    pgx *= pgm
    pgy *= pgm
    n = len(rows)
    out = {
        "count": np.zeros(n),
        "tensor": np.full((n, 3), np.nan),
        "residual_var": np.full(n, np.nan),
        "grad_corr": np.full((n, 2), np.nan),
        "peak_corr": np.full(n, np.nan),
        "curvature": np.full((n, 2), np.nan),
        "lag_cov": np.zeros((n, 3)),
        "lag_noise": np.zeros((n, 3)),
    }
    for lo in range(0, n, chunk):
        idx = slice(lo, lo + chunk)
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
        if smooth:
            e = _remove_deformation((gain[:, None, None].astype(np.float32) * bc - ac) * m, tgx, tgy)
            eb, gxb, gyb = (bin_windows(v, f) for v in (e, tgx, tgy))
            out["lag_cov"][idx], out["lag_noise"][idx] = lag_sums(eb, gxb, gyb, eb.shape[1] - 1, rho_bin)
    return out


def bin_windows(x: np.ndarray, f: int) -> np.ndarray:
    """Sums over ``f x f`` blocks of a stack of windows (K, w, w), the last blocks padded with zeros."""
    k, w = x.shape[0], x.shape[1]
    nb = -(-w // f)
    padded = np.zeros((k, nb * f, nb * f), dtype=x.dtype)
    padded[:, :w, :w] = x
    return padded.reshape(k, nb, f, nb, f).sum(axis=(2, 4))


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


def spectral_weights(size: int, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-spectrum column weights over ``size^2`` and the noise autocorrelation's spectrum times them.

    Parseval over a real-to-complex spectrum: every column but the first (and the last, for
    an even size) stands for its mirror too, so it counts twice. ``size`` is the padded size
    of windows of at most ``size / 2`` px: ``rho`` is used out to the lags they have.
    """
    from scipy import fft

    wk = np.full(size // 2 + 1, 2.0, dtype=np.float32)
    wk[0] = 1.0
    if size % 2 == 0:
        wk[-1] = 1.0
    wk /= size * size
    # lags beyond size / 2 - 1 would wrap onto others; windows of size / 2 px have no such lags
    c = rho.shape[0] // 2
    half = min(c, size // 2 - 1)
    kernel = np.zeros((size, size))
    lag = np.arange(-half, half + 1) % size
    kernel[np.ix_(lag, lag)] = rho[c - half : c + half + 1, c - half : c + half + 1]
    rk = (fft.rfft2(kernel).real * wk).astype(np.float32)
    return wk, rk


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
    wk, rk = spectral_weights(size, rho)
    ce = fe.real**2 + fe.imag**2
    if lags < w - 1:  # the residual's autocovariance beyond ``lags`` left out
        near = np.zeros((size, size), dtype=np.float32)
        keep = np.arange(-lags, lags + 1) % size
        near[np.ix_(keep, keep)] = 1.0
        ce = fft.rfft2(fft.irfft2(ce, s=(size, size), workers=-1) * near, workers=-1).real
    ce *= wk
    spectra = (fx.real**2 + fx.imag**2, fx.real * fy.real + fx.imag * fy.imag, fy.real**2 + fy.imag**2)
    cov = np.stack([(sp * ce).sum(axis=(1, 2), dtype=np.float64) for sp in spectra], axis=1)
    noise = np.stack([(sp * rk).sum(axis=(1, 2), dtype=np.float64) for sp in spectra], axis=1)
    return cov.reshape(k, 3), noise.reshape(k, 3)
