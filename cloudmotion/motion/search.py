"""Template search: the correlation peak of every template, coarse-to-fine or exhaustive.

``search_peaks`` finds, for each template of frame A, the lag of frame B with the
highest correlation coefficient (NCC normalised at every lag) within +-``search`` px,
its sub-pixel position, the best competing peak and the coefficient at lag 0.

``mode="c2f"`` (default) searches a 2x block-mean pyramid (one level, two when
``search >= 64`` and the window allows it): a direct exhaustive NCC over +-search / 2**L
at the top level, then at each finer level a hill-climb on 7 x 7 blocks of lags around
the upsampled peak, re-centred until the peak is interior. The cost grows with the
window, not with ``search**2``. The best competing local maximum of the coarse surface is
climbed at full resolution too (3 x 3 blocks): it gives the second peak, and where it
climbs higher than the main peak the two swap, so a wrong coarse basin is caught.
Templates or regions with NoData go through the same scheme with the masked
coefficient and the full-resolution ``min_overlap`` rule at every full-resolution lag.

The compiled kernels of ``"c2f"`` (:mod:`cloudmotion.motion.kernels.ncc`,
:mod:`cloudmotion.motion.kernels.frame`) are stages of :mod:`cloudmotion.motion.kernels.backend`:
inside ``reference_kernels()`` the same search runs their numpy references
(:mod:`cloudmotion.motion.references.search`).

``mode="full"`` is the exhaustive FFT search of the first release (every lag of every
template, Leese et al. 1971; Padfield 2012 for NoData): another algorithm, global, with no
coarse-to-fine step that could miss a peak, chosen by the user.

Conventions: arrays (rows, cols); lag ``dy`` along rows, ``dx`` along columns, + =
increasing index, pixels, from A to B. Templates are given by their top-left pixel.

References
----------
Leese, J. A., Novak, C. S. and Clark, B. B. (1971). J. Appl. Meteor. 10, 118-132.
Lewis, J. P. (1995). Fast normalized cross-correlation. Vision Interface, 120-123.
Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE TIP 21(5).
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.correlate import correlate_grid
from cloudmotion.motion.kernels.backend import implementation, run
from cloudmotion.motion.results import SearchResult
from cloudmotion.motion.subpixel import FITTERS
from cloudmotion.registry import SEARCH_MODES

__all__ = ["AUTO_FALLBACK", "AUTO_MAX", "MODES", "auto_search", "border_share", "pyramid_levels", "search_peaks"]

MODES = SEARCH_MODES
CLIMB_HALF = 3  # 7 x 7 blocks for the main peak (3 x 3 slid along cloud-edge ridges)
SECOND_HALF = 1  # 3 x 3 blocks for the competing peak: any local maximum will do
EXCLUDE = 2  # the second peak lies more than this many px (Chebyshev) from the first


AUTO_FALLBACK = 16
"""``search = "auto"`` when the time step or the pixel size is unknown, px."""

AUTO_MAX = 256
"""Largest search ``"auto"`` resolves to, px (the range the coarse-to-fine search is checked at)."""


def pyramid_levels(window: int, search: int) -> int:
    """Number of 2x levels above full resolution for a window and a search range (px).

    As many as the range needs: one level; two when ``search >= 64``; one more for each
    further doubling (three from 128, four from 256); none when the search is within one
    climb block (``search <= 3``). Never so many that the coarsest template is smaller
    than 8 px. (Two levels from ``search`` 32 cost 1.04x the time of ``search`` 16 on the
    CONUS benchmark pair, but their 8 px coarse templates left 99.84 % of peaks equal to
    the exhaustive ones; one level costs 1.98x and keeps 99.92 %.)
    """
    if search <= CLIMB_HALF:
        return 0
    levels = 1 + max(0, int(search).bit_length() - 6)  # 1 below 64, 2 from 64, 3 from 128, ...
    while levels > 0 and window >> levels < 8:
        levels -= 1
    return levels


def auto_search(max_speed: float, dt: float | None, pixel_m: float | None, shape: tuple[int, int] | None = None) -> int:
    """The search range the physics asks for: ``ceil(max_speed * dt / pixel_m)`` px.

    Parameters
    ----------
    max_speed : float
        Fastest motion expected, m/s.
    dt : float or None
        Time between the frames, s.
    pixel_m : float or None
        The frame's smallest ground pixel, m (for GOES the sub-satellite resolution).
    shape : (int, int), optional
        Frame rows and columns: the range is kept to half the shorter side.

    Returns
    -------
    int
        Between 1 and :data:`AUTO_MAX` px; :data:`AUTO_FALLBACK` when ``dt`` or
        ``pixel_m`` is unknown.
    """
    if not dt or not pixel_m or not np.isfinite(pixel_m) or pixel_m <= 0 or dt <= 0:
        return AUTO_FALLBACK
    limit = AUTO_MAX if shape is None else min(AUTO_MAX, max(AUTO_FALLBACK, min(shape) // 2))
    return int(max(1, min(np.ceil(max_speed * dt / pixel_m - 1e-9), limit)))


def border_share(limit: np.ndarray, valid_fraction: np.ndarray, texture: np.ndarray, min_valid: float) -> float:
    """Share of the textured templates whose correlation peak is on the search range's edge (``limit``).

    Textured: valid fraction at least ``min_valid`` and template standard deviation at
    least a quarter of the frame's (``texture``, as :func:`search_peaks` returns ``std``).

    Returns
    -------
    float
        0 when no template is textured.
    """
    with np.errstate(invalid="ignore"):
        textured = (np.asarray(valid_fraction) >= min_valid) & (np.asarray(texture) >= 0.25)
    n = int(np.count_nonzero(textured))
    return float(np.count_nonzero(textured & np.asarray(limit, dtype=bool))) / n if n else 0.0


def search_peaks(
    a_data: np.ndarray,
    a_valid: np.ndarray,
    b_data: np.ndarray,
    b_valid: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    search: int,
    *,
    min_overlap: float = 0.75,
    subpixel: str = "gaussian",
    mode: str = "c2f",
    threads: int | None = None,
    frame_std: float | None = None,
    chunk: int = 2048,
    correlation: str = "ncc",
) -> SearchResult:
    """Correlation peak of every template of A inside +-``search`` px of B.

    Parameters
    ----------
    a_data, b_data : ndarray of float32, shape (rows, cols)
        Pre-filtered frames A and B (values where invalid are ignored).
    a_valid, b_valid : ndarray of bool, shape (rows, cols)
        True where valid.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template in A; every template lies inside A.
    window : int
        Template size, px.
    search : int
        Largest displacement searched along each axis, px.
    min_overlap : float
        A lag counts only where the pixels valid in both frames cover this fraction of
        the template's valid pixels.
    subpixel : str
        Name of a three-point fitter of :data:`cloudmotion.motion.subpixel.FITTERS`.
    mode : {"c2f", "full"}
        Coarse-to-fine direct search (compiled kernels) or exhaustive FFT search
        (:func:`cloudmotion.motion.correlate.correlate_grid`).
    threads : int, optional
        Threads of the compiled kernels (``"c2f"``); default the cores available.
    frame_std : float, optional
        Standard deviation of A's valid pixels (computed when absent).
    chunk : int
        Templates per FFT batch (``"full"`` only).
    correlation : str
        A registered correlation method other than ``ncc`` runs the exhaustive path
        (the coarse-to-fine kernels compute NCC only).

    Returns
    -------
    SearchResult
        Arrays of shape (N,): ``dx``, ``dy`` the sub-pixel peak, px (NaN where the peak is
        on the border of the search or undefined); ``corr`` the peak coefficient;
        ``second`` the best competing local maximum more than 2 px from the peak;
        ``valid``, ``std``, ``border``, ``corr0``, ``limit`` (see the class).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if subpixel not in FITTERS:
        raise ValueError(f"unknown sub-pixel method {subpixel!r}; choose from {sorted(FITTERS)}")
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    if frame_std is None:
        frame_std = float(a_data[a_valid].std(dtype=np.float64)) if a_valid.any() else 0.0
    if mode == "full" or correlation != "ncc":
        return correlate_grid(
            a_data,
            a_valid,
            frame_std,
            b_data,
            b_valid,
            rows,
            cols,
            window,
            search,
            min_overlap=min_overlap,
            subpixel=subpixel,
            chunk=chunk,
            correlation=correlation,
        )
    return _search_c2f(
        a_data, a_valid, b_data, b_valid, rows, cols, window, search, min_overlap, subpixel, frame_std, threads
    )


def _search_c2f(a, am, b, bm, rows, cols, w, r, min_overlap, subpixel, frame_std, threads):
    """The coarse-to-fine search; its kernels are the backend's halve, template_stats, coarse_search, climb stages."""
    a, b = (np.ascontiguousarray(x, dtype=np.float32) for x in (a, b))
    am, bm = (np.ascontiguousarray(x, dtype=bool) for x in (am, bm))
    n = rows.size
    levels = pyramid_levels(w, r)
    moves = 2 * r  # enough to cross the search range

    def climb(level, sel, start, rad, half, lag0):
        """Climb templates ``sel`` (all if None) at pyramid ``level`` from (N, 2) lags ``start``."""
        lr, lc = (x if sel is None else x[sel] for x in (rows >> level, cols >> level))
        starts = (np.ascontiguousarray(start[:, 0]), np.ascontiguousarray(start[:, 1]))
        limit = moves if level == 0 else 2 * rad
        return run("climb", threads, pyr[level], (lr, lc, *starts), (w >> level, rad, half, limit, min_overlap, lag0))

    count, _mean, var = run("template_stats", threads, (a, am), (rows, cols), (w,))
    halve = implementation("halve")
    pyr = [(a, am, b, bm)]
    for _ in range(levels):
        pa, pam, pb, pbm = pyr[-1]
        pyr.append((*halve(pa, pam), *halve(pb, pbm)))
    top = levels
    pos, val = run(
        "coarse_search",
        threads,
        (*pyr[top],),
        (rows >> top, cols >> top),
        (w >> top, -(-r // 2**top), min_overlap, EXCLUDE if top == 0 else 1),
    )
    main, comp = pos[:, :2].copy(), pos[:, 2:].copy()
    ci = np.flatnonzero(np.isfinite(val[:, 1]))
    for lev in range(top - 1, 0, -1):  # intermediate levels
        rad = -(-r // 2**lev)
        main = climb(lev, None, 2 * main, rad, CLIMB_HALF, False)[0]
        comp[ci] = climb(lev, ci, 2 * comp[ci], rad, SECOND_HALF, False)[0]
    up = 2 if top > 0 else 1
    mpos, mval = climb(0, None, up * main, r, CLIMB_HALF, True)
    cpos = np.zeros((n, 2), np.int64)
    cval = np.full(n, np.nan)
    if ci.size:
        p, v = climb(0, ci, up * comp[ci], r, SECOND_HALF, False)
        cpos[ci], cval[ci] = p, np.where(v[:, 6] > 0, v[:, 0], np.nan)  # only a true local maximum counts
    # a competitor that climbs higher than the main peak becomes the main peak
    swap = np.flatnonzero(cval > mval[:, 0])
    if swap.size:
        old_pos, old_val = mpos[swap].copy(), mval[swap, 0].copy()
        p, v = climb(0, swap, cpos[swap], r, CLIMB_HALF, True)
        mpos[swap], mval[swap] = p, v
        cpos[swap], cval[swap] = old_pos, old_val
    far = np.abs(cpos - mpos).max(axis=1) > EXCLUDE
    second = np.where(far & (cval < mval[:, 0]), cval, np.nan)
    return _finish(mpos, mval, second, count, var, w, r, subpixel, frame_std)


def _finish(pos, val, second, count, var, w, r, subpixel, frame_std) -> SearchResult:
    """The search result from integer peaks and their four neighbours."""
    corr = val[:, 0]
    nb = val[:, 1:5]
    fit = FITTERS[subpixel]
    border = np.isfinite(corr) & ~np.isfinite(nb).all(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fy = np.clip(np.nan_to_num(fit(nb[:, 0], corr, nb[:, 1])), -0.5, 0.5)
        fx = np.clip(np.nan_to_num(fit(nb[:, 2], corr, nb[:, 3])), -0.5, 0.5)
    bad = border | ~np.isfinite(corr)
    dy = np.where(bad, np.nan, pos[:, 0] + fy)
    dx = np.where(bad, np.nan, pos[:, 1] + fx)
    std = np.sqrt(var) / frame_std if frame_std > 0 else np.zeros(count.size)
    return SearchResult(
        dx=dx,
        dy=dy,
        corr=corr.copy(),
        second=second,
        valid=count / float(w * w),
        std=std,
        border=border,
        corr0=val[:, 5].copy(),
        limit=np.isfinite(corr) & (np.abs(pos) >= r).any(axis=1),
    )
