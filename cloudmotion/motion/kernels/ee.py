"""Compiled per-template terms of the expected error (see :func:`cloudmotion.motion.ee_terms.template_terms`).

One pass per template computes what the numpy reference
(:func:`cloudmotion.motion.ee_reference.terms_numpy`) builds from stacks of windows:
frame B warped by the template's final displacement with the Keys bicubic kernel on a
window one pixel larger than the template, the motion-compensated residual variance and
correlation, the structure tensor and the gradients' lag-one correlation, and the
correlation coefficients one pixel either side of the peak along each axis, and (on
request) the template's residual, less its affine-deformation fit, and masked gradients as
windows binned into blocks for the residual-correlation sums, whose spectra
:func:`spectral_sums` reduces. Sums are in float64. The kernels are serial and ``nogil``:
:func:`cloudmotion.motion.kernels.jit.split_run` runs them on parts of the template list in threads.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import EXACT, kernel

__all__ = ["ee_terms", "spectral_sums"]


@kernel(nogil=True, fastmath=EXACT)
def _keys(t: float, out: np.ndarray) -> None:
    t2 = t * t
    t3 = t2 * t
    out[0] = -0.5 * t3 + t2 - 0.5 * t
    out[1] = 1.5 * t3 - 2.5 * t2 + 1.0
    out[2] = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    out[3] = 0.5 * t3 - 0.5 * t2


@kernel(nogil=True, fastmath=EXACT)
def _side_ncc(ta, bw, mt, bok, w, si, sj):
    """NCC of the template against the warped window shifted by (si, sj) px, over valid pixels."""
    n = 0.0
    sa = 0.0
    sb = 0.0
    for i in range(w):
        for j in range(w):
            if mt[i + 1, j + 1] and bok[i + 1 + si, j + 1 + sj]:
                n += 1.0
                sa += ta[i, j]
                sb += bw[i + 1 + si, j + 1 + sj]
    n1 = max(n, 1.0)
    ma = sa / n1
    mb = sb / n1
    num = 0.0
    va = 0.0
    vb = 0.0
    for i in range(w):
        for j in range(w):
            if mt[i + 1, j + 1] and bok[i + 1 + si, j + 1 + sj]:
                x = ta[i, j] - ma
                y = bw[i + 1 + si, j + 1 + sj] - mb
                num += x * y
                va += x * x
                vb += y * y
    den = np.sqrt(va * vb)
    return num / den if den > 0 else np.nan


@kernel(nogil=True, fastmath=EXACT)
def _solve_spd(a, v):
    """Solve ``a x = v`` for a small symmetric positive definite ``a`` (n x n) by Cholesky.

    Written out so that the kernel needs no LAPACK (numba's ``np.linalg.solve`` loads
    scipy.linalg, which costs every run a quarter of a second of imports).
    """
    n = a.shape[0]
    low = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            acc = a[i, j]
            for k in range(j):
                acc -= low[i, k] * low[j, k]
            if i == j:
                low[i, i] = np.sqrt(max(acc, 1e-300))
            else:
                low[i, j] = acc / low[j, j]
    y = np.empty(n)
    for i in range(n):
        acc = v[i]
        for k in range(i):
            acc -= low[i, k] * y[k]
        y[i] = acc / low[i, i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        acc = y[i]
        for k in range(i + 1, n):
            acc -= low[k, i] * x[k]
        x[i] = acc / low[i, i]
    return x


@kernel(nogil=True, fastmath=EXACT)
def _remove_deformation(e, gxw, gyw, w):
    """Remove from the residual its least-squares fit by an affine deformation ``g . (J p)``.

    A template that rotates, shears or diverges about its centre leaves the residual
    ``g . (J p)`` (``p`` the offset from the centre, ``J`` the flow's 2 x 2 gradient), odd
    about the centre: it moves no centroid, so it is no part of the translation error and
    must not count as a smooth residual. The four patterns ``gx x, gx y, gy x, gy y`` span
    the same space as rotation, the two shears and divergence, so the fit is by them.
    """
    # the ten products of the four patterns and their four products with the residual, in registers
    a00 = a10 = a11 = a20 = a21 = a22 = a30 = a31 = a32 = a33 = 0.0
    v0 = v1 = v2 = v3 = 0.0
    h = 0.5 * (w - 1)
    for i in range(w):
        y = i - h
        for j in range(w):
            x = j - h
            gx = gxw[i, j]
            gy = gyw[i, j]
            u0 = gx * x
            u1 = gx * y
            u2 = gy * x
            u3 = gy * y
            r = e[i, j]
            v0 += u0 * r
            v1 += u1 * r
            v2 += u2 * r
            v3 += u3 * r
            a00 += u0 * u0
            a10 += u1 * u0
            a11 += u1 * u1
            a20 += u2 * u0
            a21 += u2 * u1
            a22 += u2 * u2
            a30 += u3 * u0
            a31 += u3 * u1
            a32 += u3 * u2
            a33 += u3 * u3
    tr = a00 + a11 + a22 + a33
    if tr <= 0:
        return
    a = np.empty((4, 4))
    a[0, 0] = a00 + 1e-9 * tr
    a[1, 1] = a11 + 1e-9 * tr
    a[2, 2] = a22 + 1e-9 * tr
    a[3, 3] = a33 + 1e-9 * tr
    a[1, 0] = a[0, 1] = a10
    a[2, 0] = a[0, 2] = a20
    a[2, 1] = a[1, 2] = a21
    a[3, 0] = a[0, 3] = a30
    a[3, 1] = a[1, 3] = a31
    a[3, 2] = a[2, 3] = a32
    v = np.empty(4)
    v[0] = v0
    v[1] = v1
    v[2] = v2
    v[3] = v3
    beta = _solve_spd(a, v)
    for i in range(w):
        y = i - h
        for j in range(w):
            x = j - h
            e[i, j] -= (beta[0] * x + beta[1] * y) * gxw[i, j] + (beta[2] * x + beta[3] * y) * gyw[i, j]


@kernel(nogil=True, fastmath=EXACT)
def spectral_sums(spec, wk, rk):
    """Lag sums of templates from the spectra of their zero-padded residual and gradient windows.

    By Parseval, ``sum_r G(r) C(r) = sum_k S(k) |E(k)|^2 / size^2`` and
    ``sum_r G(r) rho(r) = sum_k S(k) R(k) / size^2``, with ``S`` the gradients' (cross-)power
    spectra (xx, xy, yy) and ``R`` the noise autocorrelation's spectrum (real: rho is even).

    Parameters
    ----------
    spec : ndarray of complex64, shape (K, 3, size, size // 2 + 1)
        Real-to-complex 2-D spectra of the residual, gx and gy windows, padded to ``size``.
    wk : ndarray of float32, shape (size // 2 + 1,)
        Weight of each half-spectrum column (2 for those standing for their mirror too),
        divided by ``size^2``.
    rk : ndarray of float32, shape (size, size // 2 + 1)
        ``R(k)`` times ``wk``.

    Returns
    -------
    cov, noise : ndarray of float64, shape (K, 3)
        ``(xx, xy, yy)`` sums; ``cov`` not divided by the pixel count.
    """
    k = spec.shape[0]
    cov = np.zeros((k, 3))
    noise = np.zeros((k, 3))
    for t in range(k):
        fe = spec[t, 0]
        fx = spec[t, 1]
        fy = spec[t, 2]
        c0 = c1 = c2 = n0 = n1 = n2 = 0.0
        for p in range(fe.shape[0]):
            for q in range(fe.shape[1]):
                e = fe[p, q]
                x = fx[p, q]
                y = fy[p, q]
                ce = (e.real * e.real + e.imag * e.imag) * wk[q]
                sxx = x.real * x.real + x.imag * x.imag
                sxy = x.real * y.real + x.imag * y.imag
                syy = y.real * y.real + y.imag * y.imag
                r = rk[p, q]
                c0 += sxx * ce
                c1 += sxy * ce
                c2 += syy * ce
                n0 += sxx * r
                n1 += sxy * r
                n2 += syy * r
        cov[t, 0] = c0
        cov[t, 1] = c1
        cov[t, 2] = c2
        noise[t, 0] = n0
        noise[t, 1] = n1
        noise[t, 2] = n2
    return cov, noise


@kernel(nogil=True, fastmath=EXACT)
def ee_terms(ppa, puse, pgm, pgx, pgy, pb, pok, pad, rows, cols, dx, dy, w, windows, factor):
    """Expected-error terms of templates (one row per template; NaN where dx/dy are not finite).

    Parameters
    ----------
    ppa, puse : ndarray, shape (H + 2, W + 2)
        Frame A (float32, offset removed, 0 where invalid) and its usable pixels, padded by 1.
    pgm, pgx, pgy : ndarray, shape (H + 2, W + 2)
        Gradient validity and the masked gradients of A along columns and rows, padded by 1.
    pb, pok : ndarray, shape (H + 2 pad, W + 2 pad)
        Frame B (float32, offset removed) and where its 4 x 4 bicubic support is valid.
    pad : int
        Padding of ``pb`` and ``pok``.
    rows, cols : ndarray of int64, shape (N,)
        Top-left pixel of each template in A.
    dx, dy : ndarray of float64, shape (N,)
        Final displacements, px.
    w : int
        Template size, px.
    windows : bool
        Also return the residual and gradient windows (else an array of shape (N, 3, 0, 0)).
    factor : int
        The windows are returned binned: sums over ``factor x factor`` blocks, the last
        blocks padded with zeros (1 = as they are).

    Returns
    -------
    count, residual_var, peak_corr : ndarray, shape (N,)
    tensor : ndarray, shape (N, 3)
    grad_corr, curvature : ndarray, shape (N, 2)
    win : ndarray of float32, shape (N, 3, ceil(w / factor), ceil(w / factor))
        The gain- and offset-normalised residual less its affine-deformation fit, and the
        gradients of A along columns and rows, 0 outside the usable pixels, binned.
    """
    n = rows.shape[0]
    count = np.zeros(n)
    resid = np.full(n, np.nan)
    peak = np.full(n, np.nan)
    tensor = np.full((n, 3), np.nan)
    gcorr = np.full((n, 2), np.nan)
    curv = np.full((n, 2), np.nan)
    nw = (w + factor - 1) // factor if windows else 0
    win = np.zeros((n, 3, nw, nw), dtype=np.float32)
    ew = np.zeros((w, w))
    gxw = np.zeros((w, w))
    gyw = np.zeros((w, w))
    wy = np.empty(4)
    wx = np.empty(4)
    s = w + 2
    bw = np.empty((s, s))
    hrow = np.empty((s + 3, s))
    bok = np.empty((s, s), dtype=np.bool_)
    mt = np.empty((s, s), dtype=np.bool_)
    ta = np.empty((w, w))
    for k in range(n):
        if not (np.isfinite(dx[k]) and np.isfinite(dy[k])):
            continue
        r = rows[k]
        c = cols[k]
        iy = int(np.floor(dy[k]))
        ix = int(np.floor(dx[k]))
        _keys(dy[k] - iy, wy)
        _keys(dx[k] - ix, wx)
        r0 = pad + r + iy - 2
        c0 = pad + c + ix - 2
        for p in range(s + 3):  # separable: along columns first, then along rows
            for q in range(s):
                hrow[p, q] = (
                    wx[0] * pb[r0 + p, c0 + q]
                    + wx[1] * pb[r0 + p, c0 + q + 1]
                    + wx[2] * pb[r0 + p, c0 + q + 2]
                    + wx[3] * pb[r0 + p, c0 + q + 3]
                )
        for p in range(s):
            for q in range(s):
                bw[p, q] = wy[0] * hrow[p, q] + wy[1] * hrow[p + 1, q] + wy[2] * hrow[p + 2, q] + wy[3] * hrow[p + 3, q]
                bok[p, q] = pok[pad + r + iy - 1 + p, pad + c + ix - 1 + q]
                mt[p, q] = puse[r + p, c + q]
        cnt = 0.0
        sum_a = 0.0
        sum_b = 0.0
        for i in range(w):
            for j in range(w):
                ta[i, j] = ppa[r + i + 1, c + j + 1]
                if mt[i + 1, j + 1] and bok[i + 1, j + 1]:
                    cnt += 1.0
                    sum_a += ta[i, j]
                    sum_b += bw[i + 1, j + 1]
        cs = max(cnt, 1.0)
        mu_a = sum_a / cs
        mu_b = sum_b / cs
        sa = 0.0
        sb = 0.0
        sab = 0.0
        hxx = 0.0
        hxy = 0.0
        hyy = 0.0
        ax = 0.0
        ay = 0.0
        for i in range(w):
            for j in range(w):
                m = mt[i + 1, j + 1] and bok[i + 1, j + 1]
                if m:
                    x = ta[i, j] - mu_a
                    y = bw[i + 1, j + 1] - mu_b
                    sa += x * x
                    sb += y * y
                    sab += x * y
                    if pgm[r + i + 1, c + j + 1]:
                        gx = pgx[r + i + 1, c + j + 1]
                        gy = pgy[r + i + 1, c + j + 1]
                        hxx += gx * gx
                        hxy += gx * gy
                        hyy += gy * gy
                        if j + 1 < w and mt[i + 1, j + 2] and bok[i + 1, j + 2] and pgm[r + i + 1, c + j + 2]:
                            ax += gx * pgx[r + i + 1, c + j + 2] + gy * pgy[r + i + 1, c + j + 2]
                        if i + 1 < w and mt[i + 2, j + 1] and bok[i + 2, j + 1] and pgm[r + i + 2, c + j + 1]:
                            ay += gx * pgx[r + i + 2, c + j + 1] + gy * pgy[r + i + 2, c + j + 1]
        gain = np.sqrt(sa / sb) if sb > 0 else 1.0
        if windows:
            for i in range(w):
                for j in range(w):
                    m = mt[i + 1, j + 1] and bok[i + 1, j + 1]
                    ew[i, j] = gain * (bw[i + 1, j + 1] - mu_b) - (ta[i, j] - mu_a) if m else 0.0
                    g_ok = m and pgm[r + i + 1, c + j + 1]
                    gxw[i, j] = pgx[r + i + 1, c + j + 1] if g_ok else 0.0
                    gyw[i, j] = pgy[r + i + 1, c + j + 1] if g_ok else 0.0
            _remove_deformation(ew, gxw, gyw, w)
            for i in range(w):
                for j in range(w):
                    win[k, 0, i // factor, j // factor] += ew[i, j]
                    win[k, 1, i // factor, j // factor] += gxw[i, j]
                    win[k, 2, i // factor, j // factor] += gyw[i, j]
        count[k] = cnt
        resid[k] = (gain * gain * sb - 2.0 * gain * sab + sa) / max(cnt - 3.0, 1.0)
        peak[k] = sab / np.sqrt(sa * sb) if sa * sb > 0 else np.nan
        tensor[k, 0] = hxx
        tensor[k, 1] = hxy
        tensor[k, 2] = hyy
        tr = max(hxx + hyy, 1e-30)
        gcorr[k, 0] = min(max(ax / tr, 0.0), 0.999)
        gcorr[k, 1] = min(max(ay / tr, 0.0), 0.999)
        rho0 = peak[k]
        # lags as int64 values, not literals: a literal argument would compile another copy of the helper
        zero, one = np.int64(0), np.int64(1)
        curv[k, 0] = 2.0 * rho0 - _side_ncc(ta, bw, mt, bok, w, zero, -one) - _side_ncc(ta, bw, mt, bok, w, zero, one)
        curv[k, 1] = 2.0 * rho0 - _side_ncc(ta, bw, mt, bok, w, -one, zero) - _side_ncc(ta, bw, mt, bok, w, one, zero)
    return count, resid, peak, tensor, gcorr, curv, win
