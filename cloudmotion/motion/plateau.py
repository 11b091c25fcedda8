"""Static plateaus: one repeated exact value over a region (fill, saturation, outside coverage).

A radar composite writes 255 outside its coverage, an MRMS mosaic -3, a sensor saturates at
its largest count. If such a value is not declared as NoData, the plateau's boundary with
real data is a strong, perfectly static edge: templates on it correlate at 1.00 with no
motion and would pass as excellent vectors. This module finds such plateaus
(:func:`find_plateaus`), the pixels whose filtered value they influence
(:func:`static_exclusion`), and the per-template rule (:func:`static_templates`): a template
whose texture comes from a static plateau and its boundary is never a good vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cloudmotion.grid import integral_image, window_sums

__all__ = [
    "Plateau",
    "find_plateaus",
    "misregistration",
    "plateau_mask",
    "plateau_warning",
    "standing_plateau",
    "static_exclusion",
    "static_templates",
]

BORDER_SHARE = 0.01
"""Smallest share of the frame for a plateau region that touches the frame's border."""

LARGE_SHARE = 0.05
"""Smallest share of the frame for a plateau region anywhere."""

STANDING_SHARE = 0.5
"""A plateau region stands still when at least this share of its boundary pixels are boundary in both frames."""

WARN_SHARE = 0.05
"""Share of the frame above which ``info`` and ``track`` warn about a plateau value."""


@dataclass(frozen=True)
class Plateau:
    """One exact value repeated over contiguous regions of a frame.

    Attributes
    ----------
    value : float
        The repeated value (in the units of the array searched).
    share : float
        Share of the frame's pixels in the plateau's qualifying regions, in (0, 1].
    regions : int
        Number of qualifying contiguous regions.
    touches_border : bool
        One of them touches the frame's border.
    """

    value: float
    share: float
    regions: int
    touches_border: bool


def _candidates(image: np.ndarray, valid: np.ndarray, min_pixels: int) -> np.ndarray:
    """Values that are flat (equal to their 4 neighbours) on at least ``min_pixels`` pixels."""
    x = image
    flat = valid.copy()
    flat[1:, :] &= x[1:, :] == x[:-1, :]
    flat[:-1, :] &= x[:-1, :] == x[1:, :]
    flat[:, 1:] &= x[:, 1:] == x[:, :-1]
    flat[:, :-1] &= x[:, :-1] == x[:, 1:]
    vals = x[flat]
    if vals.size < min_pixels:
        return vals[:0]
    u, counts = np.unique(vals, return_counts=True)
    return u[counts >= min_pixels]


def _regions(image: np.ndarray, valid: np.ndarray, value: float, border_px: int, large_px: int):
    """Qualifying regions of one value: (mask, count, touches border)."""
    eq = valid & (image == value)
    # 4-connected labels in one compiled pass (scipy.ndimage.label's default structure)
    count, lab = cv2.connectedComponents(eq.view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    n = count - 1
    if n == 0:
        return np.zeros_like(eq), 0, False
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    edge = np.zeros(n + 1, dtype=bool)
    edge[np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))] = True
    keep = (edge & (sizes >= border_px)) | (sizes >= large_px)
    keep[0] = False
    return keep[lab], int(keep.sum()), bool((keep & edge).any())


def find_plateaus(
    image: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    border_share: float = BORDER_SHARE,
    large_share: float = LARGE_SHARE,
) -> tuple[list[Plateau], np.ndarray]:
    """Find the static-plateau values of a frame and their pixels.

    A plateau is a contiguous region (4-connected) of valid pixels holding one exact value
    that either touches the frame's border and covers at least ``border_share`` of the
    frame, or covers at least ``large_share`` of it anywhere. Natural textures in floating
    point or in many-level counts do not repeat one value over such regions; fill,
    saturation and outside-coverage values do.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Raw frame values (before any filter), any real dtype.
    valid : ndarray of bool, optional
        Pixels already known valid (declared NoData excluded); default all finite.
    border_share, large_share : float
        Thresholds as shares of the frame's pixel count.

    Returns
    -------
    plateaus : list of Plateau
        Largest first.
    mask : ndarray of bool, shape (rows, cols)
        True on the plateaus' qualifying regions.
    """
    image = np.asarray(image)
    valid = np.isfinite(image) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(image)
    total = image.size
    border_px = max(1, int(np.ceil(border_share * total)))
    large_px = max(1, int(np.ceil(large_share * total)))
    mask = np.zeros(image.shape, dtype=bool)
    found = []
    for value in _candidates(image, valid, border_px):
        m, regions, edge = _regions(image, valid, value, border_px, large_px)
        if regions:
            mask |= m
            found.append(
                Plateau(value=float(value), share=float(m.sum()) / total, regions=regions, touches_border=edge)
            )
    found.sort(key=lambda p: -p.share)
    return found, mask


def plateau_mask(image: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Pixels on static plateaus (see :func:`find_plateaus`), shape of ``image``."""
    return find_plateaus(image, valid)[1]


def plateau_warning(plateaus: list[Plateau], *, min_share: float = WARN_SHARE) -> list[str]:
    """Warning lines for plateaus that cover a large share of the frame in a region touching the border.

    Example: ``value 255 covers 68 % of the frame in one region touching the border: if it is
    NoData, pass --nodata 255``.
    """
    out = []
    for p in plateaus:
        if p.touches_border and p.share >= min_share:
            v = f"{p.value:g}"
            where = "one region" if p.regions == 1 else f"{p.regions} regions"
            out.append(
                f"value {v} covers {100 * p.share:.0f} % of the frame in {where} touching the border: "
                f"if it is NoData, pass --nodata {v}"
            )
    return out


def static_exclusion(plateau_a: np.ndarray, plateau_b: np.ndarray, sigma: float) -> np.ndarray:
    """Pixels of frame A whose filtered value or gradient depends on a static plateau.

    The static part is the plateau present at the same pixels in both frames whose
    boundary stands still (:func:`standing_plateau`); the band around its *static edge*
    (edge pixels of the plateau in both frames), as wide as the pre-filter's kernel (radius
    ``4 sigma``, as
    :func:`cloudmotion.motion.prefilter.normalized_gaussian`) plus one pixel for the central
    difference, carries the plateau's edge into the data. An edge that moves between the
    frames (a zero background around moving radar echoes, a saturated cloud top drifting)
    is texture that moves with the scene, and stays.

    Parameters
    ----------
    plateau_a, plateau_b : ndarray of bool
        :func:`plateau_mask` of each frame.
    sigma : float
        Pre-filter standard deviation, px.

    Returns
    -------
    ndarray of bool
    """
    static = standing_plateau(plateau_a, plateau_b)
    if not static.any():
        return static
    still = np.ascontiguousarray(
        _boundary(np.asarray(plateau_a, dtype=bool)) & _boundary(np.asarray(plateau_b, dtype=bool))
    )
    radius = (int(4.0 * sigma + 0.5) if sigma > 0 else 0) + 1
    k = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    band = cv2.dilate(still.view(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    return static | band


def _boundary(plateau: np.ndarray) -> np.ndarray:
    """Plateau pixels with a 4-neighbour off the plateau (the frame's own border does not count)."""
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    p = np.ascontiguousarray(plateau, dtype=bool)
    inner = cv2.erode(p.view(np.uint8), cross, borderType=cv2.BORDER_CONSTANT, borderValue=1).view(bool)
    return p & ~inner


def standing_plateau(plateau_a: np.ndarray, plateau_b: np.ndarray, *, share: float = STANDING_SHARE) -> np.ndarray:
    """Plateau pixels present in both frames whose plateau region's boundary stands still.

    Space beyond the Earth's limb or a radar's out-of-range area has the same boundary in
    both frames: its edge is a static feature. The zero background of a particle image is
    a plateau too, but its boundary is the particles' outlines, which move with them: that
    edge is the motion itself. Each connected region of the union of both frames' plateaus
    stands still when at least ``share`` of its boundary pixels (of either frame) are
    boundary pixels in both (one label pass and two bincounts, no loop over regions).

    Parameters
    ----------
    plateau_a, plateau_b : ndarray of bool, shape (rows, cols)
        :func:`plateau_mask` of each frame.
    share : float
        Smallest standing share of a region's boundary.

    Returns
    -------
    ndarray of bool, shape (rows, cols)
        Pixels in both plateaus, in regions whose boundary stands still.
    """
    pa, pb = np.asarray(plateau_a, dtype=bool), np.asarray(plateau_b, dtype=bool)
    both = pa & pb
    if not both.any():
        return both
    ea, eb = _boundary(pa), _boundary(pb)
    count, lab = cv2.connectedComponents((pa | pb).view(np.uint8), connectivity=4)
    n = count - 1
    edges = np.bincount(lab[ea | eb], minlength=n + 1)
    standing = np.bincount(lab[ea & eb], minlength=n + 1)
    still = standing >= share * edges  # a region without a boundary (the whole frame) stands still
    still[0] = False
    return both & still[lab]


def misregistration(tensor: np.ndarray, residual_var: np.ndarray, count: np.ndarray, *, noise_var: float) -> np.ndarray:
    """The displacement error that would explain a template's residual beyond the pair's noise, px.

    A translation error ``delta`` leaves a residual ``grad(A) . delta`` of variance about
    ``delta^2 tr(H) / (2 n)``; inverting it, ``delta = sqrt(2 n max(s2 - noise, 0) / tr(H))``.
    It bounds what a template's own texture can say about a displacement another part of
    the template imposed (a static plateau edge): it is not an error estimate on its own,
    since warping and cloud evolution also leave residuals.

    Parameters
    ----------
    tensor, residual_var, count : ndarray
        As for :func:`cloudmotion.motion.expected_error.expected_error`.
    noise_var : float
        The pair's residual noise variance.

    Returns
    -------
    ndarray of float64, px (inf where the template has no gradient)
    """
    tensor = np.asarray(tensor, dtype=np.float64)
    tr = tensor[:, 0] + tensor[:, 2]
    excess = np.maximum(np.nan_to_num(np.asarray(residual_var, dtype=np.float64), nan=0.0) - noise_var, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tr > 0, np.sqrt(2.0 * np.asarray(count, dtype=np.float64) * excess / tr), np.inf)


def static_templates(
    exclude: np.ndarray,
    valid_a: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    *,
    ee_without: np.ndarray,
    min_valid: float,
    max_error: float,
) -> np.ndarray:
    """The STATIC rule per template.

    A template that holds static-plateau pixels (``exclude``) is judged on what remains once
    they are treated as NoData: it is STATIC when the remaining valid fraction is below
    ``min_valid`` or the expected error computed without them (``ee_without``; the tracker
    passes the larger of ``ee`` and :func:`misregistration`, so the
    remaining texture must itself agree with the displacement) exceeds ``max_error``. Its texture then comes from the plateau and its boundary, identical in
    both frames, and it is never a good vector.

    Parameters
    ----------
    exclude : ndarray of bool, shape (rows, cols)
        :func:`static_exclusion`.
    valid_a : ndarray of bool
        Validity of frame A.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixels of the templates.
    window : int
        Template size, px.
    ee_without : ndarray, shape (N,)
        Expected error with the excluded pixels left out, px (NaN = not computable).
    min_valid, max_error : float
        The tracker's thresholds.

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    if not exclude.any():
        return np.zeros(len(rows), dtype=bool)
    touched = window_sums(integral_image(exclude), rows, cols, window) > 0
    remaining = window_sums(integral_image(valid_a & ~exclude), rows, cols, window) / float(window * window)
    fails = (remaining < min_valid) | ~(np.asarray(ee_without) <= max_error)
    return touched & fails
