"""Known motion for tests, benchmarks and sample data: textures, flow fields and warps.

All fields are displacement fields in pixels on the (rows, cols) grid of the frame:
``dx`` along columns and ``dy`` along rows, the motion from frame A to frame B of the
feature that sits at each pixel of frame A.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = [
    "add_noise",
    "correlated_noise",
    "evolve",
    "radar_echoes",
    "uniform_field",
    "vortex_shear_field",
    "warp",
]


def correlated_noise(shape: tuple[int, int], corr_length: float, *, seed: int = 0) -> np.ndarray:
    """Spatially correlated Gaussian noise made by FFT filtering of white noise.

    Parameters
    ----------
    shape : (int, int)
        Output shape (rows, cols).
    corr_length : float
        Standard deviation in pixels of the Gaussian filter applied in the Fourier domain
        (the texture's correlation length).
    seed : int
        Random seed.

    Returns
    -------
    ndarray of float64
        Zero mean, unit standard deviation.
    """
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(shape)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    gain = np.exp(-2.0 * (np.pi * corr_length) ** 2 * (kx**2 + ky**2))
    field = np.fft.irfft2(np.fft.rfft2(white) * gain, s=shape)
    return (field - field.mean()) / field.std()


def uniform_field(shape: tuple[int, int], dx: float, dy: float) -> tuple[np.ndarray, np.ndarray]:
    """A constant displacement (dx along columns, dy along rows), in pixels."""
    return np.full(shape, float(dx)), np.full(shape, float(dy))


def vortex_shear_field(
    shape: tuple[int, int],
    *,
    strength: float = 4.0,
    radius: float | None = None,
    shear: float = 2.0,
    drift: tuple[float, float] = (0.0, 0.0),
    centre: tuple[float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth vortex plus a linear shear plus a drift.

    The vortex turns counter-clockwise on the image (rows down) with tangential
    displacement ``strength * (r / R) * exp((1 - (r / R)**2) / 2)``, which peaks at
    ``strength`` pixels at radius ``R``. The shear adds ``dx = shear * (row - rc) / (rows / 2)``.

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    strength : float
        Peak tangential displacement of the vortex, px.
    radius : float, optional
        Radius of the peak, px; default a fifth of the smaller side.
    shear : float
        Column displacement at the top and bottom edges relative to the centre, px.
    drift : (float, float)
        Uniform (dx, dy) added everywhere, px.
    centre : (float, float), optional
        Vortex centre (row, col); default the frame centre.

    Returns
    -------
    dx, dy : ndarray of float64
    """
    rows, cols = shape
    rc, cc = centre if centre is not None else ((rows - 1) / 2.0, (cols - 1) / 2.0)
    big_r = radius if radius is not None else min(shape) / 5.0
    rr, cc_ = np.mgrid[0:rows, 0:cols].astype(np.float64)
    y, x = rr - rc, cc_ - cc
    r = np.hypot(x, y) / big_r
    vt = strength * r * np.exp(0.5 * (1.0 - r * r))
    with np.errstate(invalid="ignore", divide="ignore"):
        ux = np.where(r > 0, vt * y / (r * big_r), 0.0)
        uy = np.where(r > 0, -vt * x / (r * big_r), 0.0)
    ux += shear * y / (rows / 2.0) + drift[0]
    uy += drift[1]
    return ux, uy


def warp(image: np.ndarray, dx: np.ndarray, dy: np.ndarray, *, order: int = 3, iterations: int = 8) -> np.ndarray:
    """Move every feature of ``image`` by its displacement: ``B(p + d(p)) = A(p)``.

    For each output pixel ``p`` the source ``q`` solving ``q + d(q) = p`` is found by
    fixed-point iteration (exact for uniform fields, converging for smooth fields whose
    displacement gradient is well below 1), then A is sampled at ``q`` with a spline of
    the given order. Pixels whose source falls outside A take the nearest edge value.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Frame A.
    dx, dy : ndarray, shape (rows, cols)
        Displacement of the feature at each pixel of A, px.
    order : int
        Spline order of the resampling (3 = cubic).
    iterations : int
        Fixed-point iterations.

    Returns
    -------
    ndarray of float64
        Frame B.
    """
    rows, cols = image.shape
    pr, pc = np.mgrid[0:rows, 0:cols].astype(np.float64)
    qr, qc = pr - dy, pc - dx
    for _ in range(iterations):
        uy = ndimage.map_coordinates(dy, [qr, qc], order=1, mode="nearest")
        ux = ndimage.map_coordinates(dx, [qr, qc], order=1, mode="nearest")
        qr, qc = pr - uy, pc - ux
    return ndimage.map_coordinates(np.asarray(image, dtype=np.float64), [qr, qc], order=order, mode="nearest")


def add_noise(a: np.ndarray, b: np.ndarray, level: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Independent Gaussian noise on both frames of a pair, as ``synth --noise`` adds it.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Frames A and B (NaN = NoData, kept).
    level : float
        Noise standard deviation as a share of frame A's (0.02 = 2 %); 0 returns the frames.
    seed : int
        Seed of the noise generator.

    Returns
    -------
    a, b : ndarray of float64
    """
    if level == 0:
        return a, b
    rng = np.random.default_rng(seed)
    sd = level * float(np.nanstd(a))
    return a + sd * rng.standard_normal(a.shape), b + sd * rng.standard_normal(b.shape)


def evolve(b: np.ndarray, scale: float, amplitude: float, *, seed: int = 0) -> np.ndarray:
    """Growth and decay: a spatially correlated change of brightness added to frame B.

    Parameters
    ----------
    b : ndarray, shape (rows, cols)
        Frame B (already moved by the known flow).
    scale : float
        Correlation length of the change, px (:func:`correlated_noise`).
    amplitude : float
        Standard deviation of the change as a share of frame B's (0.1 = 10 %).
    seed : int
        Seed of the change field.

    Returns
    -------
    ndarray of float64
    """
    if amplitude == 0:
        return np.asarray(b, dtype=np.float64)
    return b + amplitude * float(np.nanstd(b)) * correlated_noise(b.shape, scale, seed=seed)


def radar_echoes(
    shape: tuple[int, int],
    motion: tuple[float, float] = (18.0, -9.0),
    *,
    growth: float = 2.0,
    growth_scale: float = 16.0,
    step: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A radar-like pair: smooth echoes (dBZ) on a zero background, quantised, moving and evolving.

    Echoes are a sum of correlated fields of 6 and 24 px (1.5 and 6 km on a 250 m grid),
    thresholded so that about a third of the frame holds echo, rising from 0 to about
    50 dBZ; frame B is frame A moved by ``motion`` plus a weak shear (2 px across the frame),
    changed by a correlated growth-and-decay field of ``growth`` dBZ standard deviation,
    and both frames are quantised to ``step`` dBZ (values below ``step`` are 0).

    Parameters
    ----------
    shape : (int, int)
        Frame shape (rows, cols).
    motion : (float, float)
        Mean displacement (dx, dy), px per frame.
    growth : float
        Standard deviation of the growth-and-decay field, dBZ.
    growth_scale : float
        Its correlation length, px.
    step : float
        Quantisation step, dBZ.
    seed : int
        Seed of the echo and growth fields.

    Returns
    -------
    a, b : ndarray of float64
        Frames A and B, dBZ.
    flow : (ndarray, ndarray)
        The known displacement field (dx, dy), px.
    """
    field = 0.6 * correlated_noise(shape, 24.0, seed=seed) + 0.4 * correlated_noise(shape, 6.0, seed=seed + 1)
    field /= field.std()
    dbz = np.clip(22.0 * (field - 0.45), 0.0, None)  # about a third of the frame above 0.45 sd
    dxf, dyf = vortex_shear_field(shape, strength=0.0, shear=1.0, drift=motion)
    moved = warp(dbz, dxf, dyf)
    change = growth * correlated_noise(shape, growth_scale, seed=seed + 2)
    b = np.where(moved > 0, np.clip(moved + change, 0.0, None), 0.0)  # echoes grow and decay, nothing appears
    a = np.round(dbz / step) * step
    b = np.round(b / step) * step
    return a, b, (dxf, dyf)
