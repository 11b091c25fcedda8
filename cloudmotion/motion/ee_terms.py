"""Per-template terms the expected error is built from, at each vector's final displacement.

Frame B is warped by the template's displacement with the Keys bicubic kernel (the
refinement's default), so the residual is the one the estimate leaves; the structure
tensor, the gradients' lag-one correlation and the correlation coefficients one pixel
either side of the peak complete the terms. :func:`template_terms` runs the compiled
kernel (:mod:`cloudmotion.motion.kernels.ee`) by default and keeps a vectorised numpy path as
the reference. See :mod:`cloudmotion.motion.expected_error` for the model and its references.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from cloudmotion.grid import extract_windows

__all__ = ["TemplateTerms", "template_terms"]


@dataclass(frozen=True)
class TemplateTerms:
    """What :func:`template_terms` measures per template, all arrays of shape (N,).

    Attributes
    ----------
    count : float
        Pixels used (valid in A, valid warped support in B, not excluded).
    tensor : (N, 3) float
        Structure tensor ``(sum gx^2, sum gx gy, sum gy^2)`` over those pixels, value^2/px^2.
    residual_var : float
        Variance of the normalised residual ``gain (B_w - mean) - (A - mean)``, value^2.
    grad_corr : (N, 2) float
        Lag-one autocorrelation of the gradients along columns and rows, in [0, 1].
    peak_corr : float
        Correlation coefficient of A and B warped by the displacement.
    curvature : (N, 2) float
        ``-d^2 rho / d dx^2`` and ``-d^2 rho / d dy^2`` of the correlation peak, per px^2,
        from the coefficients at ``d`` and ``d +- 1`` px along each axis.
    """

    count: np.ndarray
    tensor: np.ndarray
    residual_var: np.ndarray
    grad_corr: np.ndarray
    peak_corr: np.ndarray
    curvature: np.ndarray


def _kernel(frac: np.ndarray) -> np.ndarray:
    """Keys bicubic weights at offsets -1, 0, +1, +2, shape (N, 4)."""
    t = frac[:, None]
    t2, t3 = t * t, t * t * t
    return np.hstack(
        [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]
    ).astype(np.float32)


def _warp(pb: np.ndarray, pok: np.ndarray, pad: int, rows, cols, w: int, dy, dx, grow: int):
    """B sampled at (row + i + dy, col + j + dx), i, j in range(-grow, w + grow), and its validity."""
    iy = np.floor(dy).astype(np.int64)
    ix = np.floor(dx).astype(np.int64)
    wy, wx = _kernel(dy - iy), _kernel(dx - ix)
    s = w + 2 * grow
    patch = extract_windows(pb, pad, rows + iy - 1 - grow, cols + ix - 1 - grow, s + 3)
    tmp = sum(patch[:, :, k : k + s] * wx[:, k, None, None] for k in range(4))
    out = sum(tmp[:, k : k + s] * wy[:, k, None, None] for k in range(4))
    ok = extract_windows(pok, pad, rows + iy - grow, cols + ix - grow, s)
    return out, ok


def _ncc(t: np.ndarray, u: np.ndarray, m: np.ndarray) -> np.ndarray:
    n = np.maximum(m.sum(axis=(1, 2)), 1.0)
    tm = (t * m).sum(axis=(1, 2)) / n
    um = (u * m).sum(axis=(1, 2)) / n
    tc = (t - tm[:, None, None]) * m
    uc = (u - um[:, None, None]) * m
    num = (tc * uc).sum(axis=(1, 2), dtype=np.float64)
    den = np.sqrt((tc * tc).sum(axis=(1, 2), dtype=np.float64) * (uc * uc).sum(axis=(1, 2), dtype=np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """``np.pad(x, pad)`` (zeros) for float32 or bool frames, in one OpenCV pass."""
    src = x.view(np.uint8) if x.dtype == np.bool_ else x
    out = cv2.copyMakeBorder(src, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    return out.view(np.bool_) if x.dtype == np.bool_ else out


def _centred(x: np.ndarray, valid: np.ndarray, offset: float, pad: int) -> np.ndarray:
    """``np.pad(np.where(valid, x - offset, 0).astype(np.float32), pad)`` written into one array (no temporaries)."""
    h, w = x.shape
    out = np.zeros((h + 2 * pad, w + 2 * pad), np.float32)
    np.subtract(x, offset, out=out[pad : pad + h, pad : pad + w], where=valid)
    return out


def _frames(a, valid_a, b, valid_b, dx, dy, exclude, offset=None):
    """Padded frames both paths read: A (offset removed), usable pixels, gradient mask, B and its support.

    Each array is allocated once at its padded size and filled in place: on a full-disk
    frame every temporary copy costs about 110 MiB of peak memory.
    """
    use = valid_a if exclude is None else valid_a & ~exclude
    if offset is None:  # the caller may know it: np.mean(a[valid_a]) gathers a copy of the frame
        offset = float(np.mean(a[valid_a])) if valid_a.any() else 0.0
    ppa = _centred(a, valid_a, offset, 1)
    gmask = cv2.erode(
        use.view(np.uint8),
        np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).view(bool)
    lim = float(np.max(np.abs(np.concatenate([dx, dy])))) if dx.size else 0.0
    pad = int(np.ceil(lim)) + 5
    pb = _centred(b, valid_b, offset, pad)
    pok = cv2.erode(
        _pad(valid_b, pad).view(np.uint8),
        np.ones((4, 4), np.uint8),
        anchor=(1, 1),
        borderType=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).view(bool)
    return ppa, _pad(use, 1), _pad(gmask, 1), pb, pok, pad


def _gradients(ppa: np.ndarray, pgm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masked central differences of the padded frame A (``np.gradient``'s interior formula, float32).

    The frame's outer pixels are never in the eroded mask, so their one-sided differences
    would be masked to 0 anyway. The compiled kernel computes the same values per template.
    """
    pgx = np.zeros(ppa.shape, np.float32)
    pgy = np.zeros(ppa.shape, np.float32)
    h, w = ppa.shape[0] - 2, ppa.shape[1] - 2
    if h > 2 and w > 2:
        np.subtract(ppa[1:-1, 3:-1], ppa[1:-1, 1:-3], out=pgx[1:-1, 2:-2])
        np.subtract(ppa[3:-1, 1:-1], ppa[1:-3, 1:-1], out=pgy[2:-2, 1:-1])
        for g in (pgx, pgy):
            np.divide(g, np.float32(2.0), out=g)
            np.multiply(g, pgm, out=g)
    return pgx, pgy


def template_terms(
    a: np.ndarray,
    valid_a: np.ndarray,
    b: np.ndarray,
    valid_b: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    window: int,
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    exclude: np.ndarray | None = None,
    chunk: int = 1024,
    compiled: bool = True,
    threads: int | None = None,
    offset: float | None = None,
) -> TemplateTerms:
    """Per-template quantities the expected error is built from, at the final displacement.

    Frame B is warped by each template's displacement with the Keys bicubic kernel (the
    refinement's default), so the residual is the one the estimate leaves.

    Parameters
    ----------
    a, b : ndarray, shape (rows, cols)
        Pre-filtered frames A and B (any values where invalid).
    valid_a, valid_b : ndarray of bool
        Validity masks.
    rows, cols : ndarray of int, shape (N,)
        Top-left pixel of each template in A.
    window : int
        Template size, px.
    dx, dy : ndarray of float, shape (N,)
        Final displacements, px; NaN gives NaN terms.
    exclude : ndarray of bool, optional
        Pixels of A to leave out (e.g. a static plateau and its filtered boundary, see
        :mod:`cloudmotion.motion.plateau`).
    chunk : int
        Templates processed at once (numpy path).
    compiled : bool
        Use the compiled kernel (:func:`cloudmotion.motion.kernels.ee.ee_terms`); False runs the
        numpy reference, which gives the same terms to float32 rounding.
    threads : int, optional
        Threads of the compiled kernel; default the cores available.
    offset : float, optional
        ``np.mean(a[valid_a])`` when the caller has it already (saves a gathered copy of A).

    Returns
    -------
    TemplateTerms
    """
    n = len(rows)
    w = window
    out = {
        "count": np.zeros(n),
        "tensor": np.full((n, 3), np.nan),
        "residual_var": np.full(n, np.nan),
        "grad_corr": np.full((n, 2), np.nan),
        "peak_corr": np.full(n, np.nan),
        "curvature": np.full((n, 2), np.nan),
    }
    dx = np.asarray(dx, dtype=np.float64)
    dy = np.asarray(dy, dtype=np.float64)
    todo = np.flatnonzero(np.isfinite(dx) & np.isfinite(dy))
    if todo.size == 0:
        return TemplateTerms(**out)
    ppa, puse, pgm, pb, pok, pad = _frames(a, valid_a, b, valid_b, dx[todo], dy[todo], exclude, offset)
    if compiled:
        from cloudmotion.motion.kernels.ee import ee_terms
        from cloudmotion.motion.kernels.jit import split_run

        per = (
            np.ascontiguousarray(rows[todo], dtype=np.int64),
            np.ascontiguousarray(cols[todo], dtype=np.int64),
            np.ascontiguousarray(dx[todo]),
            np.ascontiguousarray(dy[todo]),
        )
        res = split_run(ee_terms, threads, (ppa, puse, pgm, pb, pok, pad), per, (w,))
        for name, values in zip(
            ("count", "residual_var", "peak_corr", "tensor", "grad_corr", "curvature"), res, strict=True
        ):
            out[name][todo] = values
        return TemplateTerms(**out)
    pgx, pgy = _gradients(ppa, pgm)
    for lo in range(0, todo.size, chunk):
        idx = todo[lo : lo + chunk]
        r, c = rows[idx], cols[idx]
        # template and the warped window one pixel larger on every side (for the +-1 px lags)
        t = extract_windows(ppa, 1, r - 1, c - 1, w + 2)
        mt = extract_windows(puse, 1, r - 1, c - 1, w + 2)
        bw, bok = _warp(pb, pok, pad, r, c, w, dy[idx], dx[idx], grow=1)
        core = (slice(None), slice(1, w + 1), slice(1, w + 1))
        m = (mt[core] & bok[core]).astype(np.float32)
        cnt = m.sum(axis=(1, 2), dtype=np.float64)
        cs = np.maximum(cnt, 1.0)
        ta, tb = t[core], bw[core]
        mu_a = (ta * m).sum(axis=(1, 2), dtype=np.float64) / cs
        mu_b = (tb * m).sum(axis=(1, 2), dtype=np.float64) / cs
        ac = (ta - mu_a[:, None, None].astype(np.float32)) * m
        bc = (tb - mu_b[:, None, None].astype(np.float32)) * m
        sa = (ac * ac).sum(axis=(1, 2), dtype=np.float64)
        sb = (bc * bc).sum(axis=(1, 2), dtype=np.float64)
        sab = (ac * bc).sum(axis=(1, 2), dtype=np.float64)
        gain = np.where(sb > 0, np.sqrt(sa / np.where(sb > 0, sb, 1.0)), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["residual_var"][idx] = (gain * gain * sb - 2 * gain * sab + sa) / np.maximum(cnt - 3.0, 1.0)
            out["peak_corr"][idx] = np.where(sa * sb > 0, sab / np.sqrt(sa * sb), np.nan)
        out["count"][idx] = cnt
        # gradients over pixels whose central-difference cross is usable
        gm = extract_windows(pgm, 1, r, c, w) & (m > 0)
        tgx = extract_windows(pgx, 1, r, c, w) * gm
        tgy = extract_windows(pgy, 1, r, c, w) * gm
        hxx = (tgx * tgx).sum(axis=(1, 2), dtype=np.float64)
        hxy = (tgx * tgy).sum(axis=(1, 2), dtype=np.float64)
        hyy = (tgy * tgy).sum(axis=(1, 2), dtype=np.float64)
        out["tensor"][idx] = np.stack([hxx, hxy, hyy], axis=1)
        tr = np.maximum(hxx + hyy, 1e-30)
        ax = (tgx[:, :, 1:] * tgx[:, :, :-1]).sum(axis=(1, 2)) + (tgy[:, :, 1:] * tgy[:, :, :-1]).sum(axis=(1, 2))
        ay = (tgx[:, 1:] * tgx[:, :-1]).sum(axis=(1, 2)) + (tgy[:, 1:] * tgy[:, :-1]).sum(axis=(1, 2))
        out["grad_corr"][idx] = np.clip(np.stack([ax, ay], axis=1) / tr[:, None], 0.0, 0.999)
        # correlation peak: coefficients at d +- 1 px along each axis (template shifted by -+1 px
        # against the warped window is the same lag, and needs no second warp)
        rho0 = out["peak_corr"][idx]
        curv = []
        for axis in (2, 1):  # columns, then rows
            sides = []
            for s in (-1, 1):
                sl_b = [slice(None), slice(1, w + 1), slice(1, w + 1)]
                sl_b[axis] = slice(1 + s, w + 1 + s)
                mb = (mt[core] & bok[tuple(sl_b)]).astype(np.float32)
                sides.append(_ncc(ta, bw[tuple(sl_b)], mb))
            curv.append(2.0 * rho0 - sides[0] - sides[1])
        out["curvature"][idx] = np.stack(curv, axis=1)
    return TemplateTerms(**out)
