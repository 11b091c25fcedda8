"""Result types of the peak search and the refinement, apart from the code that computes them.

Both stages return a frozen dataclass of per-template arrays whose first axis runs over
the N templates, ``dx`` and ``dy`` first: :class:`SearchResult` from
:func:`cloudmotion.motion.search.search_peaks`, :class:`RefineResult` from
:func:`cloudmotion.motion.refine.lucas_kanade`. A compiled implementation and its numpy
reference (:mod:`cloudmotion.motion.kernels.backend`) return the same type, imported
from here, so that a reference never imports the module it checks.

Conventions: ``dx`` along columns, ``dy`` along rows, + = increasing index, pixels,
from frame A to frame B.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Displacements", "RefineResult", "SearchResult"]


@dataclass(frozen=True, eq=False)
class Displacements:
    """Per-template displacements, the fields every stage result starts with.

    Code that needs only the displacements of a stage (a search or a refinement) can take
    a ``Displacements``; the subclasses add their stage's own fields after these.

    Attributes
    ----------
    dx, dy : ndarray of float64, shape (N,)
        Displacement along columns and rows, px; NaN where the stage found none.
    """

    dx: np.ndarray
    dy: np.ndarray


@dataclass(frozen=True, eq=False)
class SearchResult(Displacements):
    """Correlation peak of N templates (:func:`cloudmotion.motion.search.search_peaks`).

    Attributes
    ----------
    dx, dy : ndarray of float64, shape (N,)
        Sub-pixel peak, px; NaN where the peak is on the border of the search or undefined.
    corr : ndarray of float64, shape (N,)
        Peak correlation coefficient; NaN when no lag is defined.
    second : ndarray of float64, shape (N,)
        Best competing local maximum more than 2 px (Chebyshev) from the peak; NaN if none.
    valid : ndarray of float64, shape (N,)
        Valid fraction of the template.
    std : ndarray of float64, shape (N,)
        Template standard deviation over the frame's (``frame_std``).
    border : ndarray of bool, shape (N,)
        The peak is on the edge of the search or next to an undefined lag.
    corr0 : ndarray of float64, shape (N,)
        Coefficient at lag 0 (NaN when undefined).
    limit : ndarray of bool, shape (N,)
        The peak is on the edge of the search range itself (``|lag| == search``).
    """

    corr: np.ndarray
    second: np.ndarray
    valid: np.ndarray
    std: np.ndarray
    border: np.ndarray
    corr0: np.ndarray
    limit: np.ndarray


@dataclass(frozen=True, eq=False)
class RefineResult(Displacements):
    """Lucas-Kanade refinement of N windows (:func:`cloudmotion.motion.refine.lucas_kanade`).

    Attributes
    ----------
    dx, dy : ndarray of float64, shape (N,)
        Refined displacement, px. Where ``failed`` is True, the starting estimate is
        returned unchanged.
    iterations : ndarray of int, shape (N,)
        Gauss-Newton iterations used.
    min_eig : ndarray of float64, shape (N,)
        Smallest eigenvalue of the structure tensor divided by the number of pixels
        used and by the frame's mean squared gradient: a unit-free texture measure.
    converged, failed : ndarray of bool, shape (N,)
        ``converged``: the last update was below ``tol``. ``failed``: not converged,
        ill-conditioned, or moved further than ``max_move`` from the start.
    tensor : ndarray of float64, shape (N, 3)
        Structure tensor ``(sum gx^2, sum gx gy, sum gy^2)`` over the template.
    moments : ndarray of float64, shape (N, 2, 3)
        First moments of the tensor, ``sum G(p) o_k(p)`` for the offset from the template
        centre along columns (k = 0) and rows (k = 1); see
        :func:`cloudmotion.motion.refine.gradient_bias`.
    sigma : ndarray of float64, shape (N,)
        Predicted standard error of the displacement along its worst direction, px:
        ``sqrt(s2 / lambda_min(H))`` with ``s2`` the residual variance at the last
        iteration (the Gauss-Newton covariance ``s2 H^-1``). Large where noise swamps
        the texture.
    """

    iterations: np.ndarray
    min_eig: np.ndarray
    converged: np.ndarray
    failed: np.ndarray
    tensor: np.ndarray
    moments: np.ndarray
    sigma: np.ndarray
