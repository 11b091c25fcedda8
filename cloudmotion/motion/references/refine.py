"""numpy references of the refinement's compiled stages: frame gradients and Lucas-Kanade.

:func:`lucas_kanade_numpy` is the first release's vectorised refinement; the compiled
stage (:func:`cloudmotion.motion.refine.lucas_kanade_compiled`, kernel
:func:`cloudmotion.motion.kernels.lucas_kanade.lk_refine`) runs the same iterations.
:func:`gradients` is the reference of :func:`cloudmotion.motion.kernels.lucas_kanade.gradients`.
:mod:`cloudmotion.motion.kernels.backend` switches between them. Conventions, parameters and
references as in :mod:`cloudmotion.motion.refine`.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.grid import bicubic_support, extract_windows, integral_image, window_sums
from cloudmotion.motion.results import RefineResult
from cloudmotion.registry import INTERPOLATIONS

__all__ = ["gradients", "lucas_kanade_numpy"]


def gradients(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Central differences (float32, as ``np.gradient``) where the valid 3 x 3 cross allows, else 0.

    Parameters
    ----------
    image : ndarray of float32, shape (rows, cols)
    mask : ndarray of bool, shape (rows, cols)
        True where valid.

    Returns
    -------
    gy, gx : ndarray of float32
        d/drow and d/dcol, 0 where undefined.
    gmask : ndarray of bool
        The pixel and its four neighbours are valid, none outside the frame (the binary
        erosion of ``mask`` by a cross).
    """
    image = np.asarray(image, dtype=np.float32)
    mask = np.asarray(mask, dtype=bool)
    gy = np.zeros(image.shape, np.float32)
    gx = np.zeros(image.shape, np.float32)
    gm = np.zeros(image.shape, bool)
    if min(image.shape) < 3:
        return gy, gx, gm
    c = (slice(1, -1), slice(1, -1))
    gm[c] = mask[c] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    two = np.float32(2.0)
    with np.errstate(invalid="ignore", over="ignore"):
        gy[c] = np.where(gm[c], (image[2:, 1:-1] - image[:-2, 1:-1]) / two, np.float32(0))
        gx[c] = np.where(gm[c], (image[1:-1, 2:] - image[1:-1, :-2]) / two, np.float32(0))
    return gy, gx, gm


def _kernel(frac: np.ndarray, method: str) -> np.ndarray:
    """Interpolation weights at offsets -1, 0, +1, +2 for fractional positions, shape (N, 4)."""
    t = frac[:, None]
    if method == "bilinear":
        z = np.zeros_like(t)
        return np.hstack([z, 1.0 - t, t, z])
    t2, t3 = t * t, t * t * t
    return np.hstack(
        [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1.0, -1.5 * t3 + 2.0 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2]
    )


def _warp_windows(
    padded: np.ndarray,
    pok: np.ndarray,
    pad: int,
    rows: np.ndarray,
    cols: np.ndarray,
    w: int,
    dy: np.ndarray,
    dx: np.ndarray,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Sample B at (row + i + dy, col + j + dx) for i, j in range(w): (N, w, w) values and validity.

    ``pok`` is True where the whole 4 x 4 kernel support (rows -1..+2, cols -1..+2) is valid.
    """
    iy = np.floor(dy).astype(np.int64)
    ix = np.floor(dx).astype(np.int64)
    wy = _kernel(dy - iy, method).astype(np.float32)
    wx = _kernel(dx - ix, method).astype(np.float32)
    patch = extract_windows(padded, pad, rows + iy - 1, cols + ix - 1, w + 3)
    taps = range(4) if method == "bicubic" else (1, 2)
    tmp = np.zeros((len(rows), w + 3, w), dtype=np.float32)
    buf = np.empty_like(tmp)
    for k in taps:
        tmp += np.multiply(patch[:, :, k : k + w], wx[:, k, None, None], out=buf)
    out = np.zeros((len(rows), w, w), dtype=np.float32)
    buf = buf[:, :w]
    for k in taps:
        out += np.multiply(tmp[:, k : k + w], wy[:, k, None, None], out=buf)
    ok = extract_windows(pok, pad, rows + iy, cols + ix, w)
    return out, ok


class _Template:
    """Template-side terms of the Gauss-Newton normal equations, computed once per chunk.

    Brightness and contrast are normalised inside the overlap mask ``m``: the residual is
    ``e = gain (B - mean_m B) - (A - mean_m A)`` with ``gain = std_m A / std_m B``. For a
    window whose warped support is valid everywhere, ``m`` is the template's own mask and
    every sum reduces to dot products of the warped window with precomputed vectors.
    """

    def __init__(
        self, values: np.ndarray, mask: np.ndarray, gx: np.ndarray, gy: np.ndarray, tensor: np.ndarray
    ) -> None:
        n = values.shape[0]
        self.values, self.mask, self.gx, self.gy, self.tensor = values, mask, gx, gy, tensor
        m = mask.reshape(n, -1).astype(np.float32)
        self.count = m.sum(axis=1, dtype=np.float64)
        mean = (values.reshape(n, -1) * m).sum(axis=1, dtype=np.float64) / np.maximum(self.count, 1.0)
        centred = (values.reshape(n, -1) - mean[:, None].astype(np.float32)) * m
        self.var_a = np.einsum("np,np->n", centred, centred, dtype=np.float64)
        # rows: mask, gx, gy, centred template -> one batched product per iteration
        self.stack = np.stack([m, gx.reshape(n, -1), gy.reshape(n, -1), centred], axis=1)
        self.sums = self.stack.sum(axis=2, dtype=np.float64)  # sum m, sum gx, sum gy, 0

    def take(self, idx: np.ndarray) -> _Template:
        """The terms of windows ``idx`` only (compacts the arrays as windows converge)."""
        new = object.__new__(_Template)
        for name in ("values", "mask", "gx", "gy", "tensor", "count", "var_a", "stack", "sums"):
            setattr(new, name, getattr(self, name)[idx])
        if hasattr(self, "_gdot"):
            new._gdot = self._gdot[idx]
        return new

    def normal_equations(self, idx: np.ndarray, bw: np.ndarray, bok: np.ndarray, full: np.ndarray):
        """Return ((hxx, hxy, hyy), (bx, by), residual variance, pixel count) for windows ``idx``."""
        k = idx.size
        hxx, hxy, hyy = (self.tensor[idx, j].copy() for j in range(3))
        bx, by, resvar, cnt = np.zeros(k), np.zeros(k), np.zeros(k), self.count[idx].copy()
        f = np.flatnonzero(full)
        if f.size:
            sel = idx[f]
            # scatter the warped windows into the held rows: cheaper than gathering the 4-row stack
            flat = np.zeros(self.stack[:, 0].shape, dtype=np.float32)
            flat[sel] = (bw if f.size == k else bw[f]).reshape(f.size, -1)
            flat *= self.stack[:, 0]
            prods = np.einsum("nkp,np->nk", self.stack, flat)[sel].astype(np.float64)  # float32 sums, centred data
            s1, sgx, sgy, sac = prods.T
            s2 = np.einsum("np,np->n", flat, flat)[sel].astype(np.float64)
            n = np.maximum(self.count[sel], 1.0)
            mu_b = s1 / n
            var_b = np.maximum(s2 - s1 * mu_b, 0.0)
            gain = np.where(var_b > 0, np.sqrt(self.var_a[sel] / np.where(var_b > 0, var_b, 1.0)), 1.0)
            bx[f] = gain * (sgx - mu_b * self.sums[sel, 1]) - self._dot_centred(sel, 1)
            by[f] = gain * (sgy - mu_b * self.sums[sel, 2]) - self._dot_centred(sel, 2)
            resvar[f] = (gain * gain * var_b - 2 * gain * sac + self.var_a[sel]) / np.maximum(n - 3.0, 1.0)
        p = np.flatnonzero(~full)
        if p.size:
            sel = idx[p]
            m = (self.mask[sel] & bok[p]).astype(np.float32)
            cnt[p] = m.sum(axis=(1, 2), dtype=np.float64)
            cs = np.maximum(cnt[p], 1.0)
            t = self.values[sel]
            mu_a = (t * m).sum(axis=(1, 2), dtype=np.float64) / cs
            mu_b = (bw[p] * m).sum(axis=(1, 2), dtype=np.float64) / cs
            ac = (t - mu_a[:, None, None].astype(np.float32)) * m
            bc = (bw[p] - mu_b[:, None, None].astype(np.float32)) * m
            sa = np.sqrt((ac * ac).sum(axis=(1, 2), dtype=np.float64))
            sb = np.sqrt((bc * bc).sum(axis=(1, 2), dtype=np.float64))
            gain = np.where(sb > 0, sa / np.where(sb > 0, sb, 1.0), 1.0)
            err = bc * gain[:, None, None].astype(np.float32) - ac
            gxa = self.gx[sel] * m
            gya = self.gy[sel] * m
            hxx[p] = (gxa * gxa).sum(axis=(1, 2), dtype=np.float64)
            hyy[p] = (gya * gya).sum(axis=(1, 2), dtype=np.float64)
            hxy[p] = (gxa * gya).sum(axis=(1, 2), dtype=np.float64)
            bx[p] = (gxa * err).sum(axis=(1, 2), dtype=np.float64)
            by[p] = (gya * err).sum(axis=(1, 2), dtype=np.float64)
            resvar[p] = (err * err).sum(axis=(1, 2), dtype=np.float64) / np.maximum(cnt[p] - 3.0, 1.0)
        return (hxx, hxy, hyy), (bx, by), resvar, cnt

    def _dot_centred(self, sel: np.ndarray, row: int) -> np.ndarray:
        """sum of gradient row ``row`` times the centred template (constant over iterations)."""
        if not hasattr(self, "_gdot"):
            self._gdot = np.einsum("nkp,np->nk", self.stack[:, 1:3], self.stack[:, 3]).astype(np.float64)
        return self._gdot[sel, row - 1]


def lucas_kanade_numpy(
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
    """Vectorised numpy Lucas-Kanade: the first release's refinement, the compiled stage's reference.

    Same parameters and result as :func:`cloudmotion.motion.refine.lucas_kanade` (see there),
    whose compiled stage agrees with this one to rounding (0.0002 px RMS on the CONUS
    benchmark pair). Here ``chunk`` (windows processed at once) bounds the memory, and
    ``threads`` is unused (numpy).
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; choose from {INTERPOLATIONS}")
    n = len(rows)
    dx0 = np.asarray(dx0, dtype=np.float64)
    dy0 = np.asarray(dy0, dtype=np.float64)
    dx = dx0.copy()
    dy = dy0.copy()
    its = np.zeros(n, dtype=np.int64)
    eig = np.full(n, np.nan)
    conv = np.zeros(n, dtype=bool)
    tensor = np.zeros((n, 3))
    sigma = np.full(n, np.nan)
    moments = np.zeros((n, 2, 3))
    off = np.arange(window, dtype=np.float32) - (window - 1) / 2.0
    start_ok = np.isfinite(dx) & np.isfinite(dy)
    gy_full, gx_full, gmask_full = grads
    g2 = float(np.mean(gx_full[gmask_full] ** 2 + gy_full[gmask_full] ** 2)) / 2.0 if gmask_full.any() else 0.0
    g2 = g2 if g2 > 0 else 1.0
    limit = float(np.nanmax(np.abs(np.concatenate([dx[start_ok], dy[start_ok], [0.0]])))) + max_move + 2
    pad = int(np.ceil(limit)) + 3
    # one common offset keeps float32 sums of products accurate (brightness is normalised anyway)
    if offset is None:
        offset = float(np.mean(a[mask_a])) if mask_a.any() else 0.0
    pb = np.pad((b - offset).astype(np.float32), pad)
    # valid where the whole 4 x 4 kernel support (rows and cols -1 .. +2) is valid
    pbm = bicubic_support(mask_b, pad)
    pa = (a - offset).astype(np.float32)  # templates lie inside frame A: no padding needed

    # windows whose whole warped support is valid in B take the fast path
    bad_support = integral_image(~pbm)
    for lo in range(0, n, chunk):
        sl = slice(lo, min(lo + chunk, n))
        r, c = rows[sl], cols[sl]
        tm = extract_windows(gmask_full, 0, r, c, window)
        tgy = extract_windows(gy_full, 0, r, c, window) * tm
        tgx = extract_windows(gx_full, 0, r, c, window) * tm
        g3 = np.stack([tgx * tgx, tgx * tgy, tgy * tgy], axis=1)  # (n, 3, w, w)
        tensor[sl] = g3.sum(axis=(2, 3), dtype=np.float64)
        moments[sl, 0] = np.einsum("nkij,j->nk", g3, off, dtype=np.float64)
        moments[sl, 1] = np.einsum("nkij,i->nk", g3, off, dtype=np.float64)
        del g3
        active = np.flatnonzero(start_ok[sl])
        held = active  # windows the template terms are kept for
        tmpl = _Template(
            extract_windows(pa, 0, r[held], c[held], window), tm[held], tgx[held], tgy[held], tensor[sl][held]
        )
        for _ in range(max_iter):
            if active.size == 0:
                break
            if active.size < 0.7 * held.size:
                tmpl = tmpl.take(np.searchsorted(held, active))
                held = active
            gi = active + lo
            iy = np.floor(dy[gi]).astype(np.int64)
            ix = np.floor(dx[gi]).astype(np.int64)
            bw, bok = _warp_windows(pb, pbm, pad, r[active], c[active], window, dy[gi], dx[gi], interpolation)
            full = window_sums(bad_support, r[active] + iy + pad, c[active] + ix + pad, window) == 0
            h, bxy, resvar, cnt = tmpl.normal_equations(np.searchsorted(held, active), bw, bok, full)
            hxx, hxy, hyy = h
            det = hxx * hyy - hxy * hxy
            tr = hxx + hyy
            lam_min = 0.5 * (tr - np.sqrt(np.maximum((hxx - hyy) ** 2 + 4 * hxy * hxy, 0.0)))
            cnt_safe = np.maximum(cnt, 1.0)
            eig[gi] = lam_min / cnt_safe / g2
            with np.errstate(divide="ignore", invalid="ignore"):
                sigma[gi] = np.sqrt(np.maximum(resvar, 0.0) / lam_min)
            solvable = (det > 0) & (eig[gi] >= min_eig) & (cnt >= 0.5 * window * window)
            safe_det = np.where(solvable, det, 1.0)
            ddx = np.where(solvable, (hyy * bxy[0] - hxy * bxy[1]) / safe_det, 0.0)
            ddy = np.where(solvable, (hxx * bxy[1] - hxy * bxy[0]) / safe_det, 0.0)
            dx[gi] -= ddx
            dy[gi] -= ddy
            its[gi] += 1
            step = np.hypot(ddx, ddy)
            moved = np.hypot(dx[gi] - dx0[gi], dy[gi] - dy0[gi]) > max_move
            done = (step < tol) & solvable
            conv[gi[done]] = True
            active = active[~(done | ~solvable | moved)]

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
