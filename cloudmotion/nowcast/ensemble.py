"""An ensemble of point nowcasts whose spread comes from the measured motion error and from
the growth and decay the sequence itself shows.

Each member carries two perturbations (after the STEPS scheme of Bowler et al. 2006 and
pySTEPS, with the predictability split of Germann & Zawadzki 2004):

- **motion**: a random displacement per frame interval, spatially correlated over the
  vector spacing, whose local standard deviation per component is the vectors' expected
  error ``ee`` over sqrt(2) (``ee`` is the RMS length of the error vector), held along the
  trajectory and over the lead;
- **value**: a spatially correlated random walk in lead time added to the sampled value,
  with standard deviation ``sigma1 * sqrt(lead)`` (lead in frame intervals); ``sigma1`` is
  fitted to the sequence's own one- and two-step nowcasts (:func:`fit_growth`), which also
  fit a factor ``k >= 1`` on ``ee`` when the motion error grows faster than ``ee`` says.

Pure numpy/scipy: arrays in, arrays out; no file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cloudmotion.nowcast.sites import sample_frame, trace_points

__all__ = ["SiteEnsemble", "fit_growth", "lattice_noise", "motion_variance", "percentiles", "site_ensemble"]


@dataclass(frozen=True)
class SiteEnsemble:
    """Point nowcasts at sites.

    Attributes
    ----------
    value : ndarray of float64, shape (leads, sites)
        The unperturbed member (Lagrangian persistence at the sites).
    members : ndarray of float64, shape (members, leads, sites)
        The perturbed members (NaN where a trajectory leaves the frame or meets NoData).
    """

    value: np.ndarray
    members: np.ndarray


def lattice_noise(
    rows: np.ndarray, cols: np.ndarray, spacing: float, lead_shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """Spatially correlated unit Gaussian noise at points, independent along ``lead_shape``.

    White Gaussian values on a square lattice of ``spacing`` px, interpolated bilinearly to
    the points and divided by the root of the sum of the squared bilinear weights, so the
    standard deviation is 1 at every point and the correlation falls to 0 at ``spacing``
    (a separable triangle). Only the lattice nodes next to some point are drawn, so the
    cost is that of the points, not of the frame.

    Parameters
    ----------
    rows, cols : ndarray, shape (p,)
        Points, pixel indices.
    spacing : float
        Lattice spacing (correlation length), px (> 0).
    lead_shape : tuple of int
        Leading shape of independent draws (members, leads, ...).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of float64, shape ``lead_shape + (p,)``
    """
    r = np.asarray(rows, np.float64) / spacing
    c = np.asarray(cols, np.float64) / spacing
    r0, c0 = np.floor(r), np.floor(c)
    fr, fc = r - r0, c - c0
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)
    corners = [(0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)), (1, 1, fr * fc)]
    keys = np.concatenate([(r0 + a) * (1 << 32) + (c0 + b) for a, b, _ in corners])
    uniq, inv = np.unique(keys, return_inverse=True)
    z = rng.standard_normal(tuple(lead_shape) + (uniq.size,))
    inv = inv.reshape(4, -1)
    out = np.zeros(tuple(lead_shape) + (r.size,))
    norm = np.zeros(r.size)
    for k, (_, _, w) in enumerate(corners):
        out += w * z[..., inv[k]]
        norm += w**2
    return out / np.sqrt(norm)


def site_ensemble(
    coeffs: np.ndarray,
    holes: np.ndarray | None,
    dx: np.ndarray,
    dy: np.ndarray,
    ee: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    leads: Sequence[float],
    *,
    members: int,
    sigma1: float | None,
    spacing: float,
    seed: int = 0,
    clip: tuple[float, float] | None = None,
    max_step: float = 1.0,
    motion_scale: float = 1.0,
) -> SiteEnsemble:
    """Point-traced nowcasts at sites, unperturbed and perturbed.

    Parameters
    ----------
    coeffs : ndarray, shape (rows, cols)
        Cubic spline coefficients of the NoData-filled latest frame.
    holes : ndarray of float32 or None
        1 on NoData pixels (None: none).
    dx, dy : ndarray, shape (rows, cols)
        Dense displacement per frame interval, px.
    ee : ndarray, shape (sites,)
        Expected error of the motion at each site, px per frame interval (RMS error length).
    rows, cols : ndarray, shape (sites,)
        Site positions, pixel indices.
    leads : sequence of float
        Lead times, frame intervals, increasing.
    members : int
        Ensemble size (>= 1).
    sigma1 : float or None
        Value noise after one frame interval, frame units; None or 0: motion only.
    spacing : float
        Correlation length of both perturbations (the vector spacing), px.
    seed : int
        Random seed.
    clip : (float, float), optional
        Bounds of the quantity (0, 1 for a probability).
    max_step : float
        Longest trajectory sub-step, px.
    motion_scale : float
        Factor on ``ee`` in the motion perturbation (:func:`fit_growth`).

    Returns
    -------
    SiteEnsemble

    References
    ----------
    Germann, U. & Zawadzki, I. (2004). Scale dependence of the predictability of precipitation
    from continental radar images. Part II: Probability forecasts. J. Appl. Meteor. 43, 74-89.
    Bowler, N. E., Pierce, C. E. & Seed, A. W. (2006). STEPS: a probabilistic precipitation
    forecasting scheme which merges an extrapolation nowcast with downscaled NWP. Q. J. R.
    Meteorol. Soc. 132, 2127-2155.
    Pulkkinen, S. et al. (2019). Pysteps: an open-source Python library for probabilistic
    precipitation nowcasting (v1.0). Geosci. Model Dev. 12, 4185-4219.
    """
    rows = np.asarray(rows, np.float64)
    cols = np.asarray(cols, np.float64)
    s, m, nl = rows.size, int(members), len(leads)
    rng = np.random.default_rng(seed)
    r, c = trace_points(dx, dy, rows, cols, leads, max_step=max_step)
    value = sample_frame(coeffs, holes, r, c)
    sd = motion_scale * np.nan_to_num(np.asarray(ee, np.float64), nan=0.0) / np.sqrt(2.0)
    pert = lattice_noise(rows, cols, spacing, (2, m), rng) * sd  # (2, m, s)
    # members of one site side by side: neighbouring trajectories share the field's cache lines
    ox, oy = pert[0].T.ravel(), pert[1].T.ravel()
    mr, mc = trace_points(dx, dy, np.repeat(rows, m), np.repeat(cols, m), leads, max_step=max_step, offset=(ox, oy))
    out = np.ascontiguousarray(sample_frame(coeffs, holes, mr, mc).reshape(nl, s, m).transpose(2, 0, 1))
    del mr, mc
    if sigma1:
        steps = np.diff(np.concatenate([[0.0], np.asarray(leads, np.float64)]))
        walk = lattice_noise(rows, cols, spacing, (m, nl), rng)
        walk *= (sigma1 * np.sqrt(steps))[None, :, None]
        out += np.cumsum(walk, axis=1, out=walk)  # in place: the ensemble's size, not three times it
    if clip is not None:
        out = np.clip(out, *clip)
        value = np.clip(value, *clip)
    return SiteEnsemble(value=value, members=out)


def percentiles(members: np.ndarray, q: Sequence[float] = (10, 50, 90)) -> np.ndarray:
    """Percentiles over the members axis (0), NaN members left out; shape ``(len(q),) + rest``.

    Linear interpolation between order statistics, so the percentiles are ordered."""
    finite = np.isfinite(members).any(axis=0)
    out = np.full((len(q),) + members.shape[1:], np.nan)
    if finite.any():
        out[:, finite] = np.nanpercentile(members[:, finite], q, axis=0)
    return out


def motion_variance(ens: SiteEnsemble) -> np.ndarray:
    """Variance over the members at each lead and site (finite members only), shape (leads, sites)."""
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanvar(ens.members, axis=0, ddof=1)


def fit_growth(
    leads: Sequence[float], errors: Sequence[np.ndarray], motion_var: Sequence[np.ndarray]
) -> tuple[float, float, int]:
    """Motion-error scale and value noise fitted on the sequence's own short nowcasts.

    The squared error of a nowcast ``lead`` frame intervals ahead is modelled as
    ``mse(L) = k**2 * mv(L) + sigma1**2 * L``: the motion error's share (``mv``, the
    variance of members perturbed by the vectors' ``ee``, which grows as ``L**2``) scaled by
    ``k**2``, plus the growth and decay of the clouds, a random walk (variance ``sigma1**2 L``).
    With N >= 3 frames there are N - 2 one-step nowcasts; with N >= 4 also N - 3 two-step
    ones, and the two group means give ``k`` and ``sigma1`` exactly (``k`` is kept >= 1: the
    measured ``ee`` is the least motion error assumed). With one-step nowcasts only, ``k = 1``
    and ``sigma1**2 = mse(1) - mv(1)``.

    Parameters
    ----------
    leads : sequence of float
        Lead of each nowcast, frame intervals (1, 2, ...).
    errors : sequence of ndarray
        Errors (unperturbed minus observed) of each nowcast at sample points, frame units.
    motion_var : sequence of ndarray
        The ``k = 1`` motion-only ensemble variance at the same points.

    Returns
    -------
    k : float
        Scale of the motion perturbation (>= 1).
    sigma1 : float
        Value noise after one frame interval, frame units (>= 0).
    n : int
        Points used.
    """
    groups: dict[int, list] = {}
    n = 0
    for lead, e, v in zip(leads, errors, motion_var, strict=True):
        ok = np.isfinite(e) & np.isfinite(v)
        if ok.any():
            groups.setdefault(round(lead), []).append((float(lead), np.asarray(e)[ok] ** 2, np.asarray(v)[ok]))
            n += int(ok.sum())
    stats = {}
    for key, items in groups.items():
        e2, mv = np.concatenate([x[1] for x in items]), np.concatenate([x[2] for x in items])
        stats[key] = (np.mean([x[0] for x in items]), float(e2.mean()), float(mv.mean()))
    if not stats:
        return 1.0, 0.0, 0
    k2 = 1.0
    if len(stats) >= 2:
        (l1, m1, v1), (l2, m2, v2) = (stats[k] for k in sorted(stats)[:2])
        den = v2 - v1 * l2 / l1
        if den > 0:
            k2 = max(1.0, (m2 - m1 * l2 / l1) / den)
    l1, m1, v1 = stats[min(stats)]
    return float(np.sqrt(k2)), float(np.sqrt(max(0.0, (m1 - k2 * v1) / l1))), n
