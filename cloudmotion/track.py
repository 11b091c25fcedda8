"""Compose the steps: pre-filter, tile, correlate, fit the peak, refine, flag.

``track_pair`` is the library's entry point; ``track_sequence`` tracks consecutive pairs
of a list of frames, filtering each frame once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from cloudmotion.grid import Grid, field_jacobian, fill_invalid, make_grid
from cloudmotion.model import MotionField
from cloudmotion.motion.expected_error import expected_error, pair_noise, template_terms
from cloudmotion.motion.plateau import (
    misregistration,
    plateau_mask,
    static_exclusion,
    static_templates,
)
from cloudmotion.motion.prefilter import prepare_frame
from cloudmotion.motion.refine import frame_gradients, gradient_bias, lucas_kanade
from cloudmotion.motion.search import search_peaks
from cloudmotion.qc.checks import GROSS, Flag, assess, no_vector
from cloudmotion.qc.field_stats import temporal_consistency
from cloudmotion.settings.params import TrackParams

__all__ = ["MotionField", "TrackParams", "iter_track_sequence", "track_pair", "track_sequence"]


@dataclass
class _Prepared:
    data: np.ndarray
    valid: np.ndarray
    std: float
    mean: float = 0.0  # mean of data over valid (float32 pairwise sum, as np.mean(data[valid]))
    _grads: tuple | None = None
    plateau: np.ndarray | None = None  # static-plateau pixels of the raw frame (cloudmotion.motion.plateau)

    @property
    def grads(self) -> tuple:
        """Frame gradients, computed when first asked for (only a pair's frame A needs them)."""
        if self._grads is None:
            self._grads = frame_gradients(self.data, self.valid)
        return self._grads

    def drop_grads(self) -> None:
        self._grads = None


def _prepare(image: np.ndarray, mask: np.ndarray | None, params: TrackParams) -> _Prepared:
    data, valid = prepare_frame(image, mask, params.sigma, bandpass=params.bandpass, equalize=params.equalize)
    # float32 halves the working set (prepare_frame's result is a new array: no copy); every
    # later stage computes in float32
    data = data.astype(np.float32, copy=False)
    kept = data[valid]  # one gathered copy for both statistics, while little else is held
    std = float(kept.std(dtype=np.float64)) if kept.size else 0.0
    mean = float(np.mean(kept)) if kept.size else 0.0  # the offset refinement and ee_terms remove
    del kept
    return _Prepared(data=data, valid=valid, std=std, mean=mean, plateau=plateau_mask(image, valid))


def _track_prepared(a: _Prepared, b: _Prepared, params: TrackParams) -> MotionField:
    """prepare -> correlate -> peak -> refine -> forward-backward -> qc, for one pair."""
    if a.data.shape != b.data.shape:
        raise ValueError(f"frames differ in shape: {a.data.shape} and {b.data.shape}")
    grid = make_grid(a.data.shape, params.window, params.step)
    if grid.size > params.max_vectors:
        raise ValueError(
            f"max_vectors: a {params.window} px window every {params.step} px gives {grid.size:,} "
            f"vectors, more than {params.max_vectors:,}; use a larger step"
        )
    rows, cols = grid.top_left()
    c = search_peaks(
        a.data,
        a.valid,
        b.data,
        b.valid,
        rows,
        cols,
        params.window,
        params.search,
        min_overlap=params.min_overlap,
        subpixel=params.subpixel,
        mode=params.search_mode,
        threads=params.threads,
        frame_std=a.std,
        chunk=params.chunk,
        correlation=params.correlation,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(c["second"]) & (c["second"] > 0), c["corr"] / c["second"], np.inf)
    ratio[~np.isfinite(c["corr"])] = np.nan
    dx, dy = c["dx"], c["dy"]
    nodata = no_vector(c["valid"], c["corr"], params.min_valid)
    dx[nodata] = np.nan
    dy[nodata] = np.nan
    shape = grid.shape
    row, col = grid.centres()
    field = MotionField(
        grid=grid,
        row=row,
        col=col,
        dx=dx.reshape(shape),
        dy=dy.reshape(shape),
        corr=c["corr"].reshape(shape),
        peak_ratio=ratio.reshape(shape),
        quality=np.zeros(shape),
        flag=np.zeros(shape, dtype=np.int32),
        valid_fraction=c["valid"].reshape(shape),
        texture=c["std"].reshape(shape),
        median_residual=np.full(shape, np.nan),
        params=params,
        peak_at_border=c["border"].reshape(shape),
    )
    field.corr0 = c["corr0"].reshape(shape)  # the coefficient at lag 0, for the SURFACE test
    if params.refine:
        field = _refine(a, b, field, params)
    a.drop_grads()  # only the refinement reads A's gradients: free them before the expected-error frames
    field = _expected_error(a, b, field, params)
    if params.fb_check:
        fb = _forward_backward(a, b, grid, field.dx.ravel(), field.dy.ravel(), params)
        field = dataclasses.replace(field, fb_error=fb.reshape(shape))
    return assess(field, params)


def _expected_error(a: _Prepared, b: _Prepared, field: MotionField, params: TrackParams) -> MotionField:
    """Expected error per vector (px), and STATIC where the texture is a static plateau's edge.

    Static-plateau pixels (the same exact-value plateau in both frames) and the band the
    pre-filter spreads them over are NoData for the template's statistics and ``ee``
    (:mod:`cloudmotion.motion.expected_error`, :mod:`cloudmotion.motion.plateau`).
    """
    grid = field.grid
    dx, dy = field.dx.ravel(), field.dy.ravel()
    rows, cols = grid.top_left()
    exclude = None
    if a.plateau is not None and b.plateau is not None and a.plateau.any():
        widest = params.bandpass[1] if params.bandpass else params.sigma  # the filter's reach
        exclude = static_exclusion(a.plateau, b.plateau, widest)
        if not exclude.any():
            exclude = None
    t = template_terms(
        a.data,
        a.valid,
        b.data,
        b.valid,
        rows,
        cols,
        params.window,
        dx,
        dy,
        exclude=exclude,
        chunk=max(64, min(params.chunk, 1024)),
        threads=params.threads,
        offset=a.mean,
    )
    clean = (assess(field, params, stop=Flag.STATIC).flag.ravel() & GROSS) == 0
    noise = pair_noise(np.where(clean, t.residual_var, np.nan), t.count)
    ee = expected_error(
        t.tensor,
        t.residual_var,
        t.count,
        noise_var=noise,
        sigma=params.sigma,
        bandpass=params.bandpass,
        grad_corr=t.grad_corr,
        peak_corr=t.peak_corr,
        curvature=t.curvature,
    )
    ee[t.count < 0.5 * params.window * params.window] = np.inf  # too few usable pixels left to measure
    ee[~(np.isfinite(dx) & np.isfinite(dy))] = np.nan
    static = np.zeros(grid.size, dtype=bool)
    if exclude is not None:
        # what remains must carry the displacement itself: its residual may not call for a larger error
        mis = misregistration(t.tensor, t.residual_var, t.count, noise_var=noise)
        static = static_templates(
            exclude,
            a.valid,
            rows,
            cols,
            params.window,
            ee_without=np.fmax(ee, mis),
            min_valid=params.min_valid,
            max_error=params.max_error or np.inf,
        )
    return dataclasses.replace(field, ee=ee.reshape(grid.shape), static=static.reshape(grid.shape))


def _refine(a: _Prepared, b: _Prepared, field: MotionField, params: TrackParams) -> MotionField:
    """Float Lucas-Kanade from the correlation peaks, then the texture-weighting bias removed."""
    grid = field.grid
    dx, dy = field.dx.ravel().copy(), field.dy.ravel().copy()
    rows, cols = grid.top_left()
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
    res = lucas_kanade(
        a.data,
        a.grads,
        a.valid,
        b.data,
        b.valid,
        rows[todo],
        cols[todo],
        params.window,
        dx[todo],
        dy[todo],
        max_iter=params.max_iter,
        tol=params.tol,
        interpolation=params.interpolation,
        chunk=params.chunk,
        threads=params.threads,
        offset=a.mean,
    )
    failed = np.zeros(grid.size, dtype=bool)
    failed[todo] = res.failed
    sigma = np.full(grid.size, np.nan)
    sigma[todo] = res.sigma
    field = dataclasses.replace(
        field, refine_failed=failed.reshape(grid.shape), predicted_error=sigma.reshape(grid.shape)
    )
    good = assess(field, params, stop=Flag.FORWARD_BACKWARD).good.ravel()  # the measurements worth trusting
    dx[todo], dy[todo] = _unbias(res, good[todo], grid, todo)
    return dataclasses.replace(field, dx=dx.reshape(grid.shape), dy=dy.reshape(grid.shape))


def _forward_backward(
    a: _Prepared, b: _Prepared, grid: Grid, dx: np.ndarray, dy: np.ndarray, params: TrackParams
) -> np.ndarray:
    """Miss distance (px) of tracking B -> A from each vector's end point; NaN where not checked.

    The backward template is the window of B whose top-left is the forward template's
    moved by the rounded displacement; its backward motion should be ``-d``.
    """
    w = params.window
    rows, cols = grid.top_left()
    ir = rows + np.round(np.nan_to_num(dy)).astype(np.int64)
    ic = cols + np.round(np.nan_to_num(dx)).astype(np.int64)
    h, wd = a.data.shape
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy) & (ir >= 0) & (ic >= 0) & (ir + w <= h) & (ic + w <= wd))
    out = np.full(grid.size, np.nan)
    if todo.size == 0:
        return out
    grads = b.grads
    res = lucas_kanade(
        b.data,
        grads,
        b.valid,
        a.data,
        a.valid,
        ir[todo],
        ic[todo],
        w,
        -dx[todo],
        -dy[todo],
        max_iter=params.max_iter,
        tol=params.tol,
        interpolation=params.interpolation,
        chunk=params.chunk,
        threads=params.threads,
        offset=b.mean,
    )
    miss = np.hypot(res.dx + dx[todo], res.dy + dy[todo])
    out[todo] = np.where(res.failed, np.inf, miss)
    return out


def _unbias(res, good: np.ndarray, grid: Grid, todo: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Remove the texture-weighting bias of translation estimates in a non-uniform flow.

    The flow's Jacobian comes from the vector field itself (gaps filled from good
    neighbours); a few rounds settle it (see :func:`cloudmotion.motion.refine.gradient_bias`).
    """
    ex, ey = res.dx.copy(), res.dy.copy()
    if grid.nrows < 2 and grid.ncols < 2:
        return ex, ey
    for _ in range(rounds):
        fx = np.full(grid.size, np.nan)
        fy = np.full(grid.size, np.nan)
        ok = np.zeros(grid.size, dtype=bool)
        fx[todo], fy[todo], ok[todo] = ex, ey, good
        jac = field_jacobian(
            fill_invalid(fx.reshape(grid.shape), ok.reshape(grid.shape)),
            fill_invalid(fy.reshape(grid.shape), ok.reshape(grid.shape)),
            grid.step,
        )[todo]
        bias = gradient_bias(res.tensor, res.moments, jac)
        ex, ey = res.dx - bias[:, 0], res.dy - bias[:, 1]
    return ex, ey


def _params(params: TrackParams | None, overrides: dict) -> TrackParams:
    base = params or TrackParams()
    if "window" in overrides and "step" not in overrides and (params is None or params.step == params.window // 2):
        overrides = {**overrides, "step": None}  # the default step follows the window
    return dataclasses.replace(base, **overrides) if overrides else base


def track_pair(
    a: np.ndarray,
    b: np.ndarray,
    *,
    mask_a: np.ndarray | None = None,
    mask_b: np.ndarray | None = None,
    params: TrackParams | None = None,
    **overrides,
) -> MotionField:
    """Measure motion from frame A to frame B on a grid of templates.

    Steps: validity masks (plus NaN/inf), normalised-convolution Gaussian pre-filter,
    masked FFT normalised cross-correlation of each template over +-``search`` px,
    three-point sub-pixel peak fit, float Lucas-Kanade refinement, flags and quality.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Consecutive frames in physical units (never cast to 8 bit).
    mask_a, mask_b : ndarray of bool, optional
        True where valid. NaN and inf pixels are invalid in any case.
    params : TrackParams, optional
        Settings; keyword ``overrides`` replace single fields, e.g. ``window=48``.

    Returns
    -------
    MotionField
        Vectors on the template grid; ``dx`` along columns and ``dy`` along rows in
        pixels from A to B.

    Raises
    ------
    ValueError
        On invalid settings, frames of different shapes or frames smaller than one
        window.

    References
    ----------
    Leese et al. (1971), J. Appl. Meteor. 10, 118-132; Padfield (2012), IEEE TIP 21,
    2706-2718; Lucas & Kanade (1981), Proc. IJCAI 674-679.
    """
    p = _params(params, overrides)
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in shape: {a.shape} and {b.shape}")
    return _track_prepared(_prepare(a, mask_a, p), _prepare(b, mask_b, p), p)


def iter_track_sequence(
    frames: Iterable[tuple[np.ndarray, np.ndarray | None]],
    *,
    steps: Sequence[float | None] | None = None,
    params: TrackParams | None = None,
    **overrides,
) -> Iterator[MotionField]:
    """Track consecutive pairs of a stream of frames, holding at most three in memory.

    With three or more frames each pair is compared with the next pair along the
    trajectory (the last pair with the previous one): the ``temporal`` consistency enters
    the quality score and vectors whose consecutive displacements differ by more than
    ``max_accel`` px get :attr:`Flag.TEMPORAL`.

    Parameters
    ----------
    frames : iterable of (image, mask)
        Frames (rows, cols) in time order with their validity masks (or None); may be a
        generator that reads each frame when asked.
    steps : sequence of float or None, optional
        Seconds of each pair, used to compare pairs of unequal time steps; equal steps
        are assumed where unknown.
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
    for i, (image, mask) in enumerate(frames):
        cur = _prepare(np.asarray(image), mask, p)
        del image, mask  # the filtered copy is all that is kept
        if prev_frame is not None:
            field = _track_prepared(prev_frame, cur, p)
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
