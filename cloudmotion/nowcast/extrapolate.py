"""Semi-Lagrangian backward extrapolation of a frame along a steady motion field
(Lagrangian persistence).

For each lead time every output pixel is traced back along the field, in sub-steps of at
most ``max_step`` px (midpoint rule), to where its cloud was in the latest frame; the
latest frame is then sampled there once, with a cubic B-spline. The whole path is traced
before sampling, so interpolation blur does not accumulate with the lead time. Pure
numpy/scipy/OpenCV: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

__all__ = ["extrapolate", "fill_nodata", "trace_back", "trace_spacing"]


def trace_spacing(dx: np.ndarray, dy: np.ndarray, lead: float, *, tol: float = 0.05) -> int:
    """Lattice spacing, px, on which trajectories can be traced for a field and longest lead.

    Traced displacements are interpolated bilinearly between lattice nodes, with an error
    of at most ``h**2 / 8`` times their second derivative. The displacement after ``lead``
    intervals bends about ``lead`` times as much as the field, so the spacing is
    ``h = sqrt(8 tol / (lead * max|v''|))``, clipped to 1-16 px: the interpolation error
    stays below ``tol`` px (default 0.05 px: a twentieth of a pixel, below the error the
    field's own vectors carry after a few intervals) whatever the data. ``max|v''|`` is measured on the field itself (every 4th pixel, which a field
    smoothed over several pixels allows).

    Parameters
    ----------
    dx, dy : ndarray, shape (rows, cols)
        Displacement per frame interval, px.
    lead : float
        Longest lead time, frame intervals.
    tol : float
        Largest interpolation error of a traced displacement, px.

    Returns
    -------
    int
    """
    k = 4 if min(dx.shape) >= 16 else 1
    worst = 0.0
    for f in (dx, dy):
        g = np.asarray(f, dtype=np.float64)[::k, ::k]
        if min(g.shape) < 3:
            continue
        for axis in (0, 1):
            second = np.diff(g, 2, axis=axis) / k**2
            worst = max(worst, float(np.max(np.abs(second))))
        mixed = np.diff(np.diff(g, axis=0), axis=1) / k**2
        worst = max(worst, float(np.max(np.abs(mixed))))
    if worst * lead <= 0:
        return 16
    return int(np.clip(np.floor(np.sqrt(8.0 * tol / (worst * lead))), 1, 16))


def _sample(field: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear sample of a smooth field (OpenCV: positions on a 1/32 px raster, which moves a
    velocity by at most 1/64 px times its gradient), edge values continued outside."""
    import cv2

    return cv2.remap(field, c, r, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def trace_back(
    dx: np.ndarray, dy: np.ndarray, leads: Sequence[float], *, max_step: float = 1.0, spacing: int = 1
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Where the content of each pixel was ``lead`` frame intervals ago, for a steady field.

    Backward trajectories ``dp/dt = -v(p)`` from every pixel, integrated with the midpoint
    rule in equal sub-steps no longer than ``max_step`` px (at the field's largest speed),
    continuing from one lead to the next (Germann & Zawadzki 2002; pySTEPS
    ``extrapolation.semilagrangian``). With ``spacing > 1`` trajectories start on a lattice
    every ``spacing`` px and their displacements are interpolated bilinearly to every pixel
    (see :func:`trace_spacing`).

    Parameters
    ----------
    dx, dy : ndarray, shape (rows, cols)
        Displacement per frame interval along columns and rows, px.
    leads : sequence of float
        Lead times in frame intervals, increasing, >= 0.
    max_step : float
        Longest sub-step, px.
    spacing : int
        Lattice spacing of the trajectories, px.

    Yields
    ------
    src_row, src_col : ndarray of float32, shape (rows, cols)
        Source position of each pixel at each lead, in pixel indices of the frame.
    """
    import cv2

    rows, cols = dx.shape
    dx = np.asarray(dx, dtype=np.float32)
    dy = np.asarray(dy, dtype=np.float32)
    nr, nc = max(2, int(np.ceil(rows / spacing))), max(2, int(np.ceil(cols / spacing)))
    # lattice node j at frame position (j + 0.5) * (size / n) - 0.5: cv2.resize's convention
    r0 = ((np.arange(nr) + 0.5) * (rows / nr) - 0.5)[:, None] * np.ones((1, nc), np.float32)
    c0 = np.ones((nr, 1), np.float32) * ((np.arange(nc) + 0.5) * (cols / nc) - 0.5)[None, :]
    r0, c0 = r0.astype(np.float32), c0.astype(np.float32)
    r, c = r0.copy(), c0.copy()
    vmax = float(np.sqrt(np.max(dx.astype(np.float64) ** 2 + dy.astype(np.float64) ** 2))) if dx.size else 0.0
    done = 0.0
    base_r = np.arange(rows, dtype=np.float32)[:, None]
    base_c = np.arange(cols, dtype=np.float32)[None, :]
    for lead in leads:
        span = float(lead) - done
        if span < 0:
            raise ValueError("leads must be increasing")
        n = max(1, int(np.ceil(span * vmax / max_step))) if span > 0 else 0
        tau = span / n if n else 0.0
        for _ in range(n):
            hr = r - 0.5 * tau * _sample(dy, r, c)
            hc = c - 0.5 * tau * _sample(dx, r, c)
            r, c = r - tau * _sample(dy, hr, hc), c - tau * _sample(dx, hr, hc)
        done = float(lead)
        if spacing == 1 and (nr, nc) == (rows, cols):
            yield r.astype(np.float32), c.astype(np.float32)
            continue
        size = (cols, rows)
        drow = cv2.resize((r - r0).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        dcol = cv2.resize((c - c0).astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        yield base_r + drow, base_c + dcol


def fill_nodata(data: np.ndarray, valid: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """NoData pixels replaced by a normalised-convolution average of valid neighbours (the
    valid mean where none is near), so a spline never sees NaN; valid pixels are unchanged."""
    data = np.asarray(data, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if valid.all():
        return data
    x = np.where(valid, data, 0.0)
    num = ndimage.gaussian_filter(x, sigma, mode="nearest")
    den = ndimage.gaussian_filter(valid.astype(np.float64), sigma, mode="nearest")
    mean = float(data[valid].mean()) if valid.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = np.where(den > 1e-6, num / den, mean)
    return np.where(valid, data, filled)


def extrapolate(
    frame: np.ndarray,
    valid: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    leads: Sequence[float],
    *,
    max_step: float = 1.0,
    spacing: int = 1,
    order: int = 3,
    threads: int = 2,
) -> Iterator[np.ndarray]:
    """Lagrangian-persistence nowcasts of ``frame``: one extrapolated frame per lead time.

    Parameters
    ----------
    frame : ndarray, shape (rows, cols)
        The latest frame, physical units.
    valid : ndarray of bool, shape (rows, cols)
        Its validity mask (False = NoData).
    dx, dy : ndarray, shape (rows, cols)
        Dense displacement per frame interval along columns and rows, px
        (:func:`cloudmotion.nowcast.dense_flow.dense_flow`).
    leads : sequence of float
        Lead times in frame intervals, increasing.
    max_step : float
        Longest trajectory sub-step, px.
    spacing : int
        Trajectory lattice spacing, px (:func:`trace_spacing`).
    order : int
        Spline order of the one sampling of ``frame`` (3 = cubic B-spline, Unser 1999).
    threads : int
        Threads sampling bands of rows at once.

    Yields
    ------
    ndarray of float32, shape (rows, cols)
        The frame at each lead; NaN where the trajectory ends outside the frame or within
        one pixel of NoData (the bilinear footprint of its source holds a NoData pixel).

    References
    ----------
    Germann, U. & Zawadzki, I. (2002). Scale-dependence of the predictability of
    precipitation from continental radar images. Part I. Mon. Wea. Rev. 130, 2859-2873.
    Unser, M. (1999). Splines: a perfect fit for signal and image processing. IEEE SPM 16(6), 22-38.
    """
    import cv2

    rows, cols = frame.shape
    valid = np.asarray(valid, dtype=bool)
    filled = fill_nodata(frame, valid)
    coeffs = ndimage.spline_filter(filled, order=order, output=np.float64) if order > 1 else filled
    holes = None if valid.all() else (~valid).astype(np.float32)
    bands = np.array_split(np.arange(rows), max(1, min(threads, rows)))
    with ThreadPoolExecutor(max(1, threads)) as pool:  # ndimage releases the GIL while it samples
        for r, c in trace_back(dx, dy, leads, max_step=max_step, spacing=spacing):
            out = np.empty((rows, cols), np.float32)

            def part(band: np.ndarray, r: np.ndarray = r, c: np.ndarray = c, out: np.ndarray = out) -> None:
                sl = slice(int(band[0]), int(band[-1]) + 1)
                ndimage.map_coordinates(
                    coeffs, [r[sl], c[sl]], order=order, mode="nearest", prefilter=False, output=out[sl]
                )

            list(pool.map(part, [b for b in bands if b.size]))
            bad = (r < -0.5) | (r > rows - 0.5) | (c < -0.5) | (c > cols - 0.5)
            if holes is not None:  # any NoData pixel in the source's 2x2 footprint
                bad |= cv2.remap(holes, c, r, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) > 1e-3
            out[bad] = np.nan
            yield out
