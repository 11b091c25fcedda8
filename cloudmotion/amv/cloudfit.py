"""A cloud model fitted on the frame itself: vectorised EM over a pixel sample, and the rule
that says which components are cloud (``--cloud-model auto``).

The mixture (2 or 3 components, diagonal covariances, chosen by the Bayesian information
criterion) is fitted by expectation-maximisation on a random sample of valid pixels, every
step vectorised over the sample. The data are standardised per channel first (centred on
the sample's mean, divided by its standard deviation), so the fit is the same in any unit
and data far from zero keep their precision; the result is mapped back to physical units.

Which components are cloud: in the infrared (brightness temperature or radiance) cold means
cloud, in visible bands bright means cloud. The component of the coldest (brightest) mean,
averaged over the standardised channels, is cloud, and so is any other component whose mean
lies nearer to it than to the warmest (darkest) component's.

References
----------
Dempster, A. P., Laird, N. M. and Rubin, D. B. (1977). Maximum likelihood from incomplete
data via the EM algorithm. J. R. Statist. Soc. B 39, 1-38.
Schwarz, G. (1978). Estimating the dimension of a model. Ann. Statist. 6, 461-464.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cloudmotion.amv.cloudprob import CloudModel, _logsumexp, component_log_density

__all__ = ["REG_VAR", "SAMPLE", "FitReport", "auto_model", "fit_mixture"]

SAMPLE = 100_000
"""Pixels sampled for the fit (the EM's cost is linear in it)."""

REG_VAR = 1e-4
"""Added to every variance of the standardised data during EM, so no component collapses."""


@dataclass(frozen=True)
class FitReport:
    """What ``--cloud-model auto`` found: the model, the rule, and the fits it chose among."""

    model: CloudModel
    cloud_is: str
    bic: dict[int, float]
    samples: int


def _init(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic start: k equal-count slices of the sample sorted by its channel mean."""
    order = np.argsort(z.mean(axis=1), kind="stable")
    parts = np.array_split(order, k)
    means = np.stack([z[p].mean(axis=0) for p in parts])
    var = np.stack([z[p].var(axis=0) for p in parts]) + REG_VAR
    return np.full(k, 1.0 / k), means, var


def fit_mixture(
    samples: np.ndarray, n_components: int, *, max_iter: int = 200, tol: float = 1e-6
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Maximum-likelihood diagonal Gaussian mixture by EM, vectorised over the samples.

    Parameters
    ----------
    samples : ndarray, shape (n, C)
        Standardised pixel values (about zero mean and unit variance per channel).
    n_components : int
        K.
    max_iter : int
        EM iteration cap.
    tol : float
        Stop when the mean log-likelihood per sample improves by less.

    Returns
    -------
    weights (K,), means (K, C), variances (K, C), mean log-likelihood per sample (float).
    """
    z = np.asarray(samples, dtype=np.float64)
    zt = np.ascontiguousarray(z.T)  # (C, n): the kernels run over contiguous pixels
    w, mu, var = _init(z, n_components)
    last = -np.inf
    for _ in range(max_iter):
        a = component_log_density(zt, CloudModel(w, mu, var, np.zeros(n_components, bool)))
        total = _logsumexp(a)
        ll = float(total.mean())
        resp = np.exp(a - total)  # (K, n), the E step
        nk = resp.sum(axis=1) + 1e-12
        w = nk / nk.sum()
        mu = (resp @ z) / nk[:, None]
        var = np.stack([resp[j] @ (z - mu[j]) ** 2 for j in range(n_components)])
        var = var / nk[:, None] + REG_VAR  # centred on the new means: no cancellation
        if ll - last < tol:
            break
        last = ll
    a = component_log_density(zt, CloudModel(w, mu, var, np.zeros(n_components, bool)))
    return w, mu, var, float(_logsumexp(a).mean())


def _cloud_components(means: np.ndarray, cloud_is: str) -> np.ndarray:
    """The rule: coldest (or brightest) component, and those nearer to it than to the other end."""
    score = means.mean(axis=1) if cloud_is == "bright" else -means.mean(axis=1)
    top, bottom = score.max(), score.min()
    return np.abs(score - top) < np.abs(score - bottom)


def _sample(flat: np.ndarray, valid: np.ndarray | None, sample: int, rng) -> np.ndarray:
    """Up to ``sample`` distinct valid pixel indices, uniformly; on a large image only random
    candidates are checked (never a full-frame index list)."""

    def usable(i: np.ndarray) -> np.ndarray:
        ok = np.isfinite(flat[i]).all(axis=1)
        return ok & np.asarray(valid).ravel()[i] if valid is not None else ok

    if flat.shape[0] > 8 * sample:
        cand = np.unique(rng.integers(0, flat.shape[0], 4 * sample))
        cand = cand[usable(cand)]
        if cand.size >= sample:
            return np.sort(rng.choice(cand, sample, replace=False))
    idx = np.flatnonzero(usable(np.arange(flat.shape[0])))
    return np.sort(rng.choice(idx, sample, replace=False)) if idx.size > sample else idx


def auto_model(
    stack: np.ndarray,
    valid: np.ndarray | None,
    *,
    cloud_is: str,
    components: tuple[int, ...] = (2, 3),
    sample: int = SAMPLE,
    seed: int = 0,
) -> FitReport:
    """Fit a cloud model on an image: 2-3 components by BIC, cloud by the cold/bright rule.

    Parameters
    ----------
    stack : ndarray, shape (H, W, C) or (H, W)
        The image, physical units.
    valid : ndarray of bool, shape (H, W), optional
        Pixels to sample from (non-finite pixels are left out in any case).
    cloud_is : {"cold", "bright"}
        Infrared: cold means cloud; visible: bright means cloud.
    components : tuple of int
        Numbers of components tried; the lowest BIC wins.
    sample : int
        Largest number of pixels sampled (uniformly, reproducibly with ``seed``).

    Returns
    -------
    FitReport

    Raises
    ------
    ValueError
        Fewer valid pixels than 10 per parameter, or no contrast.
    """
    if cloud_is not in ("cold", "bright"):
        raise ValueError(f"cloud_is must be 'cold' or 'bright', got {cloud_is!r}")
    s = np.asarray(stack)
    s = s[:, :, None] if s.ndim == 2 else s
    flat = s.reshape(-1, s.shape[2])
    c = s.shape[2]
    idx = _sample(flat, valid, sample, np.random.default_rng(seed))
    if idx.size < 10 * max(components) * (2 * c + 1):
        raise ValueError(f"only {idx.size} valid pixel(s): too few to fit a cloud model")
    x = flat[idx].astype(np.float64)
    centre, spread = x.mean(axis=0), x.std(axis=0)
    if np.any(spread <= 0):
        raise ValueError("the image has one value on a channel: no contrast to tell cloud from clear sky")
    z = (x - centre) / spread
    fits, bic = {}, {}
    for k in components:
        w, mu, var, ll = fit_mixture(z, k)
        fits[k] = (w, mu, var)
        bic[k] = float(-2.0 * ll * z.shape[0] + (k - 1 + 2 * k * c) * np.log(z.shape[0]))
    best = min(bic, key=lambda k: bic[k])
    w, mu, var = fits[best]
    order = np.argsort(-mu.mean(axis=1) if cloud_is == "cold" else mu.mean(axis=1))  # clearest first
    w, mu, var = w[order], mu[order], var[order]
    cloud = _cloud_components(mu, cloud_is)
    rule = (
        f"{cloud_is} means cloud: the {'coldest' if cloud_is == 'cold' else 'brightest'} component "
        f"and any nearer to it than to the {'warmest' if cloud_is == 'cold' else 'darkest'}"
    )
    model = CloudModel(w, centre + mu * spread, var * spread**2, cloud, source="auto", rule=rule)
    return FitReport(model=model, cloud_is=cloud_is, bic=bic, samples=int(z.shape[0]))
