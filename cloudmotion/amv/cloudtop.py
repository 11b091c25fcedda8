"""Per-template cloud-top temperature by the equivalent blackbody temperature (EBBT) method.

The cloud-top temperature of a vector is the mean of the coldest share (default 25 %) of
the valid pixels of its template in frame A, in brightness temperature: the cold tail is
the cloud the correlation locks on, the warm rest is lower cloud or the surface. Pure
numpy, vectorised over templates in chunks (a partial sort of each template's pixels).

References
----------
Nieman, S. J., Schmetz, J. and Menzel, W. P. (1993). A comparison of several techniques to
assign heights to cloud tracers. J. Appl. Meteor. 32, 1559-1568.
Daniels, J. et al. (2010). GOES-R ABI Derived Motion Winds Algorithm Theoretical Basis
Document, NOAA NESDIS STAR.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cold_share_mean"]


def cold_share_mean(
    data: np.ndarray,
    valid: np.ndarray,
    top: np.ndarray,
    left: np.ndarray,
    window: int,
    share: float = 0.25,
    *,
    chunk: int = 4096,
) -> np.ndarray:
    """Mean of the coldest ``share`` of each template's valid pixels.

    Parameters
    ----------
    data : ndarray, shape (rows, cols)
        Frame A in brightness temperature, K (any value where ``valid`` is False).
    valid : ndarray of bool, shape (rows, cols)
        Validity mask of ``data``.
    top, left : ndarray of int, shape (n,)
        Top-left pixel (row, col) of each template (:meth:`cloudmotion.grid.Grid.top_left`).
    window : int
        Template size, px.
    share : float
        Share of the valid pixels averaged, in (0, 1]: ``ceil(share * n_valid)`` pixels,
        at least one.
    chunk : int
        Templates processed at once (bounds memory to ``chunk * window**2`` floats).

    Returns
    -------
    ndarray of float64, shape (n,)
        Mean temperature of the coldest pixels, K; NaN for a template without a valid pixel.
    """
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    x = np.where(valid, data, np.inf).astype(np.float32)
    views = np.lib.stride_tricks.sliding_window_view(x, (window, window))
    top = np.asarray(top, dtype=np.intp)
    left = np.asarray(left, dtype=np.intp)
    out = np.full(top.shape, np.nan)
    kmax = max(1, int(np.ceil(share * window * window)))
    for lo in range(0, top.size, chunk):
        sl = slice(lo, lo + chunk)
        px = views[top[sl], left[sl]].reshape(-1, window * window)
        n_valid = np.isfinite(px).sum(axis=1)
        coldest = (
            np.sort(np.partition(px, kmax - 1, axis=1)[:, :kmax], axis=1) if kmax < px.shape[1] else np.sort(px, axis=1)
        )
        k = np.clip(np.ceil(share * n_valid).astype(np.intp), 1, kmax)
        csum = np.cumsum(np.where(np.isfinite(coldest), coldest, 0.0), axis=1, dtype=np.float64)
        mean = np.take_along_axis(csum, (k - 1)[:, None], axis=1)[:, 0] / k
        out[sl] = np.where(n_valid > 0, mean, np.nan)
    return out
