"""Float Lucas-Kanade refinement of window displacements (a compiled kernel, threads over windows).

Each template of frame A is matched to frame B under a pure translation by inverse
compositional Gauss-Newton iterations (Baker & Matthews 2004): the 2x2 structure tensor
``H = sum m grad(A) grad(A)^T`` is built from the template's own gradient, B is warped by
the current displacement with a separable bicubic (Keys) or bilinear kernel, and the
update is ``delta = H^-1 sum m grad(A) (B_warped - A)``, ``d <- d - delta``. The warped
window is brought to the template's mean and standard deviation at every step, so
brightness and contrast changes between frames do not bias the result. Everything stays
in floating point (OpenCV's pyramidal LK needs 8-bit input and loses precision).

References
----------
Lucas, B. D. and Kanade, T. (1981). An iterative image registration technique with an
application to stereo vision. Proc. IJCAI, 674-679.
Baker, S. and Matthews, I. (2004). Lucas-Kanade 20 years on: a unifying framework.
Int. J. Computer Vision 56(3), 221-255.
Keys, R. (1981). Cubic convolution interpolation for digital image processing.
IEEE Trans. ASSP 29(6), 1153-1160.
"""

from __future__ import annotations

import cv2
import numpy as np

from cloudmotion.grid import bicubic_support
from cloudmotion.motion.kernels.backend import implementation
from cloudmotion.motion.results import RefineResult
from cloudmotion.registry import INTERPOLATIONS

__all__ = [
    "INTERPOLATIONS",
    "RefineResult",
    "frame_gradients",
    "gradient_bias",
    "lucas_kanade",
    "lucas_kanade_compiled",
]


def frame_gradients(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central-difference gradients of a frame, valid only where both neighbours are valid.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Pre-filtered frame.
    mask : ndarray of bool, shape (rows, cols)
        True where valid.

    Returns
    -------
    gy, gx : ndarray of float32
        d/drow and d/dcol in value units per pixel, 0 where undefined.
    gmask : ndarray of bool
        True where both gradients are defined (valid 3x3 cross around the pixel).

    Notes
    -----
    Runs the ``gradients`` stage of :mod:`cloudmotion.motion.kernels.backend` (compiled, or
    its numpy reference inside ``reference_kernels()``).
    """
    gy, gx, gmask = implementation("gradients")(
        np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(mask, dtype=bool)
    )
    return gy, gx, gmask


def lucas_kanade(
    a: np.ndarray,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray],
    mask_a: np.ndarray,
    b: np.ndarray,
    mask_b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    dx0: np.ndarray,
    dy0: np.ndarray,
    *,
    max_iter: int = 20,
    tol: float = 1e-3,
    max_move: float = 1.5,
    min_eig: float = 1e-3,
    interpolation: str = "bicubic",
    chunk: int = 4096,
    threads: int | None = None,
    offset: float | None = None,
) -> RefineResult:
    """Refine window displacements from a starting estimate by float Lucas-Kanade.

    Runs the ``refine`` stage of :mod:`cloudmotion.motion.kernels.backend`:
    :func:`lucas_kanade_compiled` (a compiled kernel, threads over windows), or inside
    ``reference_kernels()`` its numpy reference
    :func:`cloudmotion.motion.references.refine.lucas_kanade_numpy`, which agree to rounding.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Pre-filtered frames A and B (same shape), 0 where invalid.
    grads : (gy, gx, gmask)
        :func:`frame_gradients` of ``a``.
    mask_a, mask_b : ndarray of bool
        Validity of A and B.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template in A.
    window : int
        Template size in pixels.
    dx0, dy0 : ndarray of float, shape (N,)
        Starting displacement in pixels (e.g. the correlation peak); NaN entries are
        returned as NaN and marked failed.
    max_iter : int
        Iteration cap.
    tol : float
        Convergence tolerance on the update length, pixels.
    max_move : float
        A result further than this from the start (pixels) is rejected.
    min_eig : float
        Smallest accepted unit-free structure-tensor eigenvalue (see ``RefineResult``).
    interpolation : {"bicubic", "bilinear"}
        Kernel used to warp B.
    chunk : int
        Windows processed at once by the numpy reference (the kernel needs no chunking).
    threads : int, optional
        Kernel threads; default the cores available (unused by the reference).
    offset : float, optional
        ``np.mean(a[mask_a])`` when the caller has it already (saves a gathered copy of A).

    Returns
    -------
    RefineResult
    """
    return implementation("refine")(
        a,
        grads,
        mask_a,
        b,
        mask_b,
        rows,
        cols,
        window,
        dx0,
        dy0,
        max_iter=max_iter,
        tol=tol,
        max_move=max_move,
        min_eig=min_eig,
        interpolation=interpolation,
        chunk=chunk,
        threads=threads,
        offset=offset,
    )


def lucas_kanade_compiled(
    a: np.ndarray,
    grads: tuple[np.ndarray, np.ndarray, np.ndarray],
    mask_a: np.ndarray,
    b: np.ndarray,
    mask_b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    dx0: np.ndarray,
    dy0: np.ndarray,
    *,
    max_iter: int = 20,
    tol: float = 1e-3,
    max_move: float = 1.5,
    min_eig: float = 1e-3,
    interpolation: str = "bicubic",
    chunk: int = 4096,
    threads: int | None = None,
    offset: float | None = None,
) -> RefineResult:
    """The ``refine`` stage compiled: :func:`cloudmotion.motion.kernels.lucas_kanade.lk_refine` in threads.

    The iterations of :func:`cloudmotion.motion.references.refine.lucas_kanade_numpy` (the first
    release's vectorised numpy path), with float64 sums and no frame-sized temporaries.
    Parameters and result as :func:`lucas_kanade`; ``chunk`` is unused.
    """
    from cloudmotion.motion.kernels.jit import split_run
    from cloudmotion.motion.kernels.lucas_kanade import lk_refine

    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose from {INTERPOLATIONS}")
    dx0 = np.asarray(dx0, dtype=np.float64)
    dy0 = np.asarray(dy0, dtype=np.float64)
    start_ok = np.isfinite(dx0) & np.isfinite(dy0)
    gy, gx, gmask = (np.ascontiguousarray(g) for g in grads)
    # mean of (gx^2 + gy^2) / 2 over gmask, summed in float64 by OpenCV without a gathered copy
    inside = np.ascontiguousarray(gmask).view(np.uint8)
    count = cv2.countNonZero(inside)
    g2 = 0.0
    if count:
        g2 = (cv2.norm(gx, cv2.NORM_L2SQR, mask=inside) + cv2.norm(gy, cv2.NORM_L2SQR, mask=inside)) / count / 2.0
    g2 = g2 if g2 > 0 else 1.0
    if offset is None:
        offset = float(np.mean(a[mask_a])) if mask_a.any() else 0.0
    support = bicubic_support(mask_b)
    dx, dy = dx0.copy(), dy0.copy()
    head = (
        np.ascontiguousarray(a, dtype=np.float32),
        gy.astype(np.float32, copy=False),
        gx.astype(np.float32, copy=False),
        gmask,
        np.ascontiguousarray(b, dtype=np.float32),
        support,
    )
    per = (np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(cols, dtype=np.int64), dx, dy)
    # dx, dy are refined in place, part by part
    its, eig, conv, tensor, moments, sigma = split_run(
        lk_refine,
        threads,
        head,
        per,
        (window, max_iter, tol, max_move, min_eig, interpolation == "bicubic", g2, offset),
    )
    moved = np.hypot(dx - dx0, dy - dy0) > max_move
    failed = ~start_ok | ~conv | moved | ~(eig >= min_eig)
    dx = np.where(failed & start_ok, dx0, dx)
    dy = np.where(failed & start_ok, dy0, dy)
    return RefineResult(
        dx=dx,
        dy=dy,
        iterations=its,
        min_eig=eig,
        converged=conv,
        failed=failed,
        tensor=tensor,
        moments=moments,
        sigma=sigma,
    )


def gradient_bias(tensor: np.ndarray, moments: np.ndarray, jacobian: np.ndarray) -> np.ndarray:
    """First-order bias of a translation-only estimate inside a non-uniform flow.

    A translation fitted by Lucas-Kanade to a window whose true displacement varies as
    ``d(p) = d(c) + J (p - c)`` converges to ``d(c) + H^-1 sum_p G(p) J (p - c)``, with
    ``G(p) = grad A grad A^T`` and ``H = sum_p G(p)``: the texture pulls the estimate
    towards where the gradients are strongest. Subtracting this term recovers the
    displacement at the window centre to first order (it is what an affine
    Lucas-Kanade would give, at the cost of a translation one).

    Parameters
    ----------
    tensor : ndarray, shape (N, 3)
        ``RefineResult.tensor``.
    moments : ndarray, shape (N, 2, 3)
        ``RefineResult.moments``.
    jacobian : ndarray, shape (N, 2, 2)
        ``[[ddx/dcol, ddx/drow], [ddy/dcol, ddy/drow]]`` of the displacement field,
        pixels per pixel.

    Returns
    -------
    ndarray of float64, shape (N, 2)
        Bias (dx, dy) in pixels to subtract from the estimate; 0 where H is singular.
    """

    def as_matrix(t: np.ndarray) -> np.ndarray:
        return np.stack([t[..., 0], t[..., 1], t[..., 1], t[..., 2]], axis=-1).reshape(t.shape[:-1] + (2, 2))

    h = as_matrix(tensor)
    m = as_matrix(moments)  # (N, 2, 2, 2): offset axis k, then the 2 x 2 tensor moment
    rhs = np.einsum("nab,nb->na", m[:, 0], jacobian[:, :, 0]) + np.einsum("nab,nb->na", m[:, 1], jacobian[:, :, 1])
    det = h[:, 0, 0] * h[:, 1, 1] - h[:, 0, 1] ** 2
    ok = det > 1e-12 * np.maximum(h[:, 0, 0] + h[:, 1, 1], 1e-300) ** 2
    safe = np.where(ok, det, 1.0)
    bx = (h[:, 1, 1] * rhs[:, 0] - h[:, 0, 1] * rhs[:, 1]) / safe
    by = (h[:, 0, 0] * rhs[:, 1] - h[:, 0, 1] * rhs[:, 0]) / safe
    return np.where(ok[:, None], np.stack([bx, by], axis=1), 0.0)
