"""Compose the steps: pre-filter, tile, correlate, fit the peak, refine, flag.

``track_pair`` is the library's entry point; ``track_sequence`` tracks consecutive pairs
of a list of frames, filtering each frame once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .correlate import ncc_dense, ncc_fft_size, ncc_masked
from .grid import (
    Grid,
    extract_windows,
    field_jacobian,
    fill_invalid,
    integral_image,
    make_grid,
    window_sums,
)
from .model import MotionField
from .params import TrackParams
from .preprocess import prepare_frame
from .qc import Flag, fill_field, median_test, quality_score, temporal_consistency
from .refine import frame_gradients, gradient_bias, lucas_kanade
from .subpixel import fit_subpixel, locate_peaks

__all__ = ["MotionField", "TrackParams", "fill_flagged", "flag_where", "iter_track_sequence", "track_pair", "track_sequence"]


_CHUNK_BYTES = 512 * 2**20
"""Working-set budget of one correlation chunk (the masked path holds about 64 bytes per
FFT sample per template)."""


@dataclass
class _Prepared:
    data: np.ndarray
    valid: np.ndarray
    std: float
    _grads: tuple | None = None

    @property
    def grads(self) -> tuple:
        """Frame gradients, computed when first asked for (only a pair's frame A needs them)."""
        if self._grads is None:
            self._grads = frame_gradients(self.data, self.valid)
        return self._grads

    def drop_grads(self) -> None:
        self._grads = None


def _prepare(image: np.ndarray, mask: np.ndarray | None, params: TrackParams) -> _Prepared:
    data, valid = prepare_frame(image, mask, params.sigma)
    data = data.astype(np.float32)  # halves the working set; every later stage computes in float32
    std = float(data[valid].std(dtype=np.float64)) if valid.any() else 0.0
    return _Prepared(data=data, valid=valid, std=std)


def _correlate_all(a: _Prepared, b: _Prepared, grid: Grid, params: TrackParams) -> dict[str, np.ndarray]:
    """Correlation stage over all templates, in chunks; returns flat per-template arrays."""
    w, r = params.window, params.search
    rows, cols = grid.top_left()
    n = rows.size
    # NCC ignores offsets: centring both frames keeps the float32 FFT sums accurate
    offset = float(a.data[a.valid].mean()) if a.valid.any() else 0.0
    pa = (a.data - offset).astype(np.float32)
    pb = np.pad((b.data - offset).astype(np.float32), r)
    pbm = np.pad(b.valid, r)
    # per-window counts, sums and region norms are gathers from frame-level summed-area
    # tables (never a frame-sized map of every window)
    bad_t = window_sums(integral_image(~a.valid), rows, cols, w)
    bad_s = window_sums(integral_image(~pbm), rows, cols, w + 2 * r)
    out = {k: np.full(n, np.nan) for k in ("dx", "dy", "corr", "second", "valid", "std")}
    out["border"] = np.zeros(n, dtype=bool)
    out["valid"] = 1.0 - bad_t / (w * w)
    am = np.where(a.valid, pa, np.float32(0))
    cnt = w * w - bad_t
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = window_sums(integral_image(am), rows, cols, w) / cnt
        np.multiply(am, am, out=am)
        var = np.maximum(window_sums(integral_image(am), rows, cols, w) / cnt - mean * mean, 0.0)
    out["std"] = np.sqrt(var) / a.std if a.std > 0 else np.zeros(n)
    del am
    sb = np.where(pbm, pb, np.float32(0))
    s1_table = integral_image(sb)
    np.multiply(sb, sb, out=sb)
    s2_table = integral_image(sb)
    del sb
    k = 2 * r + 1
    # the chunk bounds bytes, not just templates: FFT arrays grow with (window + 2 search)^2
    fft = ncc_fft_size(w + 2 * r)
    chunk = int(min(params.chunk, max(8, _CHUNK_BYTES // (64 * fft * fft))))
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        t = extract_windows(pa, 0, rows[sl], cols[sl], w)
        s = extract_windows(pb, r, rows[sl] - r, cols[sl] - r, w + 2 * r)
        dense = (bad_t[sl] == 0) & (bad_s[sl] == 0)
        surf = np.empty((t.shape[0], k, k), dtype=np.float32)
        if dense.any():
            lag = np.arange(k)
            rr = rows[sl][dense][:, None, None] + lag[None, :, None]
            cc = cols[sl][dense][:, None, None] + lag[None, None, :]
            s1 = window_sums(s1_table, rr, cc, w)
            norms = np.sqrt(np.maximum(window_sums(s2_table, rr, cc, w) - s1 * s1 / (w * w), 0.0))
            surf[dense] = ncc_dense(t[dense], s[dense], norms)
        masked = np.flatnonzero(~dense)
        for j in range(0, masked.size, max(8, chunk // 4)):  # the masked path holds ~4x the bytes
            m = masked[j : j + max(8, chunk // 4)]
            tm = extract_windows(a.valid, 0, rows[sl][m], cols[sl][m], w)
            sm = extract_windows(pbm, r, rows[sl][m] - r, cols[sl][m] - r, w + 2 * r)
            surf[m] = ncc_masked(t[m], tm, s[m], sm, params.min_overlap)
        peaks = locate_peaks(surf)
        prow, pcol = fit_subpixel(surf, peaks, params.subpixel)
        out["dy"][sl] = prow - r
        out["dx"][sl] = pcol - r
        out["corr"][sl] = peaks.value
        out["second"][sl] = peaks.second
        out["border"][sl] = peaks.on_border & np.isfinite(peaks.value)
    return out


def _track_prepared(a: _Prepared, b: _Prepared, params: TrackParams) -> MotionField:
    if a.data.shape != b.data.shape:
        raise ValueError(f"frames differ in shape: {a.data.shape} and {b.data.shape}")
    grid = make_grid(a.data.shape, params.window, params.step)
    if grid.size > params.max_vectors:
        raise ValueError(f"max_vectors: a {params.window} px window every {params.step} px gives {grid.size:,} "
                         f"vectors, more than {params.max_vectors:,}; use a larger step")
    c = _correlate_all(a, b, grid, params)
    flag = np.zeros(grid.size, dtype=np.int32)
    nodata = (c["valid"] < params.min_valid) | ~np.isfinite(c["corr"])
    flag[nodata] |= Flag.NODATA
    flag[~nodata & ~(c["std"] >= params.min_texture)] |= Flag.LOW_TEXTURE
    flag[c["border"]] |= Flag.PEAK_AT_BORDER
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isfinite(c["second"]) & (c["second"] > 0), c["corr"] / c["second"], np.inf)
    ratio[~np.isfinite(c["corr"])] = np.nan
    flag[np.isfinite(c["corr"]) & (c["corr"] < params.min_corr)] |= Flag.LOW_CORRELATION
    flag[ratio < params.min_peak_ratio] |= Flag.LOW_PEAK_RATIO
    dx, dy = c["dx"], c["dy"]
    dx[nodata] = np.nan
    dy[nodata] = np.nan

    if params.refine:
        rows, cols = grid.top_left()
        todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
        res = lucas_kanade(
            a.data, a.grads, a.valid, b.data, b.valid, rows[todo], cols[todo], params.window,
            dx[todo], dy[todo], max_iter=params.max_iter, tol=params.tol,
            interpolation=params.interpolation, chunk=params.chunk,
        )
        flag[todo[res.failed]] |= Flag.REFINE_FAILED
        if params.max_sigma > 0:
            flag[todo[res.sigma > params.max_sigma]] |= Flag.LOW_TEXTURE
        dx[todo], dy[todo] = _unbias(res, flag[todo] == 0, grid, todo)
    fb = np.full(grid.size, np.nan)
    if params.fb_check:
        fb = _forward_backward(a, b, grid, dx, dy, params)
        flag[fb > params.fb_max] |= Flag.FORWARD_BACKWARD

    shape = grid.shape
    dx, dy, flag = dx.reshape(shape), dy.reshape(shape), flag.reshape(shape)
    resid = median_test(dx, dy, flag == 0, eps=params.median_eps)
    if params.median_threshold > 0:
        flag[resid > params.median_threshold] |= Flag.MEDIAN_OUTLIER
    corr = c["corr"].reshape(shape)
    ratio = ratio.reshape(shape)
    quality = quality_score(corr, ratio, resid)
    quality[np.isnan(dx)] = 0.0
    row, col = grid.centres()
    return MotionField(
        grid=grid, row=row, col=col, dx=dx, dy=dy, corr=corr, peak_ratio=ratio, quality=quality,
        flag=flag, valid_fraction=c["valid"].reshape(shape), texture=c["std"].reshape(shape),
        median_residual=resid, fb_error=fb.reshape(shape), params=params,
    )


def _forward_backward(a: _Prepared, b: _Prepared, grid: Grid, dx: np.ndarray, dy: np.ndarray,
                      params: TrackParams) -> np.ndarray:
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
    res = lucas_kanade(b.data, grads, b.valid, a.data, a.valid, ir[todo], ic[todo], w, -dx[todo], -dy[todo],
                       max_iter=params.max_iter, tol=params.tol, interpolation=params.interpolation,
                       chunk=params.chunk)
    miss = np.hypot(res.dx + dx[todo], res.dy + dy[todo])
    out[todo] = np.where(res.failed, np.inf, miss)
    return out


def _unbias(res, good: np.ndarray, grid: Grid, todo: np.ndarray, rounds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Remove the texture-weighting bias of translation estimates in a non-uniform flow.

    The flow's Jacobian comes from the vector field itself (gaps filled from good
    neighbours); a few rounds settle it (see :func:`cloudmotion.refine.gradient_bias`).
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


def _with_temporal(field: MotionField, other: MotionField, backward: bool, scale: float,
                   params: TrackParams) -> MotionField:
    """A copy of ``field`` with temporal consistency, TEMPORAL flags and quality updated."""
    cons, diff = temporal_consistency(
        field.row, field.col, field.dx, field.dy, other.dx, other.dy, other.good,
        row0=float(other.row[0, 0]), col0=float(other.col[0, 0]), step=float(other.grid.step),
        backward=backward, scale=scale,
    )
    flag = field.flag.copy()
    flag[diff > params.max_accel] |= Flag.TEMPORAL
    quality = quality_score(field.corr, field.peak_ratio, field.median_residual, cons)
    quality[np.isnan(field.dx)] = 0.0
    return dataclasses.replace(field, flag=flag, temporal=cons, quality=quality)


def fill_flagged(field: MotionField, *, sigma: float = 1.0) -> MotionField:
    """Replace vectors that are not good by interpolation of good neighbours.

    Interpolated vectors keep their flag bits plus :attr:`Flag.FILLED` and get quality 0,
    so they are never mistaken for measurements.

    Parameters
    ----------
    field : MotionField
    sigma : float
        Normalised-convolution width in grid cells.

    Returns
    -------
    MotionField
        A new field; the input is not modified.
    """
    dx, dy, filled = fill_field(field.dx, field.dy, field.good, sigma=sigma)
    flag = field.flag.copy()
    flag[filled] |= Flag.FILLED
    quality = np.where(filled, 0.0, field.quality)
    return dataclasses.replace(field, dx=dx, dy=dy, flag=flag, quality=quality)


def flag_where(field: MotionField, mask: np.ndarray, bit: Flag) -> MotionField:
    """A copy of ``field`` with ``bit`` set where ``mask`` is True."""
    flag = field.flag.copy()
    flag[np.asarray(mask, dtype=bool)] |= bit
    return dataclasses.replace(field, flag=flag)


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

