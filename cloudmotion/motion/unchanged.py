"""Unchanged data: templates whose informative pixels hold the same stored values in both frames.

A radar mosaic whose tiles were not refreshed between two scans, or a frame written twice,
gives templates that correlate at 1.00 with no motion and a tiny expected error: they
measured nothing. The test runs on the *stored* values (before scale, offset, calibration
and the pre-filter), where "the same" means bit-identical, so two different measurements
that happen to round to the same float are not mistaken for a repeat.

Only informative pixels count: valid in both frames, outside any static plateau
(:mod:`cloudmotion.motion.plateau`) and not the frame's background value in both frames
(the zero background of particle images, a radar's no-echo value), so sparse texture
moving over an unchanged background is judged by the texture alone.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.grid import integral_image, window_sums

__all__ = [
    "BACKGROUND_SHARE",
    "IDENTICAL_SHARE",
    "background_value",
    "identical_map",
    "informative_pixels",
    "unchanged_pair",
    "unchanged_templates",
]

BACKGROUND_SHARE = 0.2
"""A frame's most common value is its background when it covers at least this share of the valid pixels."""

IDENTICAL_SHARE = 0.9
"""A template is unchanged when at least this share of its informative pixels are identical."""

_SAMPLE = 7
"""The candidate background value is the mode of every 7th valid pixel; its share is then counted exactly."""


def _plane(raw: np.ndarray) -> np.ndarray:
    return raw if raw.ndim == 2 else raw[0]


def background_value(raw: np.ndarray, valid: np.ndarray) -> float | None:
    """The frame's background value: its most common stored value, when it covers a large share.

    Parameters
    ----------
    raw : ndarray, shape (rows, cols) or (bands, rows, cols)
        Stored values (the first band decides for several bands).
    valid : ndarray of bool, shape (rows, cols)

    Returns
    -------
    float or None
        The value, when it covers at least :data:`BACKGROUND_SHARE` of the valid pixels.
    """
    values = _plane(raw)[valid]
    if values.size == 0:
        return None
    sample = values[::_SAMPLE]
    sample = sample[np.isfinite(sample)] if sample.dtype.kind == "f" else sample
    if sample.size == 0:
        return None
    u, counts = np.unique(sample, return_counts=True)
    mode = u[np.argmax(counts)]
    share = np.count_nonzero(values == mode) / values.size
    return float(mode) if share >= BACKGROUND_SHARE else None


def identical_map(raw_a: np.ndarray, raw_b: np.ndarray) -> np.ndarray:
    """Pixels whose stored values are bit-identical in A and B (every band), shape (rows, cols).

    NaN is never identical (it is not a measurement).
    """
    raw_a, raw_b = np.asarray(raw_a), np.asarray(raw_b)
    if raw_a.shape != raw_b.shape or raw_a.dtype != raw_b.dtype:
        shape = raw_a.shape[-2:]
        return np.zeros(shape, dtype=bool)
    same = raw_a == raw_b
    return same if same.ndim == 2 else np.logical_and.reduce(same, axis=0)


def unchanged_templates(
    identical: np.ndarray,
    informative: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    *,
    share: float = IDENTICAL_SHARE,
) -> np.ndarray:
    """The UNCHANGED rule per template, from two summed-area tables (no loop over templates).

    Parameters
    ----------
    identical : ndarray of bool, shape (rows, cols)
        :func:`identical_map` of the pair.
    informative : ndarray of bool, shape (rows, cols)
        Pixels that carry information (see :func:`informative_pixels`).
    rows, cols : ndarray of int, shape (N,)
        Top-left pixels of the templates.
    window : int
        Template size, px.
    share : float
        Smallest identical share of the informative pixels.

    Returns
    -------
    ndarray of bool, shape (N,)
        True where the template has informative pixels and at least ``share`` of them are identical.
    """
    n_info = window_sums(integral_image(informative), rows, cols, window)
    n_same = window_sums(integral_image(informative & identical), rows, cols, window)
    return (n_info > 0) & (n_same >= share * n_info)


def informative_pixels(
    raw_a: np.ndarray,
    raw_b: np.ndarray,
    valid: np.ndarray,
    plateau: np.ndarray | None,
    background: tuple[float | None, float | None],
) -> np.ndarray:
    """Valid pixels outside any plateau that are not background in both frames.

    Parameters
    ----------
    raw_a, raw_b : ndarray
        Stored values, (rows, cols) or (bands, rows, cols).
    valid : ndarray of bool
        Valid in both frames.
    plateau : ndarray of bool or None
        Plateau pixels of either frame.
    background : (float or None, float or None)
        :func:`background_value` of A and of B.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
    """
    out = valid.copy() if plateau is None else valid & ~plateau
    bg_a, bg_b = background
    if bg_a is not None and bg_b is not None:
        out &= ~((_plane(raw_a) == bg_a) & (_plane(raw_b) == bg_b))
    return out


def unchanged_pair(
    raw_a: np.ndarray,
    raw_b: np.ndarray,
    valid: np.ndarray,
    plateau: np.ndarray | None,
    background: tuple[float | None, float | None],
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
) -> np.ndarray:
    """UNCHANGED per template of a pair: :func:`informative_pixels`, :func:`identical_map`, then the rule.

    Parameters are those of :func:`informative_pixels` and :func:`unchanged_templates`.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    informative = informative_pixels(raw_a, raw_b, valid, plateau, background)
    return unchanged_templates(identical_map(raw_a, raw_b), informative, rows, cols, window)
