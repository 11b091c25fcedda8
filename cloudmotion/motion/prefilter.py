"""Masks and pre-filters that never let NoData bleed into valid pixels.

References
----------
Knutsson, H. and Westin, C.-F. (1993). Normalized and differential convolution.
Proc. IEEE CVPR, 515-523.
"""

from __future__ import annotations

import cv2
import numpy as np

from cloudmotion import registry
from cloudmotion.registry import CHANNELS

__all__ = [
    "CHANNEL_METHODS",
    "EQUALIZERS",
    "filter_kernels",
    "gaussian_kernel",
    "normalized_bandpass",
    "normalized_gaussian",
    "prepare_frame",
    "reduce_channels",
    "valid_mask",
]

CHANNEL_METHODS = CHANNELS
"""Ways to reduce a multi-band frame to one channel (see :func:`reduce_channels`)."""

EQUALIZERS = registry.EQUALIZERS
"""Contrast equalisations before the spatial filter (see :func:`cloudmotion.motion.equalize.clahe`)."""


def valid_mask(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Combine a caller's validity mask with the finite-value test.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Frame values (any real dtype).
    mask : ndarray of bool, optional
        True where the pixel is valid. ``None`` means every finite pixel is valid.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
        True where the pixel is valid *and* finite (NaN and +-inf are never valid).
    """
    ok = np.isfinite(image)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != image.shape:
            raise ValueError(f"mask shape {mask.shape} differs from image shape {image.shape}")
        ok &= mask
    return ok


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The sampled 1-D Gaussian of the pre-filters (radius ``int(truncate sigma + 0.5)``), sum 1.

    Returns
    -------
    ndarray of float64, shape (2 radius + 1,)
        ``[1.0]`` for ``sigma`` <= 0.
    """
    if sigma <= 0:
        return np.ones(1)
    radius = int(truncate * sigma + 0.5)
    return cv2.getGaussianKernel(2 * radius + 1, sigma, cv2.CV_64F).ravel()


def filter_kernels(
    sigma: float, bandpass: tuple[float, float] | None = None, truncate: float = 4.0
) -> list[tuple[float, np.ndarray]]:
    """The pre-filter's 2-D kernel away from NoData, as ``sum_i w_i k_i k_i^T``.

    Parameters
    ----------
    sigma : float
        Gaussian standard deviation, px (used without ``bandpass``).
    bandpass : (float, float), optional
        ``(low, high)`` px of the difference-of-Gaussians band-pass.
    truncate : float
        Kernel half-width in standard deviations.

    Returns
    -------
    list of (float, ndarray)
        ``[(1, g_sigma)]``, or ``[(1, g_low), (-1, g_high)]`` for a band-pass; 1-D kernels
        of :func:`gaussian_kernel` (for :func:`cloudmotion.motion.expected_error.prefilter_noise_factors`).
    """
    if bandpass is None:
        return [(1.0, gaussian_kernel(sigma, truncate))]
    low, high = bandpass
    return [(1.0, gaussian_kernel(low, truncate)), (-1.0, gaussian_kernel(high, truncate))]


def normalized_gaussian(image: np.ndarray, mask: np.ndarray, sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing by normalised convolution, ``G*(x m) / G*m``.

    Invalid pixels contribute nothing and the kernel is renormalised over the valid
    ones, so NoData neither darkens nor brightens its neighbours. Filtering is along
    the two image axes only.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Frame values; invalid pixels may hold anything, including NaN.
    mask : ndarray of bool, shape (rows, cols)
        True where valid.
    sigma : float
        Standard deviation of the Gaussian in pixels; 0 returns a copy.
    truncate : float
        Kernel half-width in standard deviations.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Smoothed values at valid pixels, 0 at invalid pixels.
    """
    x = np.where(mask, image, 0).astype(np.float32, copy=False)  # np.where made a new array already
    if sigma <= 0:
        return x
    # separable sampled Gaussian, zeros outside the frame (as scipy.ndimage mode="constant"),
    # in float32 on values centred by their mean
    # (masked in-place ufuncs rather than boolean indexing: no gathered copies of the frame)
    kernel = gaussian_kernel(sigma, truncate)[:, None]
    m8 = mask.view(np.uint8)
    count = cv2.countNonZero(m8)
    offset = np.float32(x.sum(dtype=np.float64) / count) if count else np.float32(0)  # x is 0 where invalid
    np.subtract(x, offset, out=x, where=mask)
    num = cv2.sepFilter2D(x, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_CONSTANT)
    den = cv2.sepFilter2D(m8, cv2.CV_32F, kernel, kernel, borderType=cv2.BORDER_CONSTANT)
    x.fill(0)
    np.divide(num, den, out=x, where=mask & (den > 1e-6))
    np.add(x, offset, out=x, where=mask)
    return x


def normalized_bandpass(
    image: np.ndarray, mask: np.ndarray, low: float, high: float, *, truncate: float = 4.0
) -> np.ndarray:
    """Difference-of-Gaussians band-pass by normalised convolution, ``G_low*x - G_high*x``.

    Both Gaussians are normalised convolutions (:func:`normalized_gaussian`), so NoData
    neither bleeds into valid pixels nor makes an edge: near a gap the wide Gaussian is the
    mean of the valid neighbours only. The result removes structure larger than about
    ``high`` px (illumination ramps, limb darkening, diurnal heating) and noise finer than
    ``low`` px; its mean is about 0. Filtering is along the two image axes only.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Frame values; invalid pixels may hold anything, including NaN.
    mask : ndarray of bool, shape (rows, cols)
        True where valid.
    low, high : float
        Standard deviations of the narrow and the wide Gaussian, px, ``0 <= low < high``
        (``low`` 0: no smoothing, a pure high-pass).
    truncate : float
        Kernel half-width in standard deviations.

    Returns
    -------
    ndarray of float32, shape (rows, cols)
        Band-passed values at valid pixels, 0 at invalid pixels.

    References
    ----------
    Knutsson and Westin (1993), see the module; Raffel, M. et al. (2018). Particle Image
    Velocimetry, 3rd ed., Springer, sec. 6.1 (image pre-processing by band-pass filtering).
    """
    if not 0 <= low < high:
        raise ValueError(f"bandpass needs 0 <= LOW < HIGH, got {low}, {high}")
    offset = float(np.mean(image[mask], dtype=np.float64)) if mask.any() else 0.0
    x = np.where(mask, np.asarray(image, dtype=np.float64) - offset, 0.0)  # centred: float32 keeps the texture
    fine = normalized_gaussian(x, mask, low, truncate=truncate)
    fine -= normalized_gaussian(x, mask, high, truncate=truncate)
    fine[~mask] = 0
    return fine


def prepare_frame(
    image: np.ndarray,
    mask: np.ndarray | None,
    sigma: float,
    *,
    bandpass: tuple[float, float] | None = None,
    equalize: str = "none",
) -> tuple[np.ndarray, np.ndarray]:
    """Validity mask, optional contrast equalisation and the NoData-safe pre-filter.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        One channel (reduced by :func:`reduce_channels` before any filtering) in physical
        units (radiance, reflectance, brightness temperature).
    mask : ndarray of bool or None
        True where valid; combined with the finite test.
    sigma : float
        Gaussian pre-filter standard deviation in pixels (0 = no filter); not used when
        ``bandpass`` is given.
    bandpass : (float, float), optional
        ``(low, high)`` px: a difference-of-Gaussians band-pass
        (:func:`normalized_bandpass`) in place of the Gaussian.
    equalize : {"none", "clahe"}
        ``clahe``: local contrast equalisation over the valid pixels, in float
        (:func:`cloudmotion.motion.equalize.clahe`), before the filter.

    Returns
    -------
    filtered : ndarray of float32
        Filtered frame, 0 where invalid.
    valid : ndarray of bool
        Validity mask.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"a frame must be a 2-D array (rows, cols), got shape {image.shape}")
    if equalize not in EQUALIZERS:
        raise ValueError(f"unknown equalisation {equalize!r}; choose from {', '.join(EQUALIZERS)}")
    valid = valid_mask(image, mask)
    if equalize == "clahe":
        from cloudmotion.motion.equalize import clahe

        image = clahe(image, valid)
    if bandpass is not None:
        return normalized_bandpass(image, valid, *bandpass), valid
    return normalized_gaussian(image, valid, sigma), valid


def reduce_channels(stack: np.ndarray, valid: np.ndarray, method: str = "luminance") -> np.ndarray:
    """Reduce a (bands, rows, cols) stack to one channel, before any spatial filtering.

    Parameters
    ----------
    stack : ndarray, shape (bands, rows, cols)
        Band values in physical units; axis 0 is the channel axis.
    valid : ndarray of bool, shape (rows, cols)
        Pixels valid in every band.
    method : {"luminance", "pca", "mean"}
        ``luminance``: ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` of the first three
        bands (red, green, blue); ``mean``: the band average; ``pca``: the first principal
        component over the valid pixels, signed to correlate positively with the band
        mean (Jolliffe 2002, Principal Component Analysis, 2nd ed.).

    Returns
    -------
    ndarray of float64, shape (rows, cols)
        The channel; invalid pixels hold 0.
    """
    stack = np.asarray(stack, dtype=np.float64)
    if stack.ndim != 3:
        raise ValueError(f"need a (bands, rows, cols) stack, got shape {stack.shape}")
    if method == "luminance":
        if stack.shape[0] < 3:
            raise ValueError(f"luminance needs red, green and blue bands, got {stack.shape[0]} band(s)")
        out = 0.299 * stack[0] + 0.587 * stack[1] + 0.114 * stack[2]
    elif method == "mean":
        out = stack.mean(axis=0)
    elif method == "pca":
        x = stack[:, valid]
        if x.shape[1] < 2:
            out = stack.mean(axis=0)
        else:
            mu = x.mean(axis=1, keepdims=True)
            cov = np.cov(x - mu)
            _, vecs = np.linalg.eigh(np.atleast_2d(cov))
            w = vecs[:, -1]
            if w.sum() < 0:
                w = -w
            out = np.tensordot(w, stack - mu[:, :, None], axes=1)
    else:
        raise ValueError(f"unknown channel reduction {method!r}; choose from {CHANNEL_METHODS}")
    return np.where(valid, out, 0.0)
