"""Compiled per-template terms of the expected error (see :func:`cloudmotion.motion.expected_error.template_terms`).

One pass per template computes what the numpy reference
(:func:`cloudmotion.motion.expected_error.template_terms_numpy`) builds from stacks of windows:
frame B warped by the template's final displacement with the Keys bicubic kernel on a
window one pixel larger than the template, the motion-compensated residual variance and
correlation, the structure tensor and the gradients' lag-one correlation, and the
correlation coefficients one pixel either side of the peak along each axis. Sums are in
float64. The kernel is serial and ``nogil``: :func:`cloudmotion.motion.kernels.jit.split_run` runs it
on parts of the template list in threads.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import kernel

__all__ = ["ee_terms"]

_FM = {"reassoc", "contract", "nsz", "arcp"}
"""Fast-math flags of the fully valid templates' path: sums may be reordered (SIMD), no NaN/inf assumptions."""


@kernel(nogil=True, fastmath=False)
def _keys(t: float, out: np.ndarray) -> None:
    t2 = t * t
    t3 = t2 * t
    out[0] = -0.5 * t3 + t2 - 0.5 * t
    out[1] = 1.5 * t3 - 2.5 * t2 + 1.0
    out[2] = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    out[3] = 0.5 * t3 - 0.5 * t2


@kernel(nogil=True, fastmath=False)
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


@kernel(nogil=True, fastmath=_FM)
def _side_ncc_full(ta, bw, w, si, sj):
    """:func:`_side_ncc` where every pixel is valid: no masks, row slices, so the sums vectorise."""
    sa = 0.0
    sb = 0.0
    for i in range(w):
        arow, brow = ta[i], bw[i + 1 + si, 1 + sj : 1 + sj + w]
        for j in range(w):
            sa += arow[j]
            sb += brow[j]
    n = np.float64(w * w)
    ma = sa / n
    mb = sb / n
    num = 0.0
    va = 0.0
    vb = 0.0
    for i in range(w):
        arow, brow = ta[i], bw[i + 1 + si, 1 + sj : 1 + sj + w]
        for j in range(w):
            x = arow[j] - ma
            y = brow[j] - mb
            num += x * y
            va += x * x
            vb += y * y
    den = np.sqrt(va * vb)
    return num / den if den > 0 else np.nan


@kernel(nogil=True, fastmath=_FM)
def _sums_full(ta, bw, gx, gy, w):
    """The sums of :func:`ee_terms` for a template whose every pixel, support and gradient is valid."""
    sum_a = 0.0
    sum_b = 0.0
    for i in range(w):
        arow, brow = ta[i], bw[i + 1, 1 : 1 + w]
        for j in range(w):
            sum_a += arow[j]
            sum_b += brow[j]
    n = np.float64(w * w)
    mu_a = sum_a / n
    mu_b = sum_b / n
    sa = 0.0
    sb = 0.0
    sab = 0.0
    hxx = 0.0
    hxy = 0.0
    hyy = 0.0
    ax = 0.0
    ay = 0.0
    for i in range(w):
        arow, brow, xrow, yrow = ta[i], bw[i + 1, 1 : 1 + w], gx[i], gy[i]
        for j in range(w):
            x = arow[j] - mu_a
            y = brow[j] - mu_b
            sa += x * x
            sb += y * y
            sab += x * y
            hxx += xrow[j] * xrow[j]
            hxy += xrow[j] * yrow[j]
            hyy += yrow[j] * yrow[j]
        for j in range(w - 1):
            ax += xrow[j] * xrow[j + 1] + yrow[j] * yrow[j + 1]
    for i in range(w - 1):
        xrow, yrow, xnext, ynext = gx[i], gy[i], gx[i + 1], gy[i + 1]
        for j in range(w):
            ay += xrow[j] * xnext[j] + yrow[j] * ynext[j]
    return n, sa, sb, sab, hxx, hxy, hyy, ax, ay


@kernel(nogil=True, fastmath=False)
def _sums_masked(ta, bw, mt, bok, pgm, gx, gy, r, c, w):
    """The sums of :func:`ee_terms` over the usable pixels of a template (exact order)."""
    cnt = 0.0
    sum_a = 0.0
    sum_b = 0.0
    for i in range(w):
        for j in range(w):
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
                    ex = gx[i, j]
                    ey = gy[i, j]
                    hxx += ex * ex
                    hxy += ex * ey
                    hyy += ey * ey
                    if j + 1 < w and mt[i + 1, j + 2] and bok[i + 1, j + 2] and pgm[r + i + 1, c + j + 2]:
                        ax += ex * gx[i, j + 1] + ey * gy[i, j + 1]
                    if i + 1 < w and mt[i + 2, j + 1] and bok[i + 2, j + 1] and pgm[r + i + 2, c + j + 1]:
                        ay += ex * gx[i + 1, j] + ey * gy[i + 1, j]
    return cnt, sa, sb, sab, hxx, hxy, hyy, ax, ay


@kernel(nogil=True, fastmath=False)
def ee_terms(ppa, puse, pgm, pb, pok, pad, rows, cols, dx, dy, w):
    """Expected-error terms of templates (one row per template; NaN where dx/dy are not finite).

    Parameters
    ----------
    ppa, puse : ndarray, shape (H + 2, W + 2)
        Frame A (float32, offset removed, 0 where invalid) and its usable pixels, padded by 1.
    pgm : ndarray of bool, shape (H + 2, W + 2)
        Where A's central-difference gradient is defined (the pixel and its 4 neighbours
        usable), padded by 1. The gradients themselves, ``np.gradient``'s central differences
        of ``ppa`` in float32, 0 where undefined, are computed per template.
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

    Returns
    -------
    count, residual_var, peak_corr : ndarray, shape (N,)
    tensor : ndarray, shape (N, 3)
    grad_corr, curvature : ndarray, shape (N, 2)
    """
    n = rows.shape[0]
    count = np.zeros(n)
    resid = np.full(n, np.nan)
    peak = np.full(n, np.nan)
    tensor = np.full((n, 3), np.nan)
    gcorr = np.full((n, 2), np.nan)
    curv = np.full((n, 2), np.nan)
    wy = np.empty(4)
    wx = np.empty(4)
    s = w + 2
    bw = np.empty((s, s))
    hrow = np.empty((s + 3, s))
    bok = np.empty((s, s), dtype=np.bool_)
    mt = np.empty((s, s), dtype=np.bool_)
    ta = np.empty((w, w))
    gx = np.empty((w, w), np.float32)
    gy = np.empty((w, w), np.float32)
    two = np.float32(2.0)
    zero, minus, plus = np.int64(0), np.int64(-1), np.int64(1)
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
        # separable: along columns first, then along rows (row slices: no negative-index checks)
        for p in range(s + 3):
            src, dst = pb[r0 + p, c0 : c0 + s + 3], hrow[p]
            for q in range(s):
                dst[q] = wx[0] * src[q] + wx[1] * src[q + 1] + wx[2] * src[q + 2] + wx[3] * src[q + 3]
        for p in range(s):
            h0, h1, h2, h3, dst = hrow[p], hrow[p + 1], hrow[p + 2], hrow[p + 3], bw[p]
            okrow = pok[pad + r + iy - 1 + p, pad + c + ix - 1 : pad + c + ix - 1 + s]
            userow = puse[r + p, c : c + s]
            for q in range(s):
                dst[q] = wy[0] * h0[q] + wy[1] * h1[q] + wy[2] * h2[q] + wy[3] * h3[q]
                bok[p, q] = okrow[q]
                mt[p, q] = userow[q]
        full = True  # every template pixel usable, its gradient defined, the support valid one pixel around
        for p in range(s):
            for q in range(s):
                full &= bok[p, q]
        for i in range(w):
            up, row, down, grow = ppa[r + i], ppa[r + i + 1], ppa[r + i + 2], pgm[r + i + 1]
            for j in range(w):
                x = c + j + 1
                ta[i, j] = row[x]
                full &= mt[i + 1, j + 1] and grow[x]
                if grow[x]:
                    gx[i, j] = (row[x + 1] - row[x - 1]) / two
                    gy[i, j] = (down[x] - up[x]) / two
                else:
                    gx[i, j] = 0.0
                    gy[i, j] = 0.0
        if full:
            cnt, sa, sb, sab, hxx, hxy, hyy, ax, ay = _sums_full(ta, bw, gx, gy, w)
        else:
            cnt, sa, sb, sab, hxx, hxy, hyy, ax, ay = _sums_masked(ta, bw, mt, bok, pgm, gx, gy, r, c, w)
        gain = np.sqrt(sa / sb) if sb > 0 else 1.0
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
        # offsets as int64 values: literal ints would compile one copy of _side_ncc per call
        if full:
            left, right = _side_ncc_full(ta, bw, w, zero, minus), _side_ncc_full(ta, bw, w, zero, plus)
            up, down = _side_ncc_full(ta, bw, w, minus, zero), _side_ncc_full(ta, bw, w, plus, zero)
        else:
            left, right = _side_ncc(ta, bw, mt, bok, w, zero, minus), _side_ncc(ta, bw, mt, bok, w, zero, plus)
            up, down = _side_ncc(ta, bw, mt, bok, w, minus, zero), _side_ncc(ta, bw, mt, bok, w, plus, zero)
        curv[k, 0] = 2.0 * rho0 - left - right
        curv[k, 1] = 2.0 * rho0 - up - down
    return count, resid, peak, tensor, gcorr, curv
