"""Compiled kernels of the expected error's smooth-residual term (see :mod:`cloudmotion.motion.ee_terms`).

:func:`remove_deformation` takes from a template's residual its least-squares fit by an
affine deformation, and :func:`spectral_sums` reduces the spectra of the binned residual and
gradient windows to the residual-correlation sums. ``FAST_EXACT_DIV`` flags, serial and ``nogil``.
"""

from __future__ import annotations

import numpy as np

from cloudmotion.motion.kernels.jit import FAST_EXACT_DIV, kernel

__all__ = ["remove_deformation", "spectral_sums"]


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def _solve_spd(a, v):
    """Solve ``a x = v`` for a small symmetric positive definite ``a`` (n x n) by Cholesky.

    Written out so that the kernel needs no LAPACK (numba's ``np.linalg.solve`` loads
    scipy.linalg, which costs every run a quarter of a second of imports).
    """
    n = a.shape[0]
    low = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            acc = a[i, j]
            for k in range(j):
                acc -= low[i, k] * low[j, k]
            if i == j:
                low[i, i] = np.sqrt(max(acc, 1e-300))
            else:
                low[i, j] = acc / low[j, j]
    y = np.empty(n)
    for i in range(n):
        acc = v[i]
        for k in range(i):
            acc -= low[i, k] * y[k]
        y[i] = acc / low[i, i]
    x = np.empty(n)
    for i in range(n - 1, -1, -1):
        acc = y[i]
        for k in range(i + 1, n):
            acc -= low[k, i] * x[k]
        x[i] = acc / low[i, i]
    return x


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def remove_deformation(e, gxw, gyw, w):
    """Remove from the residual its least-squares fit by an affine deformation ``g . (J p)``.

    A template that rotates, shears or diverges about its centre leaves the residual
    ``g . (J p)`` (``p`` the offset from the centre, ``J`` the flow's 2 x 2 gradient), odd
    about the centre: it moves no centroid, so it is no part of the translation error and
    must not count as a smooth residual. The four patterns ``gx x, gx y, gy x, gy y`` span
    the same space as rotation, the two shears and divergence, so the fit is by them.
    """
    # the ten products of the four patterns and their four products with the residual, in registers
    a00 = a10 = a11 = a20 = a21 = a22 = a30 = a31 = a32 = a33 = 0.0
    v0 = v1 = v2 = v3 = 0.0
    h = 0.5 * (w - 1)
    for i in range(w):
        y = i - h
        for j in range(w):
            x = j - h
            gx = gxw[i, j]
            gy = gyw[i, j]
            u0 = gx * x
            u1 = gx * y
            u2 = gy * x
            u3 = gy * y
            r = e[i, j]
            v0 += u0 * r
            v1 += u1 * r
            v2 += u2 * r
            v3 += u3 * r
            a00 += u0 * u0
            a10 += u1 * u0
            a11 += u1 * u1
            a20 += u2 * u0
            a21 += u2 * u1
            a22 += u2 * u2
            a30 += u3 * u0
            a31 += u3 * u1
            a32 += u3 * u2
            a33 += u3 * u3
    tr = a00 + a11 + a22 + a33
    if tr <= 0:
        return
    a = np.empty((4, 4))
    a[0, 0] = a00 + 1e-9 * tr
    a[1, 1] = a11 + 1e-9 * tr
    a[2, 2] = a22 + 1e-9 * tr
    a[3, 3] = a33 + 1e-9 * tr
    a[1, 0] = a[0, 1] = a10
    a[2, 0] = a[0, 2] = a20
    a[2, 1] = a[1, 2] = a21
    a[3, 0] = a[0, 3] = a30
    a[3, 1] = a[1, 3] = a31
    a[3, 2] = a[2, 3] = a32
    v = np.empty(4)
    v[0] = v0
    v[1] = v1
    v[2] = v2
    v[3] = v3
    beta = _solve_spd(a, v)
    for i in range(w):
        y = i - h
        for j in range(w):
            x = j - h
            e[i, j] -= (beta[0] * x + beta[1] * y) * gxw[i, j] + (beta[2] * x + beta[3] * y) * gyw[i, j]


@kernel(nogil=True, fastmath=FAST_EXACT_DIV)
def spectral_sums(spec, wk, rk):
    """Lag sums of templates from the spectra of their zero-padded residual and gradient windows.

    By Parseval, ``sum_r G(r) C(r) = sum_k S(k) |E(k)|^2 / size^2`` and
    ``sum_r G(r) rho(r) = sum_k S(k) R(k) / size^2``, with ``S`` the gradients' (cross-)power
    spectra (xx, xy, yy) and ``R`` the noise autocorrelation's spectrum (real: rho is even).

    Parameters
    ----------
    spec : ndarray of complex64, shape (K, 3, size, size // 2 + 1)
        Real-to-complex 2-D spectra of the residual, gx and gy windows, padded to ``size``.
    wk : ndarray of float32, shape (size // 2 + 1,)
        Weight of each half-spectrum column (2 for those standing for their mirror too),
        divided by ``size^2``.
    rk : ndarray of float32, shape (size, size // 2 + 1)
        ``R(k)`` times ``wk``.

    Returns
    -------
    cov, noise : ndarray of float64, shape (K, 3)
        ``(xx, xy, yy)`` sums; ``cov`` not divided by the pixel count.
    """
    k = spec.shape[0]
    cov = np.zeros((k, 3))
    noise = np.zeros((k, 3))
    for t in range(k):
        fe = spec[t, 0]
        fx = spec[t, 1]
        fy = spec[t, 2]
        c0 = c1 = c2 = n0 = n1 = n2 = 0.0
        for p in range(fe.shape[0]):
            for q in range(fe.shape[1]):
                e = fe[p, q]
                x = fx[p, q]
                y = fy[p, q]
                ce = (e.real * e.real + e.imag * e.imag) * wk[q]
                sxx = x.real * x.real + x.imag * x.imag
                sxy = x.real * y.real + x.imag * y.imag
                syy = y.real * y.real + y.imag * y.imag
                r = rk[p, q]
                c0 += sxx * ce
                c1 += sxy * ce
                c2 += syy * ce
                n0 += sxx * r
                n1 += sxy * r
                n2 += syy * r
        cov[t, 0] = c0
        cov[t, 1] = c1
        cov[t, 2] = c2
        noise[t, 0] = n0
        noise[t, 1] = n1
        noise[t, 2] = n2
    return cov, noise
