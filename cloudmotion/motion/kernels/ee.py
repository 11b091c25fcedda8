"""Compiled per-template terms of the expected error (see :func:`cloudmotion.motion.ee_terms.template_terms`).

One pass per template computes what the numpy reference
(:func:`cloudmotion.motion.references.ee.terms_numpy`) builds from stacks of windows:
frame B warped by the template's final displacement with the Keys bicubic kernel on a
window one pixel larger than the template, the motion-compensated residual variance and
correlation, the structure tensor and the gradients' lag-one correlation, and the
correlation coefficients one pixel either side of the peak along each axis, and (on
request) the template's residual, less its affine-deformation fit, and masked gradients as
windows binned into blocks for the residual-correlation sums, whose spectra
:func:`cloudmotion.motion.kernels.ee_smooth.spectral_sums` reduces. Sums are in float64. The kernels are serial and ``nogil``:
:func:`cloudmotion.motion.kernels.jit.split_run` runs them on parts of the template list in threads.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.ee_smooth import remove_deformation
from cloudmotion.motion.kernels.jit import FAST_EXACT_DIV, kernel

__all__ = ["ee_terms"]


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def _keys(t: float, out: np.ndarray) -> None:
    t2 = t * t
    t3 = t2 * t
    out[0] = -0.5 * t3 + t2 - 0.5 * t
    out[1] = 1.5 * t3 - 2.5 * t2 + 1.0
    out[2] = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    out[3] = 0.5 * t3 - 0.5 * t2


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
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


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def _side_ncc_dense(ta, bw, w, si, sj, sum_a, sum_aa):
    """:func:`_side_ncc` where the template and the shifted window are wholly valid, in one pass.

    The template's sums are given; the raw sums are in float64 and the frames' offset is
    removed, so the one-pass variances lose nothing that matters.
    """
    sb = 0.0
    sbb = 0.0
    sab = 0.0
    for i in range(w):
        for j in range(w):
            y = bw[i + 1 + si, j + 1 + sj]
            sb += y
            sbb += y * y
            sab += ta[i, j] * y
    n = w * w
    num = sab - sum_a * sb / n
    den = np.sqrt((sum_aa - sum_a * sum_a / n) * (sbb - sb * sb / n))
    return num / den if den > 0 else np.nan


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def _all_true(m):
    for p in range(m.shape[0]):
        for q in range(m.shape[1]):
            if not m[p, q]:
                return False
    return True


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def _gradients(ppa, mt, r, c, w, gm, gxl, gyl):
    """Central differences of A over the template, where the pixel's 3 x 3 cross is usable (else 0)."""
    for i in range(w):
        for j in range(w):
            ok = mt[i + 1, j + 1] and mt[i + 1, j] and mt[i + 1, j + 2] and mt[i, j + 1] and mt[i + 2, j + 1]
            gm[i, j] = ok
            y = r + i + 1
            x = c + j + 1
            # float32 differences halved: what numpy's gradient gives on the float32 frame
            gxl[i, j] = (ppa[y, x + 1] - ppa[y, x - 1]) * 0.5 if ok else 0.0
            gyl[i, j] = (ppa[y + 1, x] - ppa[y - 1, x]) * 0.5 if ok else 0.0


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def ee_terms(ppa, puse, pb, pok, pad, rows, cols, dx, dy, w, windows, factor):
    """Expected-error terms of templates (one row per template; NaN where dx/dy are not finite).

    Parameters
    ----------
    ppa, puse : ndarray, shape (H + 2, W + 2)
        Frame A (float32, offset removed, 0 where invalid) and its usable pixels, padded by 1.
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
    gm = np.empty((w, w), dtype=np.bool_)
    gxl = np.empty((w, w))
    gyl = np.empty((w, w))
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
        # templates with no NoData near them (most) take branch-free loops
        _gradients(ppa, mt, r, c, w, gm, gxl, gyl)
        dense = _all_true(mt) and _all_true(bok)
        cnt = 0.0
        sum_a = 0.0
        sum_aa = 0.0
        sum_b = 0.0
        for i in range(w):
            for j in range(w):
                ta[i, j] = ppa[r + i + 1, c + j + 1]
                if dense or (mt[i + 1, j + 1] and bok[i + 1, j + 1]):
                    cnt += 1.0
                    sum_a += ta[i, j]
                    sum_aa += ta[i, j] * ta[i, j]
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
        if dense:
            for i in range(w):
                for j in range(w):
                    x = ta[i, j] - mu_a
                    y = bw[i + 1, j + 1] - mu_b
                    sa += x * x
                    sb += y * y
                    sab += x * y
                    gx = gxl[i, j]
                    gy = gyl[i, j]
                    hxx += gx * gx
                    hxy += gx * gy
                    hyy += gy * gy
                for j in range(w - 1):
                    ax += gxl[i, j] * gxl[i, j + 1]
                    ax += gyl[i, j] * gyl[i, j + 1]
                if i + 1 < w:
                    for j in range(w):
                        ay += gxl[i, j] * gxl[i + 1, j]
                        ay += gyl[i, j] * gyl[i + 1, j]
        else:
            for i in range(w):
                for j in range(w):
                    m = mt[i + 1, j + 1] and bok[i + 1, j + 1]
                    if m:
                        x = ta[i, j] - mu_a
                        y = bw[i + 1, j + 1] - mu_b
                        sa += x * x
                        sb += y * y
                        sab += x * y
                        if gm[i, j]:
                            gx = gxl[i, j]
                            gy = gyl[i, j]
                            hxx += gx * gx
                            hxy += gx * gy
                            hyy += gy * gy
                            if j + 1 < w and mt[i + 1, j + 2] and bok[i + 1, j + 2] and gm[i, j + 1]:
                                ax += gx * gxl[i, j + 1] + gy * gyl[i, j + 1]
                            if i + 1 < w and mt[i + 2, j + 1] and bok[i + 2, j + 1] and gm[i + 1, j]:
                                ay += gx * gxl[i + 1, j] + gy * gyl[i + 1, j]
        gain = np.sqrt(sa / sb) if sb > 0 else 1.0
        if windows:
            for i in range(w):
                for j in range(w):
                    m = dense or (mt[i + 1, j + 1] and bok[i + 1, j + 1])
                    ew[i, j] = gain * (bw[i + 1, j + 1] - mu_b) - (ta[i, j] - mu_a) if m else 0.0
                    g_ok = m and (dense or gm[i, j])
                    gxw[i, j] = gxl[i, j] if g_ok else 0.0
                    gyw[i, j] = gyl[i, j] if g_ok else 0.0
            remove_deformation(ew, gxw, gyw, w)
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
        if dense:
            left = _side_ncc_dense(ta, bw, w, zero, -one, sum_a, sum_aa)
            right = _side_ncc_dense(ta, bw, w, zero, one, sum_a, sum_aa)
            up = _side_ncc_dense(ta, bw, w, -one, zero, sum_a, sum_aa)
            down = _side_ncc_dense(ta, bw, w, one, zero, sum_a, sum_aa)
        else:
            left = _side_ncc(ta, bw, mt, bok, w, zero, -one)
            right = _side_ncc(ta, bw, mt, bok, w, zero, one)
            up = _side_ncc(ta, bw, mt, bok, w, -one, zero)
            down = _side_ncc(ta, bw, mt, bok, w, one, zero)
        curv[k, 0] = 2.0 * rho0 - left - right
        curv[k, 1] = 2.0 * rho0 - up - down
    return count, resid, peak, tensor, gcorr, curv, win
