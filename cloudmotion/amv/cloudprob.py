"""Per-pixel cloud probability from a Gaussian mixture with diagonal covariances.

A :class:`CloudModel` holds K components over C channels (weights, means, variances) and
says which components are cloud. :func:`score` evaluates every pixel of an (H, W, C) stack:
the mixture's log-density by a log-sum-exp over the components and the posterior
probability of the cloud components. It is vectorised over pixels and works on chunks of
rows, so the working set stays bounded on a full disk (5424 x 5424 x 3): no loop per pixel,
only a loop over chunks. Each chunk is cast to float64 and centred on every component's
mean before squaring (``(x - mu) / sigma``), so data far from zero (250 K brightness
temperatures) keep their precision; the expanded form ``x^2 - 2 x mu + mu^2`` is never used.

Zero variances: a variance must be finite and >= 0. A variance below ``var_floor`` times the
largest variance of its channel over the components (default 1e-6, i.e. a standard deviation
1000 times narrower) is raised to that floor, so a component that is one exact value (a fill
or saturation plateau) stays a finite, very narrow spike and nothing divides by zero. A
channel whose variance is 0 in every component has no scale and is refused (ValueError).

References
----------
McLachlan, G. and Peel, D. (2000). Finite Mixture Models. Wiley, ch. 2-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cloudmotion.grid import integral_image, window_sums

__all__ = ["VAR_FLOOR", "CloudModel", "cloud_probability", "log_density", "score", "template_fraction"]

VAR_FLOOR = 1e-6
"""Smallest variance, relative to the largest variance of the same channel over the components."""

CHUNK_PIXELS = 1 << 17
"""Pixels scored at once: about 200 bytes each for 3 components over 3 channels."""

_LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class CloudModel:
    """A Gaussian mixture with diagonal covariances, and which of its components are cloud.

    Attributes
    ----------
    weights : ndarray, shape (K,)
        Mixing weights, > 0; normalised to sum to 1 on construction.
    means : ndarray, shape (K, C)
        Component means, in the frame's physical units, per channel.
    variances : ndarray, shape (K, C)
        Diagonal variances, units squared, >= 0 (see the module's note on zero variances).
    cloud : ndarray of bool, shape (K,)
        True for the components that are cloud.
    source : str
        Where the model comes from (a file name, ``"auto"``), for reports.
    rule : str
        How the cloud components were chosen, for reports.
    var_floor : float
        Relative variance floor (:data:`VAR_FLOOR`).
    """

    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    cloud: np.ndarray
    source: str = ""
    rule: str = ""
    var_floor: float = VAR_FLOOR
    floored: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        w = np.atleast_1d(np.asarray(self.weights, dtype=np.float64))
        mu = np.asarray(self.means, dtype=np.float64)
        var = np.asarray(self.variances, dtype=np.float64)
        mu = mu.reshape(w.size, -1) if mu.ndim < 2 else mu
        var = var.reshape(w.size, -1) if var.ndim < 2 else var
        cloud = np.atleast_1d(np.asarray(self.cloud, dtype=bool))
        k = w.size
        if k < 1 or mu.shape[0] != k or var.shape != mu.shape or cloud.shape != (k,):
            raise ValueError(
                f"need one weight, mean, variance and cloud/clear choice per component: "
                f"{k} weights, means {mu.shape}, variances {var.shape}, {cloud.size} choices"
            )
        if not (np.all(np.isfinite(w)) and np.all(w > 0)):
            raise ValueError("weights must be finite and > 0")
        if not np.all(np.isfinite(mu)):
            raise ValueError("means must be finite")
        if not (np.all(np.isfinite(var)) and np.all(var >= 0)):
            raise ValueError("variances must be finite and >= 0")
        if not (np.isfinite(self.var_floor) and self.var_floor > 0):
            raise ValueError("var_floor must be > 0")
        top = var.max(axis=0)
        if np.any(top <= 0):
            raise ValueError(f"channel {int(np.argmax(top <= 0)) + 1} has variance 0 in every component: no scale")
        floor = self.var_floor * top
        object.__setattr__(self, "weights", w / w.sum())
        object.__setattr__(self, "means", mu)
        object.__setattr__(self, "variances", var)
        object.__setattr__(self, "cloud", cloud)
        object.__setattr__(self, "floored", np.maximum(var, floor[None, :]))

    @property
    def n_components(self) -> int:
        """K."""
        return int(self.weights.size)

    @property
    def n_channels(self) -> int:
        """C."""
        return int(self.means.shape[1])


def component_log_density(x: np.ndarray, model: CloudModel) -> np.ndarray:
    """``log w_k + log N(x; mu_k, diag var_k)`` for every component and pixel.

    Parameters
    ----------
    x : ndarray, shape (C, n)
        Pixels, channel-major (any float dtype; each channel is cast to float64 here).
    model : CloudModel

    Returns
    -------
    ndarray of float64, shape (K, n)
        Component-major, so every operation below runs over contiguous pixels.
    """
    x = np.asarray(x)
    n = x.shape[1]
    inv_sd = 1.0 / np.sqrt(model.floored)  # (K, C)
    const = np.log(model.weights) - 0.5 * (model.n_channels * _LOG_2PI + np.log(model.floored).sum(axis=1))
    out = np.zeros((model.n_components, n))
    z = np.empty(n)
    for k in range(model.n_components):  # K and C are a handful; every operation is over all pixels
        for c in range(model.n_channels):
            np.subtract(x[c], model.means[k, c], out=z, dtype=np.float64)  # centred in float64
            z *= inv_sd[k, c]
            z *= z
            out[k] += z
        out[k] *= -0.5
        out[k] += const[k]
    return out


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a), axis=0)) of a (K, n) array without overflow; -inf where every term is -inf."""
    top = a.max(axis=0)
    safe = np.where(np.isfinite(top), top, 0.0)
    total = np.zeros_like(safe)
    for row in a:
        total += np.exp(row - safe)
    with np.errstate(divide="ignore"):
        return safe + np.log(total)


def _as_stack(stack: np.ndarray, model: CloudModel) -> np.ndarray:
    s = np.asarray(stack)
    if s.ndim == 2:
        s = s[:, :, None]
    if s.ndim != 3 or s.shape[2] != model.n_channels:
        raise ValueError(
            f"the cloud model has {model.n_channels} channel(s); the image has shape {s.shape} "
            "(need rows, cols[, channels])"
        )
    return s


def score(
    stack: np.ndarray, model: CloudModel, *, valid: np.ndarray | None = None, chunk: int = CHUNK_PIXELS
) -> tuple[np.ndarray, np.ndarray]:
    """Log-density and cloud probability of every pixel, chunk by chunk.

    Parameters
    ----------
    stack : ndarray, shape (H, W, C) or (H, W)
        Pixel values per channel, physical units (axis 0 rows, axis 1 columns, axis 2
        channels in the model's order).
    model : CloudModel
    valid : ndarray of bool, shape (H, W), optional
        Pixels to score; others (and any non-finite pixel) give NaN.
    chunk : int
        Pixels per chunk (whole rows; at least one row), bounding the working set to about
        ``chunk * (C * 8 + 3 K * 8 + 24)`` bytes.

    Returns
    -------
    log_density : ndarray of float64, shape (H, W)
        ``log sum_k w_k N(x; mu_k, var_k)``, natural log, per unit of the data's volume.
    cloud : ndarray of float32, shape (H, W)
        Posterior probability of the cloud components, in [0, 1].
    """
    s = _as_stack(stack, model)
    h, w, c = s.shape
    logd = np.full((h, w), np.nan)
    prob = np.full((h, w), np.nan, dtype=np.float32)
    rows = max(1, int(chunk) // max(w, 1))
    cloud = model.cloud
    for r0 in range(0, h, rows):
        x = s[r0 : r0 + rows].reshape(-1, c).T  # (C, n), cast to float64 channel by channel
        ok = np.isfinite(x).all(axis=0)
        if valid is not None:
            ok &= np.asarray(valid[r0 : r0 + rows]).ravel()
        if not ok.any():
            continue
        a = component_log_density(np.ascontiguousarray(x[:, ok]), model)
        total = _logsumexp(a)
        p = np.exp(_logsumexp(a[cloud]) - total) if cloud.any() else np.zeros(total.shape)
        logd[r0 : r0 + rows].reshape(-1)[ok] = total
        prob[r0 : r0 + rows].reshape(-1)[ok] = p
    return logd, prob


def log_density(
    stack: np.ndarray, model: CloudModel, *, valid: np.ndarray | None = None, chunk: int = CHUNK_PIXELS
) -> np.ndarray:
    """The mixture's log-density per pixel, shape (H, W), float64 (see :func:`score`)."""
    return score(stack, model, valid=valid, chunk=chunk)[0]


def cloud_probability(
    stack: np.ndarray, model: CloudModel, *, valid: np.ndarray | None = None, chunk: int = CHUNK_PIXELS
) -> np.ndarray:
    """Posterior probability of the cloud components per pixel, shape (H, W), float32, NaN where invalid."""
    return score(stack, model, valid=valid, chunk=chunk)[1]


def template_fraction(prob: np.ndarray, rows: np.ndarray, cols: np.ndarray, window: int) -> np.ndarray:
    """Mean cloud probability over each template's defined pixels.

    Parameters
    ----------
    prob : ndarray, shape (H, W)
        Cloud probability per pixel, NaN where unknown.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template.
    window : int
        Template size, px.

    Returns
    -------
    ndarray of float64, shape (N,)
        In [0, 1]; NaN where the template has no defined pixel. Two summed-area tables,
        four gathers per template.
    """
    known = np.isfinite(prob)
    total = window_sums(integral_image(np.where(known, prob, 0.0).astype(np.float64)), rows, cols, window)
    count = window_sums(integral_image(known), rows, cols, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.clip(total / count, 0.0, 1.0), np.nan)
