"""Compiled per-frame kernels of the search: the 2x block-mean pyramid and template statistics.

Frames are (rows, cols) float32 with a bool validity mask (True = valid); templates are
given by their top-left pixel (rows[n], cols[n]) and size ``w``. Invalid pixels may hold
anything, NaN included: they enter no sum.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import FAST, kernel

__all__ = ["halve", "template_stats"]


@kernel(nogil=True)
def halve(data, valid):
    """2x block mean of a frame: a coarse pixel is valid when its four fine pixels are.

    Parameters
    ----------
    data : ndarray of float32, shape (rows, cols)
    valid : ndarray of bool, shape (rows, cols)

    Returns
    -------
    data, valid : (rows // 2, cols // 2) float32 and bool
    """
    h, w = data.shape[0] // 2, data.shape[1] // 2
    out = np.zeros((h, w), np.float32)
    ok = np.zeros((h, w), np.bool_)
    for i in range(h):
        for j in range(w):
            y, x = 2 * i, 2 * j
            if valid[y, x] and valid[y, x + 1] and valid[y + 1, x] and valid[y + 1, x + 1]:
                out[i, j] = np.float32(0.25) * (data[y, x] + data[y, x + 1] + data[y + 1, x] + data[y + 1, x + 1])
                ok[i, j] = True
    return out, ok


@kernel(nogil=True, fastmath=FAST)
def template_stats(data, valid, rows, cols, w):
    """Valid-pixel count, mean and variance of each template (float64, two passes)."""
    n = rows.size
    count = np.zeros(n, np.int64)
    mean = np.full(n, np.nan)
    var = np.full(n, np.nan)
    for k in range(n):
        r0, c0 = rows[k], cols[k]
        c = 0
        s = 0.0
        for i in range(w):
            drow, vrow = data[r0 + i, c0 : c0 + w], valid[r0 + i, c0 : c0 + w]
            for j in range(w):
                v = vrow[j]
                c += v
                s += drow[j] if v else 0.0  # a select: invalid pixels may hold NaN
        count[k] = c
        if c > 0:
            m = s / c
            q = 0.0
            for i in range(w):
                drow, vrow = data[r0 + i, c0 : c0 + w], valid[r0 + i, c0 : c0 + w]
                for j in range(w):
                    d = drow[j] - m if vrow[j] else 0.0
                    q += d * d
            mean[k] = m
            var[k] = q / c
    return count, mean, var
