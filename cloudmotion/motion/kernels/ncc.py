"""Compiled kernels of the coarse-to-fine search: direct NCC on blocks of lags.

Every kernel works on one pyramid level: frames ``A``, ``B`` (rows, cols) float32 with
validity masks (bool, True = valid), templates given by their top-left pixel
``(rows[n], cols[n])`` in A and their size ``w``. A lag ``(ky, kx)`` compares the
template with the ``w x w`` box of B whose top-left is ``(rows[n] + ky, cols[n] + kx)``
(``ky`` along rows, ``kx`` along columns, + = increasing index). Pixels outside B are
invalid.

The score is Pearson's correlation coefficient at every lag (Lewis 1995): zero-mean
template, box norms of B from float64 prefix sums of the region. Where the template or
the region has invalid pixels, the masked form (Padfield 2012) leaves them out of every
sum, and a lag counts only if the pixels valid in both cover ``min_overlap`` of the
template's valid pixels, with the same variance floors as
:func:`cloudmotion.motion.correlate.ncc_masked`. Undefined lags, and lags beyond ``+-rad``, are NaN.

Kernels are serial and release the GIL (``nogil``): :func:`cloudmotion.motion.kernels.jit.split_run`
runs them on parts of the template list in threads. Each inner row product is one
contiguous dot product that LLVM vectorises.

References
----------
Lewis, J. P. (1995). Fast normalized cross-correlation. Vision Interface, 120-123.
Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE TIP 21(5).
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import FAST, kernel

__all__ = ["climb", "coarse_search"]

_CHUNK = 32  # templates per buffer allocation


@kernel(nogil=True, fastmath=FAST)
def _all_valid(M, y0, x0, size):
    for i in range(size):
        row = M[y0 + i, x0 : x0 + size]
        n = 0
        for j in range(size):
            n += row[j]
        if n != size:
            return False
    return True


@kernel(nogil=True, fastmath=FAST)
def _centre_dense(X, y0, x0, size, out, om):
    """out = X[y0:, x0:][:size, :size] minus its mean (float64 mean); returns the sum of squares."""
    tot = 0.0
    for i in range(size):
        row = X[y0 + i, x0 : x0 + size]
        for j in range(size):
            tot += row[j]
    mean = tot / (size * size)
    q = 0.0
    for i in range(size):
        row = X[y0 + i, x0 : x0 + size]
        o = out[i]
        m = om[i]
        for j in range(size):
            v = np.float32(row[j] - mean)
            o[j] = v
            m[j] = 1.0
            q += np.float64(v) * v
    return q


@kernel(nogil=True)
def _load_masked(X, M, y0, x0, size, out, om):
    """As :func:`_centre_dense` over the valid pixels inside X only, 0 elsewhere; returns (count, sum of squares)."""
    hb, wb = X.shape
    cnt = 0
    tot = 0.0
    for i in range(size):
        y = y0 + i
        for j in range(size):
            x = x0 + j
            if 0 <= y < hb and 0 <= x < wb and M[y, x]:
                cnt += 1
                tot += X[y, x]
    mean = tot / cnt if cnt > 0 else 0.0
    q = 0.0
    for i in range(size):
        y = y0 + i
        for j in range(size):
            x = x0 + j
            if 0 <= y < hb and 0 <= x < wb and M[y, x]:
                v = np.float32(X[y, x] - mean)
                out[i, j] = v
                om[i, j] = 1.0
                q += np.float64(v) * v
            else:
                out[i, j] = 0.0
                om[i, j] = 0.0
    return cnt, q


@kernel(nogil=True)
def _load(X, M, y0, x0, size, out, om):
    """Window of X (size x size from (y0, x0)) minus its valid mean, 0 where invalid or outside X.

    Returns (valid count, sum of squares after centring); ``om`` is 1.0 where valid.
    """
    hb, wb = X.shape
    if y0 >= 0 and x0 >= 0 and y0 + size <= hb and x0 + size <= wb and _all_valid(M, y0, x0, size):
        return size * size, _centre_dense(X, y0, x0, size, out, om)
    return _load_masked(X, M, y0, x0, size, out, om)


@kernel(nogil=True, fastmath=FAST)
def _numerators(t, s, nk, w, num, tl):
    """num[ky, kx] = sum_ij t[i, j] s[i + ky, j + kx], float32.

    The template is laid out with the region's row stride (zeros between its rows), so
    each lag is one contiguous dot product of the flat region from offset ky * S + kx.
    """
    size = nk + w - 1
    n = (w - 1) * size + w
    for p in range(n):
        tl[p] = 0.0
    for i in range(w):
        tr = t[i]
        for j in range(w):
            tl[i * size + j] = tr[j]
    sf = s.reshape(size * size)
    for ky in range(nk):
        for kx in range(nk):
            o = ky * size + kx
            seg = sf[o : o + n]
            acc = np.float32(0)
            for p in range(n):
                acc += tl[p] * seg[p]
            num[ky, kx] = acc


@kernel(nogil=True, fastmath=FAST)
def _block_dense(t, tn2, s, nk, w, num, c1, c2, tl, out):
    """NCC at nk x nk lags when template and region are fully valid.

    Box norms of the region: float64 column sums over w rows, slid down one row per lag
    row, then summed over w columns and slid along the row.
    """
    size = nk + w - 1
    _numerators(t, s, nk, w, num, tl)
    for j in range(size):
        c1[j] = 0.0
        c2[j] = 0.0
    for i in range(w):
        row = s[i]
        for j in range(size):
            v = np.float64(row[j])
            c1[j] += v
            c2[j] += v * v
    n = w * w
    tn = np.sqrt(tn2)
    smax = 0.0
    for ky in range(nk):
        if ky > 0:
            old = s[ky - 1]
            new = s[ky + w - 1]
            for j in range(size):
                a = np.float64(old[j])
                b = np.float64(new[j])
                c1[j] += b - a
                c2[j] += b * b - a * a
        b1 = 0.0
        b2 = 0.0
        for j in range(w):
            b1 += c1[j]
            b2 += c2[j]
        for kx in range(nk):
            if kx > 0:
                b1 += c1[kx + w - 1] - c1[kx - 1]
                b2 += c2[kx + w - 1] - c2[kx - 1]
            sn = np.sqrt(max(b2 - b1 * b1 / n, 0.0))
            out[ky, kx] = sn  # box norm, replaced by the coefficient below
            smax = max(smax, sn)
    floor = max(1e-6 * tn * smax, 1e-30)
    for ky in range(nk):
        for kx in range(nk):
            den = tn * out[ky, kx]
            out[ky, kx] = min(max(num[ky, kx] / den, -1.0), 1.0) if den > floor else np.nan


@kernel(nogil=True, fastmath=FAST)
def _block_masked(t, tm, nt, tsq, s, sm, ns, ssq, nk, w, min_overlap, out):
    """Masked NCC (Padfield 2012) at nk x nk lags; float32 row sums, float64 totals."""
    need = max(min_overlap * nt, 2.0)
    for ky in range(nk):
        for kx in range(nk):
            cnt = 0.0
            sts = 0.0
            st = 0.0
            st2 = 0.0
            ss = 0.0
            ss2 = 0.0
            for i in range(w):
                tr = t[i]
                mr = tm[i]
                sr = s[i + ky]
                qr = sm[i + ky]
                a0 = a1 = a2 = a3 = a4 = a5 = np.float32(0)
                for j in range(w):
                    tv = tr[j]
                    mt = mr[j]
                    sv = sr[j + kx]
                    ms = qr[j + kx]
                    a0 += mt * ms
                    a1 += tv * sv
                    a2 += tv * ms
                    a3 += tv * tv * ms
                    a4 += sv * mt
                    a5 += sv * sv * mt
                cnt += a0
                sts += a1
                st += a2
                st2 += a3
                ss += a4
                ss2 += a5
            cnt = np.floor(cnt + 0.5)  # a count summed in floats: the nearest whole number
            res = np.nan
            if cnt >= need:
                num = sts - st * ss / cnt
                vt = st2 - st * st / cnt
                vs = ss2 - ss * ss / cnt
                if vt > 1e-5 * tsq * cnt / max(nt, 1.0) and vs > 1e-5 * ssq * cnt / max(ns, 1.0):
                    res = min(max(num / np.sqrt(vt * vs), -1.0), 1.0)
            out[ky, kx] = res


@kernel(nogil=True)
def _block(B, Bm, r0, c0, w, ky0, kx0, nk, rad, min_overlap, t, tm, nt, tsq, bufs, out):
    """NCC of a loaded template at lags ky0.. ky0+nk-1, kx0.. kx0+nk-1 of B; NaN beyond +-rad."""
    s, sm, num, c1, c2, tl = bufs
    size = nk + w - 1
    ns, ssq = _load(B, Bm, r0 + ky0, c0 + kx0, size, s, sm)
    if nt == w * w and ns == size * size:
        _block_dense(t, tsq, s, nk, w, num, c1, c2, tl, out)
    else:
        _block_masked(t, tm, np.float64(nt), tsq, s, sm, np.float64(ns), ssq, nk, w, min_overlap, out)
    for i in range(nk):
        for j in range(nk):
            if abs(ky0 + i) > rad or abs(kx0 + j) > rad:
                out[i, j] = np.nan


@kernel(nogil=True)
def _buffers(w, nk):
    size = nk + w - 1
    return (
        np.empty((size, size), np.float32),
        np.empty((size, size), np.float32),
        np.empty((nk, nk), np.float32),
        np.empty(size),
        np.empty(size),
        np.empty(size * size, np.float32),
    )


@kernel(nogil=True)
def _argmax(blk, nk):
    """Row-major first maximum of the finite values; (-1, -1, nan) when none."""
    bi, bj, best = -1, -1, -np.inf
    for i in range(nk):
        for j in range(nk):
            v = blk[i, j]
            if v > best:  # NaN compares False
                bi, bj, best = i, j, v
    return bi, bj, (best if bi >= 0 else np.nan)


@kernel(nogil=True)
def coarse_search(A, Am, B, Bm, rows, cols, w, rad, min_overlap, exclude):
    """Exhaustive direct NCC over +-rad lags; the best peak and the best competing local maximum.

    Returns
    -------
    pos : ndarray of int64, shape (N, 4)
        (ky, kx) of the best lag, then of the competitor: the highest 3 x 3 local maximum
        more than ``exclude`` lags (Chebyshev) from the best; (0, 0) when undefined.
    val : ndarray of float64, shape (N, 2)
        Their coefficients (NaN when undefined).
    """
    n = rows.size
    nk = 2 * rad + 1
    pos = np.zeros((n, 4), np.int64)
    val = np.full((n, 2), np.nan)
    for c in range((n + _CHUNK - 1) // _CHUNK):
        t = np.empty((w, w), np.float32)
        tm = np.empty((w, w), np.float32)
        bufs = _buffers(w, nk)
        blk = np.empty((nk, nk), np.float32)
        for k in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            nt, tsq = _load(A, Am, rows[k], cols[k], w, t, tm)
            if nt < 2:
                continue
            _block(B, Bm, rows[k], cols[k], w, -rad, -rad, nk, rad, min_overlap, t, tm, nt, tsq, bufs, blk)
            bi, bj, best = _argmax(blk, nk)
            if bi < 0:
                continue
            pos[k, 0], pos[k, 1], val[k, 0] = bi - rad, bj - rad, best
            ci, cj, cbest = -1, -1, -np.inf
            for i in range(nk):
                for j in range(nk):
                    v = blk[i, j]
                    if not v > cbest or (abs(i - bi) <= exclude and abs(j - bj) <= exclude):
                        continue
                    peak = True
                    for di in range(-1, 2):
                        for dj in range(-1, 2):
                            y, x = i + di, j + dj
                            if 0 <= y < nk and 0 <= x < nk and blk[y, x] > v:
                                peak = False
                    if peak:
                        ci, cj, cbest = i, j, v
            if ci >= 0:
                pos[k, 2], pos[k, 3], val[k, 1] = ci - rad, cj - rad, cbest
    return pos, val


@kernel(nogil=True)
def climb(A, Am, B, Bm, rows, cols, cy, cx, w, rad, half, max_moves, min_overlap, lag0):
    """Hill-climb of the NCC on (2 half + 1)^2 blocks of lags from (cy, cx) to a block-interior peak.

    The block is re-centred on its maximum while that maximum lies on the block's edge
    (and not on the +-rad edge of the search), at most ``max_moves`` times.

    Returns
    -------
    pos : ndarray of int64, shape (N, 2)
        (ky, kx) of the peak.
    val : ndarray of float64, shape (N, 7)
        Peak coefficient, its neighbours at ky - 1, ky + 1, kx - 1, kx + 1 (NaN where
        undefined or beyond +-rad), the coefficient at lag (0, 0) when ``lag0``, and 1.0
        where the climb ended on a local maximum (0.0 where the moves ran out).
    """
    n = rows.size
    nk = 2 * half + 1
    pos = np.zeros((n, 2), np.int64)
    val = np.full((n, 7), np.nan)
    for c in range((n + _CHUNK - 1) // _CHUNK):
        t = np.empty((w, w), np.float32)
        tm = np.empty((w, w), np.float32)
        bufs = _buffers(w, nk)  # sized exactly: the numerators view the region flat
        # sizes as int64 values, not literals: a literal argument would compile another copy
        # of each helper (numba specialises on literal ints), lengthening the first run
        three, zero, one_lag = np.int64(3), np.int64(0), np.int64(1)
        bufs3 = _buffers(w, three)
        blk = np.empty((max(nk, 3), max(nk, 3)), np.float32)
        one = _buffers(w, one_lag)
        b1 = np.empty((1, 1), np.float32)
        for k in range(c * _CHUNK, min(n, (c + 1) * _CHUNK)):
            nt, tsq = _load(A, Am, rows[k], cols[k], w, t, tm)
            y = min(max(cy[k], -rad), rad)
            x = min(max(cx[k], -rad), rad)
            pos[k, 0], pos[k, 1] = y, x
            if nt < 2:
                continue
            bi, bj, best = -1, -1, np.nan
            edge = False
            for _ in range(max_moves + 1):
                _block(B, Bm, rows[k], cols[k], w, y - half, x - half, nk, rad, min_overlap, t, tm, nt, tsq, bufs, blk)
                bi, bj, best = _argmax(blk, nk)
                if bi < 0:
                    break
                py, px = y - half + bi, x - half + bj
                edge = (
                    (bi == 0 and py > -rad)
                    or (bi == nk - 1 and py < rad)
                    or (bj == 0 and px > -rad)
                    or (bj == nk - 1 and px < rad)
                )
                y, x = py, px
                if not edge or half == 0:
                    break
            pos[k, 0], pos[k, 1] = y, x
            if bi < 0:
                continue
            val[k, 0] = best
            val[k, 6] = 0.0 if edge and half > 0 else 1.0
            bsz = nk
            if not (0 < bi < nk - 1 and 0 < bj < nk - 1):  # moves exhausted, or a 1 x 1 block: re-centre
                _block(B, Bm, rows[k], cols[k], w, y - 1, x - 1, three, rad, min_overlap, t, tm, nt, tsq, bufs3, blk)
                bi, bj, bsz = 1, 1, 3
            val[k, 1], val[k, 2] = blk[bi - 1, bj], blk[bi + 1, bj]
            val[k, 3], val[k, 4] = blk[bi, bj - 1], blk[bi, bj + 1]
            if lag0:
                oy, ox = -(y - bi), -(x - bj)  # lag (0, 0) in block coordinates
                if 0 <= oy < bsz and 0 <= ox < bsz:
                    val[k, 5] = blk[oy, ox]
                else:
                    _block(B, Bm, rows[k], cols[k], w, zero, zero, one_lag, rad, min_overlap, t, tm, nt, tsq, one, b1)
                    val[k, 5] = b1[0, 0]
    return pos, val
