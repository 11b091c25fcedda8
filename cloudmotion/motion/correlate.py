"""Batched FFT cross-correlation, normalised at every lag, with NoData masks.

Each template (N, w, w) is searched in a region (N, L, L) of the other frame, with
``L = w + 2 * search``. The result is a stack of correlation-coefficient surfaces of
shape (N, K, K), ``K = 2 * search + 1``; surface index ``k`` along an axis is the
displacement ``k - search`` pixels (+ = increasing row/col), from the template's frame to
the region's frame. The valid (non-circular) part of the FFT correlation is used, so no
lag wraps around and no ``fftshift`` is needed.

References
----------
Leese, J. A., Novak, C. S. and Clark, B. B. (1971). An automated technique for obtaining
cloud motion from geosynchronous satellite data using cross correlation.
J. Appl. Meteor. 10, 118-132.
Lewis, J. P. (1995). Fast normalized cross-correlation. Vision Interface, 120-123.
Padfield, D. (2012). Masked object registration in the Fourier domain.
IEEE Trans. Image Processing 21(5), 2706-2718.
"""

from __future__ import annotations

import os

import numpy as np

from cloudmotion.grid import box_sums, extract_windows, integral_image, window_sums
from cloudmotion.motion.results import SearchResult
from cloudmotion.motion.subpixel import fit_subpixel, locate_peaks
from cloudmotion.registry import CORRELATORS

__all__ = ["correlate_grid", "ncc_dense", "ncc_fft_size", "ncc_masked", "ncc_surfaces"]

_CHUNK_BYTES = 512 * 2**20
"""Working-set budget of one correlation chunk (the masked path holds about 64 bytes per
FFT sample per template)."""

_WORKERS = max(1, os.cpu_count() or 1)


def _sfft():
    """scipy.fft, imported on first use: only the exhaustive search needs it, and its import is slow."""
    from scipy import fft

    return fft


def ncc_fft_size(length: int) -> int:
    """FFT length used for regions of ``length`` pixels (the next fast real length)."""
    return _sfft().next_fast_len(length, real=True)


def _template_spectra(x: np.ndarray, p: int) -> np.ndarray:
    """rfft2 of (..., w, w) zero-padded to (p, p), skipping the transforms of all-zero rows."""
    half = _sfft().rfft(x, n=p, axis=-1, workers=_WORKERS)
    return _sfft().fft(half, n=p, axis=-2, workers=_WORKERS, overwrite_x=True)


def _valid_lags(product: np.ndarray, p: int, k: int) -> np.ndarray:
    """Inverse rfft2 of (..., p, p // 2 + 1) spectra, keeping lags [0, k) on both axes only."""
    rows = _sfft().ifft(product, axis=-2, workers=_WORKERS, overwrite_x=True)[..., :k, :]
    return _sfft().irfft(rows, n=p, axis=-1, workers=_WORKERS)[..., :k]


def ncc_dense(t: np.ndarray, s: np.ndarray, snorm: np.ndarray | None = None) -> np.ndarray:
    """NCC surfaces when every template and region pixel is valid (Lewis 1995).

    Parameters
    ----------
    t : ndarray, shape (N, w, w)
        Templates.
    s : ndarray, shape (N, L, L)
        Search regions.
    snorm : ndarray, shape (N, L - w + 1, L - w + 1), optional
        ``sqrt(sum (S - mean)^2)`` of each w x w box of each region (the caller may
        gather it from frame-level summed-area tables); computed from the regions when
        absent.

    Returns
    -------
    ndarray of float32, shape (N, L - w + 1, L - w + 1)
        As :func:`ncc_surfaces`.
    """
    _n, w, _ = t.shape
    size = s.shape[1]
    k = size - w + 1
    p = ncc_fft_size(size)
    # only the template needs zero mean: sum T' S(p + k) = sum T' (S - mean_k S)
    t = t - t.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(t.dtype)
    tnorm = np.sqrt(np.einsum("nij,nij->n", t, t).astype(np.float64))
    ft = _template_spectra(t, p)
    np.conjugate(ft, out=ft)
    ft *= _sfft().rfft2(s, s=(p, p), workers=_WORKERS)
    num = _valid_lags(ft, p, k)
    if snorm is None:
        s64 = s.astype(np.float64)
        ssum = box_sums(s64, w)
        snorm = np.sqrt(np.maximum(box_sums(s64 * s64, w) - ssum * ssum / (w * w), 0.0))
    den = tnorm[:, None, None] * snorm
    floor = 1e-6 * tnorm[:, None, None] * snorm.max(axis=(1, 2), keepdims=True)
    out = np.full(num.shape, np.nan, dtype=np.float32)
    np.divide(num, den, out=out, where=den > np.maximum(floor, 1e-30), casting="unsafe")
    return np.clip(out, -1.0, 1.0, out=out)


def ncc_masked(t: np.ndarray, mt: np.ndarray, s: np.ndarray, ms: np.ndarray, min_overlap: float = 0.75) -> np.ndarray:
    """Masked NCC surfaces (Padfield 2012): invalid pixels are left out of every sum.

    Parameters and result as :func:`ncc_surfaces` (without the fast-path options).
    """
    _n, w, _ = t.shape
    size = s.shape[1]
    k = size - w + 1
    p = ncc_fft_size(size)
    mt = mt.astype(t.dtype)
    ms = ms.astype(s.dtype)
    nt = mt.sum(axis=(1, 2), dtype=np.float64)
    ns = ms.sum(axis=(1, 2), dtype=np.float64)
    # centre on the masked means to limit cancellation in the variance terms
    tmean = (t * mt).sum(axis=(1, 2), dtype=np.float64) / np.maximum(nt, 1)
    smean = (s * ms).sum(axis=(1, 2), dtype=np.float64) / np.maximum(ns, 1)
    t = (t - tmean[:, None, None].astype(t.dtype)) * mt
    s = (s - smean[:, None, None].astype(s.dtype)) * ms
    ft = np.conj(_template_spectra(np.stack([t, t * t, mt]), p))
    fs = _sfft().rfft2(np.stack([s, s * s, ms]), s=(p, p), workers=_WORKERS)
    prods = np.stack([ft[0] * fs[0], ft[0] * fs[2], ft[1] * fs[2], ft[2] * fs[0], ft[2] * fs[1], ft[2] * fs[2]])
    sts, st, st2, ss, ss2, cnt = _valid_lags(prods, p, k).astype(np.float64)
    cnt = np.round(cnt)
    with np.errstate(invalid="ignore", divide="ignore"):
        num = sts - st * ss / cnt
        vt = st2 - st * st / cnt
        vs = ss2 - ss * ss / cnt
        tsq = (t.astype(np.float64) ** 2).sum(axis=(1, 2))[:, None, None]
        ssq = (s.astype(np.float64) ** 2).sum(axis=(1, 2))[:, None, None]
        ok = (
            (cnt >= np.maximum(min_overlap * nt[:, None, None], 2))
            & (vt > 1e-5 * tsq * cnt / np.maximum(nt[:, None, None], 1))
            & (vs > 1e-5 * ssq * cnt / np.maximum(ns[:, None, None], 1))
        )
        out = np.where(ok, num / np.sqrt(np.where(ok, vt * vs, 1.0)), np.nan).astype(np.float32)
    return np.clip(out, -1.0, 1.0, out=out)


def ncc_surfaces(
    templates: np.ndarray,
    template_masks: np.ndarray,
    regions: np.ndarray,
    region_masks: np.ndarray,
    *,
    min_overlap: float = 0.75,
    region_norms: np.ndarray | None = None,
    dense: np.ndarray | None = None,
) -> np.ndarray:
    """Normalised cross-correlation coefficient at every lag, batched over templates.

    For each template ``T`` (valid where ``Mt``) and region ``S`` (valid where ``Ms``)
    the surface at lag ``k`` is Pearson's correlation between ``T(p)`` and
    ``S(p + k)`` over the pixels ``p`` valid in both. Products are element-wise in
    the Fourier domain. Templates and regions whose pixels are all valid take a
    faster path (box sums from summed-area tables); the rest take the masked path.

    Parameters
    ----------
    templates : ndarray, shape (N, w, w)
        Template pixels from frame A (float32 recommended).
    template_masks : ndarray of bool, shape (N, w, w)
        True where the template pixel is valid.
    regions : ndarray, shape (N, L, L)
        Search regions from frame B, ``L >= w``, with the template's top-left at
        region offset ``(L - w) / 2``.
    region_masks : ndarray of bool, shape (N, L, L)
        True where the region pixel is valid.
    min_overlap : float
        A lag is defined only where the pixels valid in both cover at least this
        fraction of the template's valid pixels.
    region_norms : ndarray, shape (N, K, K), optional
        Precomputed ``sqrt(sum (S - mean)^2)`` of each w x w box of each region; used for
        the fully valid templates instead of box sums.
    dense : ndarray of bool, shape (N,), optional
        Precomputed "template and region fully valid"; derived from the masks if absent.

    Returns
    -------
    ndarray of float32, shape (N, L - w + 1, L - w + 1)
        Correlation coefficients in [-1, 1]; NaN where undefined (too little overlap
        or no variance). Axis 1 is the row lag, axis 2 the column lag.
    """
    n, w, w2 = templates.shape
    if w != w2 or regions.shape[1] != regions.shape[2]:
        raise ValueError("templates and regions must be square")
    if regions.shape[0] != n or regions.shape[1] < w:
        raise ValueError("need one region at least as large as its template per template")
    k = regions.shape[1] - w + 1
    out = np.empty((n, k, k), dtype=np.float32)
    if dense is None:
        dense = np.asarray(template_masks.all(axis=(1, 2)) & region_masks.all(axis=(1, 2)))
    if dense.any():
        out[dense] = ncc_dense(templates[dense], regions[dense], None if region_norms is None else region_norms[dense])
    if (~dense).any():
        sel = ~dense
        out[sel] = ncc_masked(templates[sel], template_masks[sel], regions[sel], region_masks[sel], min_overlap)
    return out


def correlate_grid(
    a: np.ndarray,
    a_valid: np.ndarray,
    a_std: float,
    b: np.ndarray,
    b_valid: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    search: int,
    *,
    min_overlap: float = 0.75,
    subpixel: str = "gaussian",
    chunk: int = 2048,
    correlation: str = "ncc",
) -> SearchResult:
    """The correlation stage: every template of frame A searched in frame B, in chunks.

    Parameters
    ----------
    a, b : ndarray of float32, shape (rows, cols)
        Pre-filtered frames A and B.
    a_valid, b_valid : ndarray of bool, shape (rows, cols)
        Validity masks.
    a_std : float
        Standard deviation of frame A's valid pixels (the texture reference).
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template in frame A.
    window, search : int
        Template size and largest displacement searched along each axis, px.
    min_overlap : float
        Share of a template's valid pixels that must meet valid pixels of B for a lag to count.
    subpixel : str
        :data:`cloudmotion.registry.SUBPIXEL` fitter.
    chunk : int
        Templates per batch (bounded further by a byte budget).
    correlation : str
        The :data:`cloudmotion.registry.CORRELATORS` entry.

    Returns
    -------
    SearchResult
        Arrays of shape (N,) in grid order: ``dx``, ``dy`` (sub-pixel peak, px; NaN on the
        border), ``corr`` (peak coefficient), ``second`` (second peak), ``valid`` (valid
        fraction of the template), ``std`` (template standard deviation over ``a_std``),
        ``border``, ``corr0`` (the coefficient at lag 0) and ``limit``.
    """
    correlator = CORRELATORS.get(correlation)
    w, r = window, search
    n = rows.size
    # NCC ignores offsets: centring both frames keeps the float32 FFT sums accurate
    offset = float(a[a_valid].mean()) if a_valid.any() else 0.0
    pa = (a - offset).astype(np.float32)
    pb = np.pad((b - offset).astype(np.float32), r)
    pbm = np.pad(b_valid, r)
    # per-window counts, sums and region norms are gathers from frame-level summed-area
    # tables (never a frame-sized map of every window)
    bad_t = window_sums(integral_image(~a_valid), rows, cols, w)
    bad_s = window_sums(integral_image(~pbm), rows, cols, w + 2 * r)
    out = {k: np.full(n, np.nan) for k in ("dx", "dy", "corr", "second", "valid", "std", "corr0")}
    out["border"] = np.zeros(n, dtype=bool)
    out["limit"] = np.zeros(n, dtype=bool)
    out["valid"] = 1.0 - bad_t / (w * w)
    am = np.where(a_valid, pa, np.float32(0))
    cnt = w * w - bad_t
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = window_sums(integral_image(am), rows, cols, w) / cnt
        np.multiply(am, am, out=am)
        var = np.maximum(window_sums(integral_image(am), rows, cols, w) / cnt - mean * mean, 0.0)
    out["std"] = np.sqrt(var) / a_std if a_std > 0 else np.zeros(n)
    del am
    sb = np.where(pbm, pb, np.float32(0))
    s1_table = integral_image(sb)
    np.multiply(sb, sb, out=sb)
    s2_table = integral_image(sb)
    del sb
    k = 2 * r + 1
    # the chunk bounds bytes, not just templates: FFT arrays grow with (window + 2 search)^2
    fft = ncc_fft_size(w + 2 * r)
    chunk = int(min(chunk, max(8, _CHUNK_BYTES // (64 * fft * fft))))
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        t = extract_windows(pa, 0, rows[sl], cols[sl], w)
        s = extract_windows(pb, r, rows[sl] - r, cols[sl] - r, w + 2 * r)
        dense = (bad_t[sl] == 0) & (bad_s[sl] == 0)
        lag = np.arange(k)
        rr = rows[sl][:, None, None] + lag[None, :, None]
        cc = cols[sl][:, None, None] + lag[None, None, :]
        s1 = window_sums(s1_table, rr, cc, w)
        norms = np.sqrt(np.maximum(window_sums(s2_table, rr, cc, w) - s1 * s1 / (w * w), 0.0))
        surf = np.empty((t.shape[0], k, k), dtype=np.float32)
        for j in range(0, t.shape[0], max(8, chunk // 4)):  # masked windows hold ~4x the bytes
            m = slice(j, min(j + max(8, chunk // 4), t.shape[0]))
            tm = extract_windows(a_valid, 0, rows[sl][m], cols[sl][m], w)
            sm = extract_windows(pbm, r, rows[sl][m] - r, cols[sl][m] - r, w + 2 * r)
            surf[m] = correlator(t[m], tm, s[m], sm, min_overlap=min_overlap, region_norms=norms[m], dense=dense[m])
        peaks = locate_peaks(surf)
        prow, pcol = fit_subpixel(surf, peaks, subpixel)
        out["dy"][sl] = prow - r
        out["dx"][sl] = pcol - r
        out["corr"][sl] = peaks.value
        out["second"][sl] = peaks.second
        out["corr0"][sl] = surf[:, r, r]
        out["border"][sl] = peaks.on_border & np.isfinite(peaks.value)
        edge = (peaks.iy == 0) | (peaks.iy == k - 1) | (peaks.ix == 0) | (peaks.ix == k - 1)
        out["limit"][sl] = edge & np.isfinite(peaks.value)  # on the search range's own edge
    return SearchResult(**out)
