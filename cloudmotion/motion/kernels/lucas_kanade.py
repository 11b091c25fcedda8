"""Compiled kernel of the float Lucas-Kanade refinement (see :mod:`cloudmotion.motion.refine`).

One template per loop iteration (serial, ``nogil``: threads run parts of the template list,
see :func:`cloudmotion.motion.kernels.jit.split_run`): the separable bicubic
(Keys) or bilinear warp of B around the current displacement, the Gauss-Newton normal
equations with the brightness/contrast normalisation of :class:`cloudmotion.motion.references.refine._Template`, the
2 x 2 solve and the stopping rules, all without frame-sized temporaries. Sums are in
float64 (the numpy path sums in float32), so results differ from it by rounding only.

Axis order (rows, cols); ``dy`` along rows, ``dx`` along columns, px. Pixels outside B
count as invalid; B's 4 x 4-support mask ``support`` is True where every pixel the
kernel touches (rows and cols -1 .. +2) is valid.

References
----------
Baker, S. and Matthews, I. (2004). Lucas-Kanade 20 years on. IJCV 56(3), 221-255.
Keys, R. (1981). Cubic convolution interpolation. IEEE Trans. ASSP 29(6), 1153-1160.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import FAST, kernel

__all__ = ["gradients", "lk_refine"]


@kernel(nogil=True)
def gradients(image, mask):
    """Central differences (float32, as ``np.gradient``) where the valid 3 x 3 cross allows, else 0.

    Returns gy, gx (float32) and gmask (bool: the pixel and its four neighbours are valid,
    none outside the frame; the binary erosion of ``mask`` by a cross).
    """
    h, w = image.shape
    gy = np.zeros((h, w), np.float32)
    gx = np.zeros((h, w), np.float32)
    gm = np.zeros((h, w), np.bool_)
    two = np.float32(2.0)
    for i in range(1, h - 1):
        for j in range(1, w - 1):
            if mask[i, j] and mask[i - 1, j] and mask[i + 1, j] and mask[i, j - 1] and mask[i, j + 1]:
                gy[i, j] = (image[i + 1, j] - image[i - 1, j]) / two
                gx[i, j] = (image[i, j + 1] - image[i, j - 1]) / two
                gm[i, j] = True
    return gy, gx, gm


@kernel(nogil=True)
def _weights(frac, bicubic, out):
    """Interpolation weights at offsets -1, 0, +1, +2 (float32, computed in float64)."""
    t = frac
    if bicubic:
        t2, t3 = t * t, t * t * t
        out[0] = -0.5 * t3 + t2 - 0.5 * t
        out[1] = 1.5 * t3 - 2.5 * t2 + 1.0
        out[2] = -1.5 * t3 + 2.0 * t2 + 0.5 * t
        out[3] = 0.5 * t3 - 0.5 * t2
    else:
        out[0] = 0.0
        out[1] = 1.0 - t
        out[2] = t
        out[3] = 0.0


@kernel(nogil=True, fastmath=FAST)
def _warp(b, offset, y0, x0, w, wy, wx, tmp, out):
    """out[i, j] = sum_kl (B - offset)[y0 - 1 + i + k, x0 - 1 + j + l] wy[k] wx[l]; 0 outside B."""
    hb, wb = b.shape
    inside = y0 - 1 >= 0 and x0 - 1 >= 0 and y0 + w + 2 <= hb and x0 + w + 2 <= wb
    off32 = np.float32(offset)
    for a in range(w + 3):
        y = y0 - 1 + a
        trow = tmp[a]
        if inside:
            brow = b[y, x0 - 1 : x0 + w + 2]
            for j in range(w):
                trow[j] = (
                    (brow[j] - off32) * wx[0]
                    + (brow[j + 1] - off32) * wx[1]
                    + (brow[j + 2] - off32) * wx[2]
                    + (brow[j + 3] - off32) * wx[3]
                )
        else:
            for j in range(w):
                acc = np.float32(0)
                for k in range(4):
                    x = x0 - 1 + j + k
                    if 0 <= y < hb and 0 <= x < wb:
                        acc += (b[y, x] - off32) * wx[k]
                trow[j] = acc
    for i in range(w):
        orow = out[i]
        r0, r1, r2, r3 = tmp[i], tmp[i + 1], tmp[i + 2], tmp[i + 3]
        for j in range(w):
            orow[j] = r0[j] * wy[0] + r1[j] * wy[1] + r2[j] * wy[2] + r3[j] * wy[3]


@kernel(nogil=True)
def _support_full(support, y0, x0, w):
    hb, wb = support.shape
    if y0 < 0 or x0 < 0 or y0 + w > hb or x0 + w > wb:
        return False
    for i in range(w):
        for j in range(w):
            if not support[y0 + i, x0 + j]:
                return False
    return True


@kernel(nogil=True, error_model="numpy", fastmath=FAST)
def lk_refine(
    a, gy, gx, gmask, b, support, rows, cols, dx, dy, w, max_iter, tol, max_move, min_eig, bicubic, g2, offset
):
    """Inverse-compositional Lucas-Kanade of each template; ``dx``, ``dy`` (float64) updated in place.

    Returns
    -------
    its : int64 (N,), eig : float64 (N,), conv : bool (N,), tensor : float64 (N, 3),
    moments : float64 (N, 2, 3), sigma : float64 (N,)
        As :class:`cloudmotion.motion.results.RefineResult` (``eig`` is the unit-free
        eigenvalue); ``failed`` and the reset of failed windows are left to the caller.
    """
    n = rows.size
    its = np.zeros(n, np.int64)
    eig = np.full(n, np.nan)
    conv = np.zeros(n, np.bool_)
    tensor = np.zeros((n, 3))
    moments = np.zeros((n, 2, 3))
    sigma = np.full(n, np.nan)
    half = (w - 1) / 2.0
    chunk = 16
    for c in range((n + chunk - 1) // chunk):
        m = np.empty((w, w), np.float32)
        tgx = np.empty((w, w), np.float32)
        tgy = np.empty((w, w), np.float32)
        tv = np.empty((w, w), np.float32)
        cen = np.empty((w, w), np.float32)
        tmp = np.empty((w + 3, w), np.float32)
        bw = np.empty((w, w), np.float32)
        wy = np.empty(4, np.float32)
        wx = np.empty(4, np.float32)
        for k in range(c * chunk, min(n, (c + 1) * chunk)):
            r0, c0 = rows[k], cols[k]
            hxx0 = hxy0 = hyy0 = 0.0
            mom = np.zeros((2, 3))
            count = 0.0
            tsum = 0.0
            off32 = np.float32(offset)
            for i in range(w):
                mrow, grow, hrow = gmask[r0 + i, c0 : c0 + w], gx[r0 + i, c0 : c0 + w], gy[r0 + i, c0 : c0 + w]
                arow = a[r0 + i, c0 : c0 + w]
                m_i, x_i, y_i, t_i = m[i], tgx[i], tgy[i], tv[i]
                sxx = sxy = syy = jxx = jxy = jyy = 0.0
                for j in range(w):
                    mv = np.float32(1.0) if mrow[j] else np.float32(0.0)
                    m_i[j] = mv
                    ex = grow[j] * mv
                    ey = hrow[j] * mv
                    x_i[j] = ex
                    y_i[j] = ey
                    xx, xy, yy = np.float64(ex * ex), np.float64(ex * ey), np.float64(ey * ey)
                    oj = j - half
                    sxx += xx
                    sxy += xy
                    syy += yy
                    jxx += xx * oj
                    jxy += xy * oj
                    jyy += yy * oj
                    v = arow[j] - off32 if mrow[j] else np.float32(0.0)  # invalid pixels may hold NaN
                    t_i[j] = v
                    count += mv
                    tsum += v * mv
                oi = i - half
                hxx0 += sxx
                hxy0 += sxy
                hyy0 += syy
                mom[0, 0] += jxx
                mom[0, 1] += jxy
                mom[0, 2] += jyy
                mom[1, 0] += sxx * oi
                mom[1, 1] += sxy * oi
                mom[1, 2] += syy * oi
            tensor[k, 0], tensor[k, 1], tensor[k, 2] = hxx0, hxy0, hyy0
            # element by element: an array assigned to a slice compiles numba's shape-mismatch
            # error formatting, seconds of the first run's compile
            for p in range(2):
                for q in range(3):
                    moments[k, p, q] = mom[p, q]
            if not (np.isfinite(dx[k]) and np.isfinite(dy[k])):
                continue
            mean_a = np.float32(tsum / max(count, 1.0))
            var_a = 0.0
            sgx0 = sgy0 = gdx = gdy = 0.0
            for i in range(w):
                for j in range(w):
                    e = (tv[i, j] - mean_a) * m[i, j]
                    cen[i, j] = e
                    var_a += np.float64(e) * e
                    sgx0 += tgx[i, j]
                    sgy0 += tgy[i, j]
                    gdx += np.float64(tgx[i, j]) * e
                    gdy += np.float64(tgy[i, j]) * e
            x0, y0 = dx[k], dy[k]
            for _ in range(max_iter):
                iy = int(np.floor(dy[k]))
                ix = int(np.floor(dx[k]))
                _weights(dy[k] - iy, bicubic, wy)
                _weights(dx[k] - ix, bicubic, wx)
                _warp(b, offset, r0 + iy, c0 + ix, w, wy, wx, tmp, bw)
                if _support_full(support, r0 + iy, c0 + ix, w):
                    s1 = s2 = sgx = sgy = sac = 0.0
                    for i in range(w):
                        for j in range(w):
                            f = bw[i, j] * m[i, j]
                            s1 += f
                            s2 += np.float64(f) * f
                            sgx += np.float64(tgx[i, j]) * f
                            sgy += np.float64(tgy[i, j]) * f
                            sac += np.float64(cen[i, j]) * f
                    cnt = count
                    nn = max(count, 1.0)
                    mu_b = s1 / nn
                    var_b = max(s2 - s1 * mu_b, 0.0)
                    gain = np.sqrt(var_a / var_b) if var_b > 0 else 1.0
                    bx = gain * (sgx - mu_b * sgx0) - gdx
                    by = gain * (sgy - mu_b * sgy0) - gdy
                    resvar = (gain * gain * var_b - 2 * gain * sac + var_a) / max(nn - 3.0, 1.0)
                    hxx, hxy, hyy = hxx0, hxy0, hyy0
                else:
                    hb, wb = support.shape
                    cnt = 0.0
                    sa1 = sb1 = 0.0
                    for i in range(w):
                        for j in range(w):
                            y, x = r0 + iy + i, c0 + ix + j
                            if m[i, j] > 0 and 0 <= y < hb and 0 <= x < wb and support[y, x]:
                                cnt += 1.0
                                sa1 += tv[i, j]
                                sb1 += bw[i, j]
                    cs = max(cnt, 1.0)
                    mu_a, mu_b = np.float32(sa1 / cs), np.float32(sb1 / cs)
                    saa = sbb = 0.0
                    for i in range(w):
                        for j in range(w):
                            y, x = r0 + iy + i, c0 + ix + j
                            if m[i, j] > 0 and 0 <= y < hb and 0 <= x < wb and support[y, x]:
                                saa += np.float64(tv[i, j] - mu_a) ** 2
                                sbb += np.float64(bw[i, j] - mu_b) ** 2
                    sa, sb = np.sqrt(saa), np.sqrt(sbb)
                    gain = sa / sb if sb > 0 else 1.0
                    g32 = np.float32(gain)
                    hxx = hxy = hyy = bx = by = ee = 0.0
                    for i in range(w):
                        for j in range(w):
                            y, x = r0 + iy + i, c0 + ix + j
                            if m[i, j] > 0 and 0 <= y < hb and 0 <= x < wb and support[y, x]:
                                err = (bw[i, j] - mu_b) * g32 - (tv[i, j] - mu_a)
                                ex, ey = tgx[i, j], tgy[i, j]
                                hxx += np.float64(ex) * ex
                                hyy += np.float64(ey) * ey
                                hxy += np.float64(ex) * ey
                                bx += np.float64(ex) * err
                                by += np.float64(ey) * err
                                ee += np.float64(err) * err
                    resvar = ee / max(cnt - 3.0, 1.0)
                det = hxx * hyy - hxy * hxy
                tr = hxx + hyy
                lam = 0.5 * (tr - np.sqrt(max((hxx - hyy) ** 2 + 4 * hxy * hxy, 0.0)))
                eig[k] = lam / max(cnt, 1.0) / g2
                sigma[k] = np.sqrt(max(resvar, 0.0) / lam)
                solvable = det > 0 and eig[k] >= min_eig and cnt >= 0.5 * w * w
                ddx = (hyy * bx - hxy * by) / det if solvable else 0.0
                ddy = (hxx * by - hxy * bx) / det if solvable else 0.0
                dx[k] -= ddx
                dy[k] -= ddy
                its[k] += 1
                done = np.hypot(ddx, ddy) < tol and solvable
                if done:
                    conv[k] = True
                if done or not solvable or np.hypot(dx[k] - x0, dy[k] - y0) > max_move:
                    break
    return its, eig, conv, tensor, moments, sigma
