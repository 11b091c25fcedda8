"""Score a method's vectors against the known field, with the library's scoring.

The truth is sampled at each method's own origins with
:func:`cloudmotion.tools.score_vectors.sample_truth`, and the statistics over one pair or a
pooled set of pairs come from :func:`cloudmotion.tools.score_vectors.score_vectors`. What the
harness adds is the choice of vectors (only *measurable* ones: the template moved by the
true motion stays inside frame B) and the figures the library does not compute (peak
locking, the worst single-pair bias, the RMS including rejected vectors, vectors/s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import WINDOW


@dataclass
class Score:
    """One method on one pair: its measurable vectors, their truth and whether it accepts them."""

    method: str
    texture: str
    kind: str
    label: str
    noise: float
    frac: float | None
    shape: tuple[int, int]
    seconds: float
    vectors: int  # every vector the method gave, measurable or not
    row: np.ndarray  # origins of the measurable vectors
    col: np.ndarray
    dx: np.ndarray  # estimates
    dy: np.ndarray
    true_dx: np.ndarray
    true_dy: np.ndarray
    accepted: np.ndarray  # bool: the method accepts it and it is finite

    @property
    def n(self) -> int:
        """Measurable vectors."""
        return int(self.row.size)

    @property
    def flagged(self) -> int:
        """Measurable vectors the method flags or gives none for."""
        return int((~self.accepted).sum())

    @property
    def ex(self) -> np.ndarray:
        """Signed x errors of the accepted vectors."""
        return self.dx[self.accepted] - self.true_dx[self.accepted]

    @property
    def ey(self) -> np.ndarray:
        """Signed y errors of the accepted vectors."""
        return self.dy[self.accepted] - self.true_dy[self.accepted]


def measurable(row, col, tx, ty, shape, margin: float = 2.0) -> np.ndarray:
    """Vectors whose template, moved by the true motion, stays inside frame B."""
    half = (WINDOW - 1) / 2 + margin
    r, c = row + ty, col + tx
    return (r - half >= 0) & (r + half <= shape[0] - 1) & (c - half >= 0) & (c + half <= shape[1] - 1)


def truth_at(motion, vectors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The known field at the vectors' origins, and which vectors are measurable."""
    from cloudmotion.tools.score_vectors import sample_truth

    tx, ty = sample_truth(motion.dx, motion.dy, vectors.row, vectors.col)
    return tx, ty, measurable(vectors.row, vectors.col, tx, ty, motion.dx.shape)


def score(vectors, motion, *, method: str, texture: str, noise: float, seconds: float) -> Score:
    """Compare a method's :class:`cloudmotion.model.Vectors` with the truth at its own origins."""
    tx, ty, sel = truth_at(motion, vectors)
    dx, dy = vectors.dx[sel], vectors.dy[sel]
    accepted = vectors.good[sel] & np.isfinite(dx) & np.isfinite(dy)
    return Score(
        method=method,
        texture=texture,
        kind=motion.kind,
        label=motion.label,
        noise=noise,
        frac=motion.frac,
        shape=tuple(motion.dx.shape),
        seconds=seconds,
        vectors=vectors.n,
        row=vectors.row[sel],
        col=vectors.col[sel],
        dx=dx,
        dy=dy,
        true_dx=tx[sel],
        true_dy=ty[sel],
        accepted=accepted,
    )


def _stats(scores: list[Score], *, all_finite: bool = False) -> dict:
    """:func:`score_vectors` over the concatenated vectors of several scores.

    With ``all_finite`` every finite estimate counts as accepted (the RMS including
    flagged vectors).
    """
    from cloudmotion.tools.score_vectors import score_vectors

    def cat(name: str, dtype=np.float64) -> np.ndarray:
        return np.concatenate([getattr(s, name) for s in scores]) if scores else np.empty(0, dtype)

    accepted = np.ones(sum(s.n for s in scores), dtype=bool) if all_finite else cat("accepted", bool)
    return score_vectors(cat("dx"), cat("dy"), (~accepted).astype(np.int64), cat("true_dx"), cat("true_dy"))


def _nan(x) -> float:
    return np.nan if x is None else float(x)


def worst_bias(scores: list[Score]) -> float:
    """The largest |mean error| on either axis of a single pair."""
    biases = [max(abs(s.ex.mean()), abs(s.ey.mean())) for s in scores if s.accepted.any()]
    return float(max(biases)) if biases else np.nan


def pooled(scores: list[Score]) -> dict[str, float]:
    """Statistics over all vectors of several pairs (one method, one pair set)."""
    st = _stats(scores)
    n = sum(s.n for s in scores)
    out = {"n": n, "flagged": st["share_flagged"] or 0.0}
    if not st["n_scored"]:
        return out | {k: np.nan for k in ("rms", "bx", "by", "p95", "gt05", "gt1", "worst_bias", "rms_all")}
    seconds = sum(s.seconds for s in scores)
    return out | {
        "rms": st["rms"],
        "bx": st["bias_dx"],
        "by": st["bias_dy"],
        "p95": st["p95"],
        "gt05": st["share_gt_0_5"],
        "gt1": st["share_gt_1"],
        "worst_bias": worst_bias(scores),
        "rms_all": _nan(_stats(scores, all_finite=True)["rms"]),
        "vps": sum(s.vectors for s in scores) / seconds if seconds > 0 else np.nan,
    }


def peak_locking(scores: list[Score]) -> dict[str, float]:
    """Flatness of the histogram of fractional parts on the fractional sweep.

    The sweep's true fractional parts are 0.0, 0.1, ..., 0.9 on both axes, once each, so
    a perfect estimator fills ten bins centred on them equally. Returns the largest
    relative deviation of a bin from the mean count, and the largest |bias| of a pair.
    """
    sweep = [s for s in scores if s.kind == "fraction" and s.frac is not None and s.frac < 0.95 and s.accepted.any()]
    if not sweep:
        return {"dev": np.nan, "bias_curve": np.nan}
    vals = np.concatenate([np.concatenate([s.dx[s.accepted], s.dy[s.accepted]]) for s in sweep])
    bins = np.round((vals - np.floor(vals)) * 10).astype(int) % 10
    counts = np.bincount(bins, minlength=10).astype(float)
    dev = float(np.max(np.abs(counts / counts.mean() - 1.0)))
    return {"dev": dev, "bias_curve": worst_bias(sweep)}


def select(scores: list[Score], **kw) -> list[Score]:
    """Scores whose attributes equal the given values."""
    return [s for s in scores if all(getattr(s, k) == v for k, v in kw.items())]
