"""Compose the steps: pre-filter, tile, correlate, fit the peak, refine, flag.

``track_pair`` is the library's entry point for one pair; :mod:`cloudmotion.sequence`
tracks consecutive pairs of a list of frames with the same steps, filtering each frame once.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from cloudmotion.grid import Grid, field_jacobian, fill_invalid, make_grid
from cloudmotion.model import MotionField
from cloudmotion.motion.expected_error import expected_error, pair_noise, prefilter_noise_factors, template_terms
from cloudmotion.motion.plateau import misregistration, plateau_mask, static_exclusion, static_templates
from cloudmotion.motion.prefilter import prepare_frame
from cloudmotion.motion.refine import frame_gradients, gradient_bias, lucas_kanade
from cloudmotion.motion.search import AUTO_FALLBACK, search_peaks
from cloudmotion.motion.unchanged import background_value, unchanged_pair
from cloudmotion.qc.checks import GROSS, Flag, assess, ee_limit, no_vector
from cloudmotion.settings.cores import usable_cores
from cloudmotion.settings.params import TrackParams, error_limit_px

__all__ = ["MotionField", "TrackParams", "track_pair"]

CONCURRENT_FILTER_PX = 8_000_000
"""Largest frame, px, whose two frames :func:`track_pair` pre-filters at once (each holds frame-sized temporaries)."""


@dataclass
class _Prepared:
    data: np.ndarray
    valid: np.ndarray
    std: float
    mean: float = 0.0  # mean of data over valid (float32 pairwise sum, as np.mean(data[valid]))
    _grads: tuple | None = None
    plateau: np.ndarray | None = None  # static-plateau pixels of the raw frame (cloudmotion.motion.plateau)
    raw: np.ndarray | None = None  # the stored values, for the UNCHANGED test (cloudmotion.motion.unchanged)
    background: float | None = None  # the frame's background value, if it has one

    @property
    def grads(self) -> tuple:
        """Frame gradients, computed when first asked for (only a pair's frame A needs them)."""
        if self._grads is None:
            self._grads = frame_gradients(self.data, self.valid)
        return self._grads

    def drop_grads(self) -> None:
        self._grads = None


def _prepare(
    image: np.ndarray, mask: np.ndarray | None, params: TrackParams, raw: np.ndarray | None = None
) -> _Prepared:
    data, valid = prepare_frame(image, mask, params.sigma, bandpass=params.bandpass, equalize=params.equalize)
    data = data.astype(np.float32, copy=False)  # a new array already; every later stage works in float32
    mean, std = 0.0, 0.0
    if valid.any():
        mean = float(np.mean(data[valid]))  # the refinement's offset: numpy's float32 mean, as printed before
        # the standard deviation summed in float64 by OpenCV, without float64 copies of the frame
        std = float(cv2.meanStdDev(data, mask=valid.view(np.uint8))[1][0, 0])
    raw = image if raw is None else np.asarray(raw)
    plateau = plateau_mask(image, valid) if params.static_check else None
    return _Prepared(
        data=data, valid=valid, std=std, mean=mean, plateau=plateau, raw=raw, background=background_value(raw, valid)
    )


def _cores(params: TrackParams) -> int:
    """Threads a pair may use: ``params.threads``, else the cores available (capped by ``NUMBA_NUM_THREADS``)."""
    cores = usable_cores()
    cap = os.environ.get("NUMBA_NUM_THREADS", "")
    return params.threads or min(cores, int(cap) if cap.isdigit() and int(cap) > 0 else cores)


def _unchanged(a: _Prepared, b: _Prepared, grid: Grid, window: int) -> np.ndarray:
    """UNCHANGED per template (grid order): informative pixels bit-identical in the stored values."""
    plateau = None if a.plateau is None or b.plateau is None else a.plateau | b.plateau
    rows, cols = grid.top_left()
    return unchanged_pair(a.raw, b.raw, a.valid & b.valid, plateau, (a.background, b.background), rows, cols, window)


def _track_prepared(a: _Prepared, b: _Prepared, params: TrackParams, px_per_mps=None) -> MotionField:
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
    limit = error_limit_px(params.max_error, px_per_mps)  # refuses a speed without a scale, before any work
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
        ratio = np.where(np.isfinite(c.second) & (c.second > 0), c.corr / c.second, np.inf)
    ratio[~np.isfinite(c.corr)] = np.nan
    dx, dy = c.dx.copy(), c.dy.copy()  # the result is frozen: blank the no-data vectors in copies
    nodata = no_vector(c.valid, c.corr, params.min_valid)
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
        corr=c.corr.reshape(shape),
        peak_ratio=ratio.reshape(shape),
        quality=np.zeros(shape),
        flag=np.zeros(shape, dtype=np.int32),
        valid_fraction=c.valid.reshape(shape),
        texture=c.std.reshape(shape),
        median_residual=np.full(shape, np.nan),
        params=params,
        peak_at_border=c.border.reshape(shape),
        ee_limit=None if px_per_mps is None else np.broadcast_to(np.asarray(limit, dtype=np.float64), shape).copy(),
    )
    field.corr0 = c.corr0.reshape(shape)  # the coefficient at lag 0, for the SURFACE test
    field.unchanged = _unchanged(a, b, grid, params.window).reshape(shape)
    field.at_search_limit = c.limit.reshape(shape)  # for the "search too small" warning
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
        rho=prefilter_noise_factors(params.sigma, params.bandpass)[0],
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
        lag_cov=t.lag_cov,
        lag_noise=t.lag_noise,
    )
    ee[t.count < 0.5 * params.window * params.window] = np.inf  # too few usable pixels left to measure
    ee[~(np.isfinite(dx) & np.isfinite(dy))] = np.nan
    static = np.zeros(grid.size, dtype=bool)
    limit = np.broadcast_to(np.asarray(ee_limit(field, params), dtype=np.float64), grid.shape).ravel()
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
            max_error=np.where(limit > 0, limit, np.inf),
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
    p = dataclasses.replace(base, **overrides) if overrides else base
    if p.search == "auto":  # arrays alone give no time step or pixel size (the pipeline resolves it from both)
        p = dataclasses.replace(p, search=AUTO_FALLBACK)
    return p


def track_pair(
    a: np.ndarray,
    b: np.ndarray,
    *,
    mask_a: np.ndarray | None = None,
    mask_b: np.ndarray | None = None,
    raw_a: np.ndarray | None = None,
    raw_b: np.ndarray | None = None,
    params: TrackParams | None = None,
    px_per_mps: float | np.ndarray | None = None,
    **overrides,
) -> MotionField:
    """Measure motion from frame A to frame B on a grid of templates.

    Steps: validity masks (plus NaN/inf), normalised-convolution Gaussian pre-filter,
    masked normalised cross-correlation of each template over +-``search`` px, coarse to
    fine with compiled kernels (``search_mode="c2f"``, the default) or exhaustively by FFT
    (``"full"``), three-point sub-pixel peak fit, float Lucas-Kanade refinement, the
    expected error, flags and quality.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Consecutive frames in physical units (never cast to 8 bit).
    mask_a, mask_b : ndarray of bool, optional
        True where valid. NaN and inf pixels are invalid in any case.
    raw_a, raw_b : ndarray, optional
        The stored values the frames were computed from (before scale, offset and
        calibration), shape (rows, cols) or (bands, rows, cols): templates whose informative
        pixels are bit-identical in them are flagged UNCHANGED. Default ``a`` and ``b``.
    params : TrackParams, optional
        Settings; keyword ``overrides`` replace single fields, e.g. ``window=48``.
    px_per_mps : float or ndarray of shape (grid rows, grid cols), optional
        Pixels per m/s at each template: the pair's time step over the ground size of a
        pixel there, s/m. It turns a ``max_error`` speed (and the default, 2 m/s) into each
        vector's threshold in px; without it the default is 0.3 px and a speed is refused.

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
    if _cores(p) > 1 and a.size <= CONCURRENT_FILTER_PX:  # both frames at once: OpenCV and numpy release the GIL
        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(_prepare, b, mask_b, p, raw_b)
            pa, pb = _prepare(a, mask_a, p, raw_a), later.result()
    else:
        pa, pb = _prepare(a, mask_a, p, raw_a), _prepare(b, mask_b, p, raw_b)
    return _track_prepared(pa, pb, p, px_per_mps)
