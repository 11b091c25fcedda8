"""Tiling geometry: the vector grid and batched window stacks.

Conventions: arrays are indexed (row, col); an integer index is a pixel centre.
A template of ``window`` pixels whose top-left pixel is ``(r0, c0)`` has its centre,
the vector's origin, at ``(r0 + (window - 1) / 2, c0 + (window - 1) / 2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "Grid",
    "bicubic_support",
    "box_sums",
    "extract_windows",
    "gaussian_zero_border",
    "integral_image",
    "make_grid",
    "window_sums",
]


@dataclass(frozen=True)
class Grid:
    """A regular grid of templates over a frame.

    Attributes
    ----------
    window : int
        Template size in pixels (square).
    step : int
        Spacing of template origins in pixels.
    row0, col0 : int
        Top-left pixel of the first template.
    nrows, ncols : int
        Number of templates along rows and columns.
    """

    window: int
    step: int
    row0: int
    col0: int
    nrows: int
    ncols: int

    @property
    def shape(self) -> tuple[int, int]:
        """Grid shape (nrows, ncols)."""
        return (self.nrows, self.ncols)

    @property
    def size(self) -> int:
        """Number of templates."""
        return self.nrows * self.ncols

    def top_left(self) -> tuple[np.ndarray, np.ndarray]:
        """Top-left pixel (row, col) of every template, each of shape (nrows * ncols,), C order."""
        r = self.row0 + self.step * np.arange(self.nrows)
        c = self.col0 + self.step * np.arange(self.ncols)
        rr, cc = np.meshgrid(r, c, indexing="ij")
        return rr.ravel(), cc.ravel()

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Vector origins (row, col) in pixel index coordinates, each of shape (nrows, ncols)."""
        half = (self.window - 1) / 2.0
        r = self.row0 + self.step * np.arange(self.nrows) + half
        c = self.col0 + self.step * np.arange(self.ncols) + half
        return np.meshgrid(r, c, indexing="ij")


def make_grid(shape: tuple[int, int], window: int, step: int) -> Grid:
    """Lay a grid of ``window``-pixel templates every ``step`` pixels over a frame.

    The grid is centred: the margin left over on each axis is split between both sides.

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    window : int
        Template size in pixels, at least 4.
    step : int
        Grid spacing in pixels, at least 1.

    Returns
    -------
    Grid

    Raises
    ------
    ValueError
        If the window does not fit in the frame or the sizes are not positive.
    """
    if window < 4:
        raise ValueError(f"window must be at least 4 px, got {window}")
    if step < 1:
        raise ValueError(f"step must be at least 1 px, got {step}")
    rows, cols = shape
    if rows < window or cols < window:
        raise ValueError(f"frame of {rows}x{cols} px is smaller than one {window} px window")
    nr = (rows - window) // step + 1
    nc = (cols - window) // step + 1
    r0 = (rows - window - (nr - 1) * step) // 2
    c0 = (cols - window - (nc - 1) * step) // 2
    return Grid(window=window, step=step, row0=r0, col0=c0, nrows=nr, ncols=nc)


def extract_windows(padded: np.ndarray, pad: int, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """Copy square windows out of a padded image into one (N, size, size) stack.

    Parameters
    ----------
    padded : ndarray, shape (rows + 2 * pad, cols + 2 * pad)
        The image padded by ``pad`` pixels on every side.
    pad : int
        Padding width in pixels.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each window in *unpadded* image coordinates; may be negative
        down to ``-pad``.
    size : int
        Window size in pixels.

    Returns
    -------
    ndarray, shape (N, size, size)
        A contiguous copy (one fancy-indexing gather over a strided view, no Python loop).
    """
    view = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    return view[np.asarray(rows) + pad, np.asarray(cols) + pad]


def box_sums(x: np.ndarray, w: int) -> np.ndarray:
    """Sums of every w x w box over the last two axes, from a summed-area table.

    Parameters
    ----------
    x : ndarray, shape (..., rows, cols)
        Values; leading axes are batched.
    w : int
        Box size in pixels.

    Returns
    -------
    ndarray of float64, shape (..., rows - w + 1, cols - w + 1)
        Sum of the box whose top-left pixel is at the index.
    """
    x = np.asarray(x)
    if x.ndim == 2 and x.dtype in (np.bool_, np.uint8, np.float32, np.float64):
        # OpenCV's summed-area table: one SIMD pass instead of two numpy cumsums
        src = x.view(np.uint8) if x.dtype == np.bool_ else x
        c = cv2.integral(np.ascontiguousarray(src), sdepth=cv2.CV_64F)
        out = c[w:, w:].copy()  # in place: two frame-sized arrays at most
        out -= c[:-w, w:]
        out -= c[w:, :-w]
        out += c[:-w, :-w]
        return out
    c = np.zeros(x.shape[:-2] + (x.shape[-2] + 1, x.shape[-1] + 1), dtype=np.float64)
    np.cumsum(x, axis=-1, dtype=np.float64, out=c[..., 1:, 1:])
    np.cumsum(c[..., 1:, 1:], axis=-2, out=c[..., 1:, 1:])
    return c[..., w:, w:] - c[..., :-w, w:] - c[..., w:, :-w] + c[..., :-w, :-w]


def gaussian_zero_border(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing with zeros outside the array, as ``scipy.ndimage.gaussian_filter(mode="constant")``.

    The same sampled, normalised kernel (radius ``int(truncate * sigma + 0.5)``) applied as
    two OpenCV 1-D passes in float64: equal to scipy's result to rounding, without importing
    scipy.ndimage (whose import costs about 0.4 s).

    Parameters
    ----------
    x : ndarray, shape (rows, cols)
        Values (float64 result).
    sigma : float
        Gaussian standard deviation in array cells (> 0).
    truncate : float
        Kernel half-width in standard deviations.

    Returns
    -------
    ndarray of float64, shape (rows, cols)
    """
    radius = int(truncate * float(sigma) + 0.5)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (taps / float(sigma)) ** 2)
    k /= k.sum()
    src = np.ascontiguousarray(x, dtype=np.float64)
    return cv2.sepFilter2D(src, cv2.CV_64F, k, k, borderType=cv2.BORDER_CONSTANT)


def fill_invalid(values: np.ndarray, good: np.ndarray, *, sigma: float = 1.0, max_rounds: int = 50) -> np.ndarray:
    """Fill the cells of a grid field that are not good by normalised convolution.

    Each round replaces the missing cells by ``G*(v m) / G*m`` over the good cells
    (Gaussian of ``sigma`` cells); rounds repeat, widening from the filled border, until
    every cell is filled or no good cell exists.

    Parameters
    ----------
    values : ndarray, shape (ny, nx)
        Field on the vector grid.
    good : ndarray of bool, shape (ny, nx)
        Cells whose value is trusted.
    sigma : float
        Gaussian width in grid cells.
    max_rounds : int
        Upper bound on widening rounds.

    Returns
    -------
    ndarray of float64
        Good cells unchanged, the others interpolated; all 0 if no cell is good.
    """
    m = (good & np.isfinite(values)).astype(np.float64)
    v = np.where(m > 0, values, 0.0).astype(np.float64)
    if not m.any():
        return np.zeros_like(v)
    out = v.copy()
    have = m > 0
    for _ in range(max_rounds):
        num = gaussian_zero_border(np.where(have, out, 0.0), sigma)
        den = gaussian_zero_border(have.astype(np.float64), sigma)
        new = ~have & (den > 1e-3)
        out[new] = num[new] / den[new]
        have |= new
        if have.all() or not new.any():
            break
    out[~have] = np.mean(v[m > 0])
    return out


def field_jacobian(dx: np.ndarray, dy: np.ndarray, step: float) -> np.ndarray:
    """Spatial derivatives of a displacement field sampled on the vector grid.

    Parameters
    ----------
    dx, dy : ndarray, shape (ny, nx)
        Displacements (px) on a grid of spacing ``step`` px, without gaps.
    step : float
        Grid spacing, px.

    Returns
    -------
    ndarray, shape (ny * nx, 2, 2)
        ``[[ddx/dcol, ddx/drow], [ddy/dcol, ddy/drow]]`` in px/px, C order over the grid;
        central differences inside, one-sided at the edges, 0 along an axis of length 1.
    """

    def grads(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gr = np.gradient(f, step, axis=0) if f.shape[0] > 1 else np.zeros_like(f)
        gc = np.gradient(f, step, axis=1) if f.shape[1] > 1 else np.zeros_like(f)
        return gc, gr

    xc, xr = grads(dx)
    yc, yr = grads(dy)
    return np.stack([np.stack([xc, xr], -1), np.stack([yc, yr], -1)], -2).reshape(-1, 2, 2)


def bicubic_support(valid: np.ndarray, pad: int = 0) -> np.ndarray:
    """Where a bicubic sample's whole 4 x 4 support (rows and cols -1 .. +2) is valid.

    Parameters
    ----------
    valid : ndarray of bool, shape (rows, cols)
        Valid pixels.
    pad : int
        Rows and columns of invalid pixels added on every side first, px.

    Returns
    -------
    ndarray of bool, shape (rows + 2 pad, cols + 2 pad)
        True at a pixel whose samples at offsets -1 .. +2 along both axes are all valid
        (outside the array counts as invalid).
    """
    grown = np.pad(valid, pad) if pad else np.ascontiguousarray(valid, dtype=bool)
    return cv2.erode(
        grown.view(np.uint8), np.ones((4, 4), np.uint8), anchor=(1, 1), borderType=cv2.BORDER_CONSTANT, borderValue=0
    ).view(bool)


def integral_image(x: np.ndarray) -> np.ndarray:
    """Summed-area table of a 2-D array, with a leading row and column of zeros.

    Parameters
    ----------
    x : ndarray, shape (rows, cols)
        bool, uint8, float32 or float64 values.

    Returns
    -------
    ndarray, shape (rows + 1, cols + 1)
        ``I[i, j] = sum x[:i, :j]``; int32 for bool input, float64 otherwise.
    """
    if x.dtype == np.bool_:
        return cv2.integral(np.ascontiguousarray(x).view(np.uint8), sdepth=cv2.CV_32S)
    return cv2.integral(np.ascontiguousarray(x), sdepth=cv2.CV_64F)


def window_sums(integral: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int) -> np.ndarray:
    """Sums of ``size`` x ``size`` windows whose top-left pixels are (rows, cols).

    Four gathers from an :func:`integral_image`, so only the windows asked for are
    computed: no frame-sized result.

    Parameters
    ----------
    integral : ndarray, shape (rows + 1, cols + 1)
        From :func:`integral_image`.
    rows, cols : ndarray of int
        Top-left pixels, any matching (broadcastable) shapes.
    size : int
        Window size in pixels.

    Returns
    -------
    ndarray of float64, shape of ``rows`` broadcast with ``cols``
    """
    r = np.asarray(rows)
    c = np.asarray(cols)
    out = integral[r + size, c + size].astype(np.float64)
    out -= integral[r, c + size]
    out -= integral[r + size, c]
    out += integral[r, c]
    return out
