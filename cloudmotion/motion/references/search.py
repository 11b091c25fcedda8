"""numpy references of the coarse-to-fine search kernels, vectorised over templates.

Each function takes the parameters of the compiled kernel of the same name
(:mod:`cloudmotion.motion.kernels.frame`, :mod:`cloudmotion.motion.kernels.ncc`) and returns
the same arrays: the same lags, the same plain and masked NCC rules (Lewis 1995; Padfield
2012: :func:`cloudmotion.motion.correlate.ncc_surfaces`, with the ``min_overlap`` rule and the
variance floors of the kernels), the same row-major first maximum and the same competitor
and climbing rules. The coefficients come from FFT sums instead of direct float32 dot
products, so they agree with the kernels' to float32 rounding; no numba is imported.

Conventions as in :mod:`cloudmotion.motion.kernels.ncc`: frames (rows, cols), templates by
their top-left pixel, a lag ``(ky, kx)`` compares a template with the box of B at
``(rows + ky, cols + kx)``; pixels outside B are invalid.

References
----------
Lewis, J. P. (1995). Fast normalized cross-correlation. Vision Interface, 120-123.
Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE TIP 21(5).
"""

from __future__ import annotations

import numpy as np

from cloudmotion.grid import extract_windows
from cloudmotion.motion.correlate import ncc_surfaces

__all__ = ["climb", "coarse_search", "halve", "template_stats"]

_BYTES = 256 * 2**20  # working set of one batch of correlation surfaces (FFT arrays ~64 bytes per sample)


def halve(data: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x block mean of a frame: a coarse pixel is valid when its four fine pixels are (0 where not)."""
    h, w = data.shape[0] // 2, data.shape[1] // 2
    d = np.asarray(data, dtype=np.float32)[: 2 * h, : 2 * w]
    m = np.asarray(valid, dtype=bool)[: 2 * h, : 2 * w]
    ok = m[0::2, 0::2] & m[0::2, 1::2] & m[1::2, 0::2] & m[1::2, 1::2]
    with np.errstate(invalid="ignore", over="ignore"):
        total = ((d[0::2, 0::2] + d[0::2, 1::2]) + d[1::2, 0::2]) + d[1::2, 1::2]  # the kernel's order
        out = np.where(ok, np.float32(0.25) * total, np.float32(0))
    return out.astype(np.float32, copy=False), ok


def template_stats(
    data: np.ndarray, valid: np.ndarray, rows: np.ndarray, cols: np.ndarray, w: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Valid-pixel count, mean and variance (float64, two passes) of each template; NaN where empty."""
    n = rows.size
    count = np.zeros(n, np.int64)
    mean = np.full(n, np.nan)
    var = np.full(n, np.nan)
    step = max(1, _BYTES // (16 * w * w))
    for lo in range(0, n, step):
        sl = slice(lo, min(n, lo + step))
        m = extract_windows(valid, 0, rows[sl], cols[sl], w)
        x = np.where(m, extract_windows(data, 0, rows[sl], cols[sl], w), 0).astype(np.float64)
        c = m.sum(axis=(1, 2))
        has = c > 0
        mu = x.sum(axis=(1, 2)) / np.maximum(c, 1)
        d = np.where(m, x - mu[:, None, None], 0.0)
        count[sl] = c
        mean[sl] = np.where(has, mu, np.nan)
        var[sl] = np.where(has, (d * d).sum(axis=(1, 2)) / np.maximum(c, 1), np.nan)
    return count, mean, var


class _Frame:
    """A frame padded with invalid pixels, so that boxes reaching past its edges can be gathered."""

    def __init__(self, data: np.ndarray, valid: np.ndarray, pad: int) -> None:
        self.pad = pad
        self.data = np.pad(np.asarray(data, dtype=np.float32), pad)
        self.valid = np.pad(np.asarray(valid, dtype=bool), pad)

    def boxes(self, rows: np.ndarray, cols: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N, size, size) boxes minus their valid mean (float32, 0 where invalid), masks and valid counts."""
        m = extract_windows(self.valid, self.pad, rows, cols, size)
        x = extract_windows(self.data, self.pad, rows, cols, size)
        cnt = m.sum(axis=(1, 2))
        with np.errstate(invalid="ignore"):
            mean = np.where(m, x, 0).sum(axis=(1, 2), dtype=np.float64) / np.maximum(cnt, 1)
            x = np.where(m, (x - mean[:, None, None]).astype(np.float32), np.float32(0))
        return x, m, cnt


def _pad_for(shape: tuple[int, ...], rows: np.ndarray, cols: np.ndarray, w: int, reach: int) -> int:
    """Padding that holds every box from ``-reach`` to ``w + reach`` px around the templates."""
    if rows.size == 0:
        return 0
    low = max(reach - int(rows.min()), reach - int(cols.min()))
    high = max(int(rows.max()) + w + reach - shape[0], int(cols.max()) + w + reach - shape[1])
    return max(0, low, high)


def _blocks(tpl, frame: _Frame, idx, rows, cols, ky0, kx0, nk, rad, min_overlap) -> np.ndarray:
    """NCC of templates ``idx`` at lags ky0 .. ky0 + nk - 1 (x kx0 ..), (len(idx), nk, nk) float32; NaN beyond +-rad."""
    t, tm = tpl
    w = t.shape[1]
    size = nk + w - 1
    out = np.empty((idx.size, nk, nk), np.float32)
    step = max(8, _BYTES // (64 * (size + 1) ** 2))
    for lo in range(0, idx.size, step):
        sl = slice(lo, min(idx.size, lo + step))
        k = idx[sl]
        s, sm, _ = frame.boxes(rows[k] + ky0[sl], cols[k] + kx0[sl], size)
        out[sl] = ncc_surfaces(t[k], tm[k], s, sm, min_overlap=min_overlap)
    lag = np.arange(nk)
    beyond = (np.abs(ky0[:, None] + lag) > rad)[:, :, None] | (np.abs(kx0[:, None] + lag) > rad)[:, None, :]
    out[beyond] = np.nan
    return out


def _argmax(blk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-major first maximum of the finite values of each (nk, nk) block: (i, j, value); (-1, -1, nan) if none."""
    nk = blk.shape[1]
    flat = np.where(np.isfinite(blk), blk, -np.inf).reshape(blk.shape[0], -1)
    at = np.argmax(flat, axis=1) if flat.size else np.zeros(0, np.int64)
    best = flat[np.arange(flat.shape[0]), at].astype(np.float64)
    found = np.isfinite(best)
    return np.where(found, at // nk, -1), np.where(found, at % nk, -1), np.where(found, best, np.nan)


def _templates(A, Am, rows, cols, w):
    """Templates minus their valid mean (float32, 0 where invalid), masks, and valid counts."""
    pad = _pad_for(A.shape, rows, cols, w, 0)
    return _Frame(A, Am, pad).boxes(rows, cols, w)


def coarse_search(A, Am, B, Bm, rows, cols, w, rad, min_overlap, exclude):
    """Exhaustive NCC over +-rad lags; the best peak and the best competing local maximum.

    Same parameters and result as :func:`cloudmotion.motion.kernels.ncc.coarse_search`:
    ``pos`` (N, 4) int64, (ky, kx) of the best lag then of the competitor (the highest
    3 x 3 local maximum more than ``exclude`` lags, Chebyshev, from the best), (0, 0) when
    undefined; ``val`` (N, 2) float64, their coefficients (NaN when undefined).
    """
    n = rows.size
    nk = 2 * rad + 1
    pos = np.zeros((n, 4), np.int64)
    val = np.full((n, 2), np.nan)
    t, tm, nt = _templates(A, Am, rows, cols, w)
    live = np.flatnonzero(nt >= 2)
    frame = _Frame(B, Bm, _pad_for(B.shape, rows, cols, w, rad))
    corner = np.full(live.size, -rad, np.int64)
    blk = _blocks((t, tm), frame, live, rows, cols, corner, corner, nk, rad, min_overlap)
    bi, bj, best = _argmax(blk)
    found = bi >= 0
    k = live[found]
    pos[k, 0], pos[k, 1], val[k, 0] = bi[found] - rad, bj[found] - rad, best[found]
    # competitor: a finite value that no finite 3 x 3 neighbour exceeds, outside the exclusion square
    v = np.where(np.isfinite(blk), blk, -np.inf)
    around = np.pad(v, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    top = np.max([around[:, 1 + di : 1 + di + nk, 1 + dj : 1 + dj + nk] for di in (-1, 0, 1) for dj in (-1, 0, 1)], 0)
    ii = np.arange(nk)[None, :, None]
    jj = np.arange(nk)[None, None, :]
    far = (np.abs(ii - bi[:, None, None]) > exclude) | (np.abs(jj - bj[:, None, None]) > exclude)
    ci, cj, cbest = _argmax(np.where(np.isfinite(blk) & (v >= top) & far & found[:, None, None], blk, np.nan))
    has = ci >= 0
    k = live[has]
    pos[k, 2], pos[k, 3], val[k, 1] = ci[has] - rad, cj[has] - rad, cbest[has]
    return pos, val


def climb(A, Am, B, Bm, rows, cols, cy, cx, w, rad, half, max_moves, min_overlap, lag0):
    """Hill-climb of the NCC on (2 half + 1)^2 blocks of lags from (cy, cx) to a block-interior peak.

    Same parameters and result as :func:`cloudmotion.motion.kernels.ncc.climb`: the block is
    re-centred on its maximum while that maximum lies on its edge (not on the +-rad edge
    of the search), at most ``max_moves`` times; ``pos`` (N, 2) int64 is the peak lag,
    ``val`` (N, 7) float64 its coefficient, the coefficients at ky - 1, ky + 1, kx - 1,
    kx + 1, at lag (0, 0) when ``lag0``, and 1.0 where the climb ended on a local maximum
    (0.0 where the moves ran out). All templates climb together, one block per move.
    """
    n = rows.size
    nk = 2 * half + 1
    pos = np.zeros((n, 2), np.int64)
    val = np.full((n, 7), np.nan)
    t, tm, nt = _templates(A, Am, rows, cols, w)
    frame = _Frame(B, Bm, _pad_for(B.shape, rows, cols, w, rad + max(half, 1) + 1))
    y = np.clip(np.asarray(cy, np.int64), -rad, rad)
    x = np.clip(np.asarray(cx, np.int64), -rad, rad)
    bi = np.full(n, -1, np.int64)
    bj = np.full(n, -1, np.int64)
    best = np.full(n, np.nan)
    edge = np.zeros(n, bool)
    last = np.full((n, nk, nk), np.nan, np.float32)  # the block each template's climb ended on
    active = np.flatnonzero(nt >= 2)
    for _ in range(max_moves + 1):
        if active.size == 0:
            break
        blk = _blocks((t, tm), frame, active, rows, cols, y[active] - half, x[active] - half, nk, rad, min_overlap)
        i, j, b = _argmax(blk)
        bi[active], bj[active], best[active] = i, j, b
        last[active] = blk
        found = i >= 0
        py, px = y[active] - half + i, x[active] - half + j
        e = (
            ((i == 0) & (py > -rad))
            | ((i == nk - 1) & (py < rad))
            | ((j == 0) & (px > -rad))
            | ((j == nk - 1) & (px < rad))
        )
        moved = active[found]
        y[moved], x[moved], edge[moved] = py[found], px[found], e[found]
        active = active[found & e] if half > 0 else active[:0]
    pos[:, 0], pos[:, 1] = y, x
    ok = np.flatnonzero(bi >= 0)
    val[ok, 0] = best[ok]
    val[ok, 6] = np.where(edge[ok] & (half > 0), 0.0, 1.0)
    # neighbours from the final block, or from a 3 x 3 block re-centred on the peak
    size = max(nk, 3)
    blocks = np.full((n, size, size), np.nan, np.float32)
    blocks[:, :nk, :nk] = last
    inner = (bi > 0) & (bi < nk - 1) & (bj > 0) & (bj < nk - 1)
    redo = ok[~inner[ok]]
    if redo.size:
        three = _blocks((t, tm), frame, redo, rows, cols, y[redo] - 1, x[redo] - 1, 3, rad, min_overlap)
        blocks[redo] = np.nan
        blocks[redo, :3, :3] = three
        bi[redo], bj[redo] = 1, 1
    bsz = np.where(inner, nk, 3)
    b_ok, i_ok, j_ok = blocks[ok], bi[ok], bj[ok]
    rng = np.arange(ok.size)
    val[ok, 1], val[ok, 2] = b_ok[rng, i_ok - 1, j_ok], b_ok[rng, i_ok + 1, j_ok]
    val[ok, 3], val[ok, 4] = b_ok[rng, i_ok, j_ok - 1], b_ok[rng, i_ok, j_ok + 1]
    if lag0:
        oy, ox = bi[ok] - y[ok], bj[ok] - x[ok]  # lag (0, 0) in block coordinates
        inside = (oy >= 0) & (oy < bsz[ok]) & (ox >= 0) & (ox < bsz[ok])
        val[ok[inside], 5] = b_ok[rng[inside], oy[inside], ox[inside]]
        out = ok[~inside]
        if out.size:
            zero = np.zeros(out.size, np.int64)
            val[out, 5] = _blocks((t, tm), frame, out, rows, cols, zero, zero, 1, rad, min_overlap)[:, 0, 0]
    return pos, val
