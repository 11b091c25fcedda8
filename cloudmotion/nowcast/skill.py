"""Verification scores of a nowcast against the observed frame: RMSE, mean error, skill against
persistence and the fractions skill score. Pure numpy/scipy: arrays in, numbers out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["Scores", "fractions_skill_score", "scores"]


@dataclass(frozen=True)
class Scores:
    """Scores over the pixels valid in the nowcast, the observation and the persistence frame.

    Attributes
    ----------
    pixels : int
        Pixels compared.
    rmse, mean_error : float
        Of the nowcast (nowcast - observed), frame units.
    rmse_persistence, mean_error_persistence : float
        Of the latest frame unchanged.
    skill : float
        ``1 - rmse / rmse_persistence`` (1 perfect, 0 no better than persistence; NaN when
        persistence is perfect).
    fss, fss_persistence : float or None
        Fractions skill score at the threshold and scale asked for.
    """

    pixels: int
    rmse: float
    mean_error: float
    rmse_persistence: float
    mean_error_persistence: float
    skill: float
    fss: float | None = None
    fss_persistence: float | None = None


def fractions_skill_score(
    forecast: np.ndarray, observed: np.ndarray, valid: np.ndarray, *, threshold: float, scale: int
) -> float:
    """Fractions skill score (Roberts & Lean 2008) of the exceedance of ``threshold``.

    Fractions are the share of valid pixels at or above ``threshold`` in each ``scale`` x
    ``scale`` px square (normalised by the valid count in the square, so NoData counts as
    neither); ``FSS = 1 - MSE(Pf, Po) / (mean(Pf**2) + mean(Po**2))`` over valid pixels.

    Parameters
    ----------
    forecast, observed : ndarray, shape (rows, cols)
    valid : ndarray of bool, shape (rows, cols)
    threshold : float
        In the frames' units.
    scale : int
        Neighbourhood size, px (>= 1).

    Returns
    -------
    float
        In [0, 1]; NaN when neither field exceeds the threshold anywhere.

    References
    ----------
    Roberts, N. M. & Lean, H. W. (2008). Scale-selective verification of rainfall
    accumulations from high-resolution forecasts of convective events. Mon. Wea. Rev. 136, 78-97.
    """
    m = valid.astype(np.float64)
    count = ndimage.uniform_filter(m, scale, mode="constant")

    def fractions(a: np.ndarray) -> np.ndarray:
        hit = np.where(valid, a >= threshold, False).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ndimage.uniform_filter(hit, scale, mode="constant") / count

    pf, po = fractions(forecast)[valid], fractions(observed)[valid]
    ref = float(np.mean(pf**2) + np.mean(po**2))
    return float(1.0 - np.mean((pf - po) ** 2) / ref) if ref > 0 else float("nan")


def scores(
    nowcast: np.ndarray,
    observed: np.ndarray,
    persistence: np.ndarray,
    valid: np.ndarray,
    *,
    fss: tuple[float, int] | None = None,
) -> Scores:
    """Scores of ``nowcast`` and of ``persistence`` against ``observed`` over ``valid`` pixels.

    Parameters
    ----------
    nowcast, observed, persistence : ndarray, shape (rows, cols)
        Frame units.
    valid : ndarray of bool
        Pixels valid in all three.
    fss : (threshold, scale px), optional
        Also the fractions skill score.
    """
    n = int(valid.sum())
    e = (nowcast - observed)[valid].astype(np.float64)
    p = (persistence - observed)[valid].astype(np.float64)
    rmse, rmse_p = float(np.sqrt(np.mean(e**2))), float(np.sqrt(np.mean(p**2)))
    skill = 1.0 - rmse / rmse_p if rmse_p > 0 else float("nan")
    f = fp = None
    if fss is not None:
        f = fractions_skill_score(nowcast, observed, valid, threshold=fss[0], scale=int(fss[1]))
        fp = fractions_skill_score(persistence, observed, valid, threshold=fss[0], scale=int(fss[1]))
    return Scores(
        pixels=n,
        rmse=rmse,
        mean_error=float(e.mean()),
        rmse_persistence=rmse_p,
        mean_error_persistence=float(p.mean()),
        skill=skill,
        fss=f,
        fss_persistence=fp,
    )
