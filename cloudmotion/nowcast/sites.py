"""Answers at points: winds at sites from scattered vectors, and trajectories traced back from
sites through a steady motion field (the semi-Lagrangian scheme of
:mod:`cloudmotion.nowcast.extrapolate`, on points only).

Pure numpy/scipy: arrays in, arrays and dataclasses out; no file I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from cloudmotion.motion.kernels.jit import default_threads, kernel
from cloudmotion.nowcast.dense_flow import EE_FLOOR, vector_weights

__all__ = ["SiteMeans", "bilinear", "sample_frame", "site_means", "trace_points"]


@dataclass(frozen=True)
class SiteMeans:
    """Inverse-ee² weighted means of vector quantities at sites.

    Attributes
    ----------
    value : ndarray of float64, shape (k, s)
        Weighted mean of each quantity at each site (NaN without a vector; a quantity that
        is NaN on every vector used stays NaN).
    error : ndarray of float64, shape (s,)
        Uncertainty of the mean vector (the RMS length of its error), in the unit of ``sigma``.
    n : ndarray of int64, shape (s,)
        Good vectors used.
    n_eff : ndarray of float64, shape (s,)
        Effective number of independent vectors, given the weights and template overlap.
    """

    value: np.ndarray
    error: np.ndarray
    n: np.ndarray
    n_eff: np.ndarray


def site_means(
    site_rows: np.ndarray,
    site_cols: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    values: np.ndarray,
    sigma: np.ndarray,
    ee: np.ndarray,
    good: np.ndarray,
    *,
    radius: float,
    window: float,
    n_vector: int = 2,
) -> SiteMeans:
    """Weighted mean of the good vectors within ``radius`` of each site, and its uncertainty.

    Each vector ``i`` within ``radius`` px has the weight ``w_i = 1 / max(ee_i, 0.01)**2``
    (:func:`~cloudmotion.nowcast.dense_flow.vector_weights`). The estimate is
    ``m = sum w_i x_i / W`` with ``W = sum w_i``. Its uncertainty combines three things:

    - the vectors' own errors ``sigma_i``, which are correlated where templates overlap:
      ``var_e = sum_ij w_i w_j sigma_i sigma_j rho_ij / W**2`` with the overlap share of
      the two templates ``rho_ij = max(0, 1 - |dr|/window) * max(0, 1 - |dc|/window)``;
    - the field's variation within the radius: the weighted spread
      ``s**2 = sum w_i |x_i - m|**2 / W`` less what the vectors' own errors explain
      (``sum w_i sigma_i**2 / W``), divided by the effective number of independent vectors
      ``n_eff = W**2 / sum_ij w_i w_j rho_ij`` (Kish 1965, with the overlap as correlation);
    - and the tracker's model-error floor (``EE_FLOOR`` px, in ``sigma``'s unit
      ``f_i = sigma_i * EE_FLOOR / ee_i``), which neighbouring vectors share, so it does not
      average out: ``var_f = (sum w_i f_i / W)**2``;
    - so ``error = sqrt(var_e + max(0, s**2 - sum w sigma**2 / W) / n_eff + var_f)``.

    Parameters
    ----------
    site_rows, site_cols : ndarray, shape (s,)
        Site positions, frame pixel indices (NaN: not in the frame).
    rows, cols : ndarray, shape (n,)
        Vector positions, frame pixel indices.
    values : ndarray, shape (k, n)
        Quantities to average; the first ``n_vector`` rows are the vector's components
        (their spread enters the uncertainty), the others are averaged only.
    sigma : ndarray, shape (n,)
        Each vector's error, RMS length, in the unit of the vector components.
    ee : ndarray, shape (n,)
        Expected error of each vector, px (the weights).
    good : ndarray of bool, shape (n,)
        Vectors to use.
    radius : float
        Search radius, px.
    window : float
        Template size, px.
    n_vector : int
        How many leading rows of ``values`` form the vector.

    Returns
    -------
    SiteMeans

    References
    ----------
    Kish, L. (1965). Survey Sampling. Wiley (effective sample size of weighted means).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    k, s = values.shape[0], np.size(site_rows)
    use = np.asarray(good, bool) & np.all(np.isfinite(values[:n_vector]), axis=0)
    use &= np.isfinite(rows) & np.isfinite(cols)
    w_all = vector_weights(ee, use)
    idx_use = np.flatnonzero(use)
    out = SiteMeans(np.full((k, s), np.nan), np.full(s, np.nan), np.zeros(s, np.int64), np.zeros(s))
    at = np.isfinite(site_rows) & np.isfinite(site_cols)
    if not idx_use.size or not at.any():
        return out
    tree = cKDTree(np.column_stack([rows[idx_use], cols[idx_use]]))
    pts = np.column_stack([site_rows[at], site_cols[at]])
    kmax = int(np.max(tree.query_ball_point(pts, radius, return_length=True)))
    if kmax == 0:
        return out
    dist, nb = tree.query(pts, k=kmax, distance_upper_bound=radius)
    dist, nb = dist.reshape(len(pts), kmax), nb.reshape(len(pts), kmax)
    inside = np.isfinite(dist)
    j = idx_use[np.where(inside, nb, 0)]  # (p, K) vector indices
    w = np.where(inside, w_all[j], 0.0)
    W = w.sum(axis=1)
    has = W > 0
    Wd = np.where(has, W, 1.0)[:, None]
    vals = values[:, j]  # (k, p, K)
    fin = np.isfinite(vals) & inside[None]
    wq = np.where(fin, w[None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (np.where(fin, vals, 0.0) * wq).sum(-1) / wq.sum(-1)
    sig = np.where(inside, np.nan_to_num(np.asarray(sigma, np.float64)[j], nan=0.0), 0.0)
    dr = rows[j][:, :, None] - rows[j][:, None, :]
    dc = cols[j][:, :, None] - cols[j][:, None, :]
    rho = np.clip(1 - np.abs(dr) / window, 0, None) * np.clip(1 - np.abs(dc) / window, 0, None)
    ww = w[:, :, None] * w[:, None, :] * rho
    var_e = np.einsum("pij,pi,pj->p", ww, sig, sig) / Wd[:, 0] ** 2
    n_eff = np.where(has, W**2 / np.where(has, ww.sum(axis=(1, 2)), 1.0), 0.0)
    dev = ((vals[:n_vector] - mean[:n_vector, :, None]) ** 2).sum(axis=0)
    spread = np.where(inside, w * np.where(inside, dev, 0.0), 0.0).sum(axis=1) / Wd[:, 0]
    noise = (w * sig**2).sum(axis=1) / Wd[:, 0]
    field = np.clip(spread - noise, 0.0, None) / np.where(n_eff > 0, n_eff, 1.0)
    # the tracker's model-error floor is shared by neighbouring vectors: it does not average out
    ee_j = np.maximum(np.nan_to_num(np.asarray(ee, np.float64)[j], nan=EE_FLOOR), EE_FLOOR)
    floor = ((w * sig * EE_FLOOR / ee_j).sum(axis=1) / Wd[:, 0]) ** 2
    err = np.sqrt(var_e + field + floor)
    n = inside.sum(axis=1)
    out.value[:, at] = np.where(has[None], mean, np.nan)
    out.error[at] = np.where(has, err, np.nan)
    out.n[at] = np.where(has, n, 0)
    out.n_eff[at] = n_eff
    return out


def bilinear(field: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``field`` at fractional pixel indices, edge values continued outside.

    Parameters
    ----------
    field : ndarray, shape (rows, cols)
    r, c : ndarray, any shape
        Positions, pixel indices (integer = pixel centre).

    Returns
    -------
    ndarray of float64, the shape of ``r``
    """
    nr, nc = field.shape
    r = np.clip(np.asarray(r, np.float64), 0, nr - 1)
    c = np.clip(np.asarray(c, np.float64), 0, nc - 1)
    r0 = np.minimum(np.floor(r).astype(np.int64), max(nr - 2, 0))
    c0 = np.minimum(np.floor(c).astype(np.int64), max(nc - 2, 0))
    fr, fc = r - r0, c - c0
    r1, c1 = np.minimum(r0 + 1, nr - 1), np.minimum(c0 + 1, nc - 1)
    f = np.asarray(field)
    return (f[r0, c0] * (1 - fc) + f[r0, c1] * fc) * (1 - fr) + (f[r1, c0] * (1 - fc) + f[r1, c1] * fc) * fr


def trace_points(
    dx: np.ndarray,
    dy: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    leads: Sequence[float],
    *,
    max_step: float = 1.0,
    offset: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Where the content at each point was ``lead`` frame intervals ago, for a steady field.

    The backward trajectories ``dp/dt = -(v(p) + offset)`` of
    :func:`cloudmotion.nowcast.extrapolate.trace_back`, integrated with the same midpoint
    rule and the same sub-steps (no longer than ``max_step`` px at the largest speed), from
    the given points only. ``offset`` is a velocity perturbation per point, held along the
    trajectory and over the lead.

    Parameters
    ----------
    dx, dy : ndarray, shape (rows, cols)
        Displacement per frame interval along columns and rows, px.
    rows, cols : ndarray, shape (p,)
        Start points, pixel indices.
    leads : sequence of float
        Lead times, frame intervals, increasing, >= 0.
    max_step : float
        Longest sub-step, px.
    offset : (ndarray, ndarray), optional
        Added displacement per interval (along columns, along rows) of each point, shape (p,).

    Returns
    -------
    src_row, src_col : ndarray of float64, shape (len(leads), p)
    """
    r = np.ascontiguousarray(rows, np.float64).ravel()
    c = np.ascontiguousarray(cols, np.float64).ravel()
    zero = np.zeros(r.size)
    ox, oy = (zero, zero) if offset is None else (np.asarray(offset[0], np.float64), np.asarray(offset[1], np.float64))
    d64 = np.ascontiguousarray(dx, np.float64), np.ascontiguousarray(dy, np.float64)
    vmax = float(np.sqrt(np.max(d64[0] ** 2 + d64[1] ** 2))) if dx.size else 0.0
    if offset is not None and ox.size:
        vmax += float(np.sqrt(np.max(ox**2 + oy**2)))
    subs, taus, done = [], [], 0.0
    for lead in leads:
        span = float(lead) - done
        if span < 0:
            raise ValueError("leads must be increasing")
        n = max(1, int(np.ceil(span * vmax / max_step))) if span > 0 else 0
        subs.append(n)
        taus.append(span / n if n else 0.0)
        done = float(lead)
    out_r, out_c = np.empty((len(subs), r.size)), np.empty((len(subs), r.size))
    sub, tau = np.array(subs, np.int64), np.array(taus)
    ox, oy = np.ascontiguousarray(ox), np.ascontiguousarray(oy)

    def part(sl: slice) -> None:  # the kernel releases the GIL: parts run in parallel
        o_r, o_c = np.empty((len(subs), sl.stop - sl.start)), np.empty((len(subs), sl.stop - sl.start))
        _trace(d64[0], d64[1], r[sl], c[sl], ox[sl], oy[sl], sub, tau, o_r, o_c)
        out_r[:, sl], out_c[:, sl] = o_r, o_c

    parts = _parts(r.size, default_threads())
    if len(parts) > 1:
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(part, parts))
    else:
        for sl in parts:
            part(sl)
    return out_r, out_c


def _parts(n: int, threads: int) -> list[slice]:
    """``threads`` contiguous slices of ``n`` points (one when there are few points)."""
    k = max(1, min(threads, n // 2000))
    edges = np.linspace(0, n, k + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a] or [slice(0, n)]


@kernel(nogil=True)
def _bilinear2(fx, fy, r, c):  # pragma: no cover - compiled
    nr, nc = fx.shape
    r = min(max(r, 0.0), nr - 1.0)
    c = min(max(c, 0.0), nc - 1.0)
    r0 = min(int(np.floor(r)), max(nr - 2, 0))
    c0 = min(int(np.floor(c)), max(nc - 2, 0))
    fr, fc = r - r0, c - c0
    r1, c1 = min(r0 + 1, nr - 1), min(c0 + 1, nc - 1)
    a = (fx[r0, c0] * (1 - fc) + fx[r0, c1] * fc) * (1 - fr) + (fx[r1, c0] * (1 - fc) + fx[r1, c1] * fc) * fr
    b = (fy[r0, c0] * (1 - fc) + fy[r0, c1] * fc) * (1 - fr) + (fy[r1, c0] * (1 - fc) + fy[r1, c1] * fc) * fr
    return a, b


@kernel(nogil=True)
def _trace(dx, dy, r, c, ox, oy, subs, taus, out_r, out_c):  # pragma: no cover - compiled
    """Midpoint-rule backward trajectories of each point (one compiled loop over points)."""
    for i in range(r.size):
        rr, cc = r[i], c[i]
        for k in range(subs.size):
            tau = taus[k]
            for _ in range(subs[k]):
                vx, vy = _bilinear2(dx, dy, rr, cc)
                hr = rr - 0.5 * tau * (vy + oy[i])
                hc = cc - 0.5 * tau * (vx + ox[i])
                vx, vy = _bilinear2(dx, dy, hr, hc)
                rr = rr - tau * (vy + oy[i])
                cc = cc - tau * (vx + ox[i])
            out_r[k, i] = rr
            out_c[k, i] = cc


def sample_frame(
    coeffs: np.ndarray, holes: np.ndarray | None, r: np.ndarray, c: np.ndarray, *, order: int = 3
) -> np.ndarray:
    """The frame at fractional positions, as :func:`~cloudmotion.nowcast.extrapolate.extrapolate` samples it.

    Parameters
    ----------
    coeffs : ndarray, shape (rows, cols)
        Spline coefficients of the NoData-filled frame (``ndimage.spline_filter``), or the
        frame itself for ``order <= 1``.
    holes : ndarray of float32 or None
        1 on NoData pixels, 0 elsewhere (None: no NoData).
    r, c : ndarray, any shape
        Positions, pixel indices.
    order : int
        Spline order.

    Returns
    -------
    ndarray of float64, the shape of ``r``
        NaN where the position is outside the frame or its 2x2 footprint holds NoData.
    """
    rows, cols = coeffs.shape
    r = np.asarray(r, np.float64)
    c = np.asarray(c, np.float64)
    flat_r, flat_c = r.ravel(), c.ravel()
    out = ndimage.map_coordinates(coeffs, [flat_r, flat_c], order=order, mode="nearest", prefilter=False)
    bad = (flat_r < -0.5) | (flat_r > rows - 0.5) | (flat_c < -0.5) | (flat_c > cols - 0.5)
    bad |= ~(np.isfinite(flat_r) & np.isfinite(flat_c))
    if holes is not None:
        bad |= bilinear(holes, np.nan_to_num(flat_r), np.nan_to_num(flat_c)) > 1e-3
    out[bad] = np.nan
    return out.reshape(r.shape)
