"""Scores of point nowcasts at sites: errors, skill against persistence, the ensemble's CRPS,
spread-skill ratio and interval coverage, and the Brier score of a probability.

Pure numpy: arrays in, dataclasses out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["SiteScores", "crps_ensemble", "site_scores"]


def crps_ensemble(members: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Continuous ranked probability score of an ensemble, per case.

    ``CRPS = mean_i |x_i - y| - 1/2 mean_ij |x_i - x_j|`` (Gneiting & Raftery 2007, eq. 21),
    the second term from the sorted members in O(M log M). A one-member ensemble scores its
    absolute error.

    Parameters
    ----------
    members : ndarray, shape (M, ...)
        Ensemble members, all finite.
    observed : ndarray, shape (...)

    Returns
    -------
    ndarray, shape (...)
        In the unit of the quantity.

    References
    ----------
    Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and
    estimation. J. Amer. Statist. Assoc. 102, 359-378.
    """
    x = np.sort(np.asarray(members, np.float64), axis=0)
    m = x.shape[0]
    first = np.mean(np.abs(x - np.asarray(observed, np.float64)[None]), axis=0)
    k = (2 * np.arange(1, m + 1) - m - 1).reshape((m,) + (1,) * (x.ndim - 1))
    pairs = 2.0 * np.sum(k * x, axis=0) / m**2  # mean_ij |x_i - x_j|
    return first - 0.5 * pairs


@dataclass(frozen=True)
class SiteScores:
    """Scores of the cases at one lead time (NaN where a score cannot be formed).

    Attributes
    ----------
    cases : int
        (site, issue time) cases with a finite forecast and observation.
    mae, rmse : float
        Of the unperturbed member, the quantity's unit.
    mae_persistence, rmse_persistence : float
        Of the value at the issue time unchanged (NaN without it).
    skill : float
        ``1 - rmse / rmse_persistence``.
    crps : float
        Mean ensemble CRPS (NaN without members).
    crps_skill : float
        ``1 - crps / mae``: against the unperturbed member, whose CRPS is its absolute error.
    spread_skill : float
        ``sqrt((M + 1) / M) * spread / rmse_mean``, with ``spread`` the root mean ensemble
        variance and ``rmse_mean`` the ensemble mean's RMSE (Fortin et al. 2014); 1 is an
        ensemble whose spread matches its error.
    coverage : float
        Share of cases with ``p10 <= observed <= p90`` (0.8 for a calibrated ensemble).
    brier : float or None
        Mean squared difference of the ensemble's probability and the 0/1 observation, for a
        probability quantity; None otherwise.
    """

    cases: int
    mae: float
    rmse: float
    mae_persistence: float
    rmse_persistence: float
    skill: float
    crps: float
    crps_skill: float
    spread_skill: float
    coverage: float
    brier: float | None = None

    def as_dict(self) -> dict:
        """The scores with NaN as None (for JSON)."""
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def site_scores(
    value: np.ndarray,
    observed: np.ndarray,
    *,
    persistence: np.ndarray | None = None,
    members: np.ndarray | None = None,
    p10: np.ndarray | None = None,
    p90: np.ndarray | None = None,
    probability: bool = False,
    threshold: float = 0.5,
) -> SiteScores:
    """Scores of point nowcasts at one lead time.

    Parameters
    ----------
    value : ndarray, shape (n,)
        The unperturbed member per case.
    observed : ndarray, shape (n,)
        What was observed at the site at the valid time.
    persistence : ndarray, shape (n,), optional
        The value at the issue time (for the skill against persistence).
    members : ndarray, shape (M, n), optional
        Ensemble members (for CRPS, spread-skill and the Brier score).
    p10, p90 : ndarray, shape (n,), optional
        The interval whose coverage is scored.
    probability : bool
        The quantity is a probability of cloud: the observation counts as cloud when it is at
        least ``threshold``, and the Brier score is given.
    threshold : float
        Observed probability that counts as cloud.

    Returns
    -------
    SiteScores
    """
    value = np.asarray(value, np.float64)
    observed = np.asarray(observed, np.float64)
    ok = np.isfinite(value) & np.isfinite(observed)
    nan = float("nan")
    if members is not None:
        members = np.asarray(members, np.float64)
        ok &= np.all(np.isfinite(members), axis=0)
    obs = (observed >= threshold).astype(np.float64) if probability else observed
    n = int(ok.sum())
    if not n:
        return SiteScores(0, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan if probability else None)
    e = value[ok] - obs[ok]
    mae, rmse = float(np.mean(np.abs(e))), float(np.sqrt(np.mean(e**2)))
    mae_p = rmse_p = skill = nan
    if persistence is not None:
        p = np.asarray(persistence, np.float64)[ok]
        fin = np.isfinite(p)
        if fin.any():
            ep = p[fin] - obs[ok][fin]  # persistence forecasts the issue-time value itself
            mae_p, rmse_p = float(np.mean(np.abs(ep))), float(np.sqrt(np.mean(ep**2)))
            ef = e[fin]
            skill = 1.0 - float(np.sqrt(np.mean(ef**2))) / rmse_p if rmse_p > 0 else nan
    crps = crps_skill = spread_skill = nan
    brier = None
    if members is not None and members.shape[0] >= 2:
        x = members[:, ok]
        crps = float(np.mean(crps_ensemble(x, obs[ok])))
        crps_skill = 1.0 - crps / mae if mae > 0 else nan
        m = x.shape[0]
        spread = float(np.sqrt(np.mean(np.var(x, axis=0, ddof=1))))
        rmse_mean = float(np.sqrt(np.mean((x.mean(axis=0) - obs[ok]) ** 2)))
        spread_skill = float(np.sqrt((m + 1) / m) * spread / rmse_mean) if rmse_mean > 0 else nan
        if probability:
            brier = float(np.mean((np.clip(x, 0, 1).mean(axis=0) - obs[ok]) ** 2))
    elif probability:
        brier = float(np.mean((np.clip(value[ok], 0, 1) - obs[ok]) ** 2))
    coverage = nan
    if p10 is not None and p90 is not None:
        lo, hi = np.asarray(p10, np.float64)[ok], np.asarray(p90, np.float64)[ok]
        fin = np.isfinite(lo) & np.isfinite(hi)
        if fin.any():
            coverage = float(np.mean((lo[fin] <= obs[ok][fin]) & (obs[ok][fin] <= hi[fin])))
    return SiteScores(n, mae, rmse, mae_p, rmse_p, skill, crps, crps_skill, spread_skill, coverage, brier)
