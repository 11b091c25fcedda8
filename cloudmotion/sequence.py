"""Tracking a sequence: consecutive pairs of a list of frames, each frame filtered once, and
the temporal consistency of consecutive vectors (three or more frames).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from cloudmotion.model import MotionField
from cloudmotion.qc.checks import assess
from cloudmotion.qc.field_stats import temporal_consistency
from cloudmotion.settings.params import TrackParams
from cloudmotion.track import _params, _prepare, _track_prepared

__all__ = ["iter_track_sequence", "track_sequence"]


def iter_track_sequence(
    frames: Iterable[tuple[np.ndarray, np.ndarray | None]],
    *,
    steps: Sequence[float | None] | None = None,
    params: TrackParams | None = None,
    px_per_mps: Sequence[float | np.ndarray | None] | None = None,
    **overrides,
) -> Iterator[MotionField]:
    """Track consecutive pairs of a stream of frames, holding at most three in memory.

    With three or more frames each pair is compared with the next pair along the
    trajectory (the last pair with the previous one): the ``temporal`` consistency enters
    the quality score and vectors whose consecutive displacements differ by more than
    ``max_accel`` px get :attr:`Flag.TEMPORAL`.

    Parameters
    ----------
    frames : iterable of (image, mask) or (image, mask, raw)
        Frames (rows, cols) in time order with their validity masks (or None) and,
        optionally, their stored values (see :func:`track_pair`); may be a generator that
        reads each frame when asked.
    steps : sequence of float or None, optional
        Seconds of each pair, used to compare pairs of unequal time steps; equal steps
        are assumed where unknown.
    px_per_mps : sequence, optional
        For each pair, as for :func:`track_pair`.
    params, overrides
        As for :func:`track_pair`.

    Yields
    ------
    MotionField
        Frame i -> frame i + 1, for each consecutive pair. Each frame is filtered once.
    """
    p = _params(params, overrides)
    prev_frame = None
    prev_field = None
    before = None
    for i, item in enumerate(frames):
        image, mask, raw = (*item, None)[:3]
        cur = _prepare(np.asarray(image), mask, p, raw)
        del image, mask, item  # the filtered copy (and the stored values) is all that is kept
        if prev_frame is not None:
            field = _track_prepared(prev_frame, cur, p, None if px_per_mps is None else px_per_mps[i - 1])
            prev_frame.drop_grads()  # frame A of the next pair is ``cur``: one set of gradients at a time
            if prev_field is not None:
                yield _with_temporal(prev_field, field, False, _ratio(steps, i - 2, i - 1), p)
                before = prev_field
            prev_field = field
        prev_frame = cur
    if prev_field is not None:
        if before is None:
            yield prev_field
        else:
            n = len(steps) if steps is not None else 0
            yield _with_temporal(prev_field, before, True, _ratio(steps, n - 1, n - 2), p)


def _ratio(steps: Sequence[float | None] | None, this: int, other: int) -> float:
    if steps is None or not (0 <= this < len(steps) and 0 <= other < len(steps)):
        return 1.0
    a, b = steps[this], steps[other]
    return float(a / b) if a and b else 1.0


def _with_temporal(
    field: MotionField, other: MotionField, backward: bool, scale: float, params: TrackParams
) -> MotionField:
    """``field`` re-assessed with its temporal consistency against the neighbouring pair."""
    cons, diff = temporal_consistency(
        field.row,
        field.col,
        field.dx,
        field.dy,
        other.dx,
        other.dy,
        other.good,
        row0=float(other.row[0, 0]),
        col0=float(other.col[0, 0]),
        step=float(other.grid.step),
        backward=backward,
        scale=scale,
    )
    return assess(dataclasses.replace(field, temporal=cons, temporal_diff=diff), params)


def track_sequence(
    frames: Sequence[np.ndarray],
    masks: Sequence[np.ndarray | None] | None = None,
    *,
    params: TrackParams | None = None,
    **overrides,
) -> list[MotionField]:
    """Track every consecutive pair of a sequence of frames.

    Parameters
    ----------
    frames : sequence of ndarray, each (rows, cols)
        At least two frames of the same shape, in time order.
    masks : sequence of (ndarray of bool or None), optional
        Validity mask per frame.
    params, overrides
        As for :func:`track_pair`.

    Returns
    -------
    list of MotionField
        ``len(frames) - 1`` fields, pair i being frames[i] -> frames[i + 1].
    """
    if len(frames) < 2:
        raise ValueError("need at least two frames")
    masks = list(masks) if masks is not None else [None] * len(frames)
    if len(masks) != len(frames):
        raise ValueError("need one mask (or None) per frame")
    return list(iter_track_sequence(zip(frames, masks, strict=True), params=params, **overrides))
