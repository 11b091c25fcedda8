"""Vectorised printf-style text of numeric columns, for writing large CSV files quickly.

:func:`format_cells` turns one column into a (n, width) byte matrix, right-aligned and
padded with NUL bytes; :func:`join_rows` lays columns side by side with separators and
drops the padding in one pass. The cells are exactly those of Python's ``fmt % value``
(``%.Nf`` and ``%d``) for finite values and empty for the others: the decimal digits come
from integer arithmetic on ``round(value * 10**N)``, and the few values whose rounding the
float product cannot decide (within a few ulps of a half unit of the last digit, or too
large for int64) are rounded by Python's own formatting instead.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

__all__ = ["format_cells", "format_column", "join_rows"]

_FIXED = re.compile(r"^%\.(\d)f$")
_ZERO, _MINUS, _DOT = ord("0"), ord("-"), ord(".")
_INT_LIMIT = 2.0**62
"""Scaled values at or above this magnitude are formatted by Python (int64 headroom)."""


def _digits_needed(a: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative int64 values (1 for 0)."""
    powers = 10 ** np.arange(1, 19, dtype=np.int64)
    return 1 + np.searchsorted(powers, a, side="right")


def format_column(values: np.ndarray, fmt: str) -> np.ndarray:
    """Cells of one column as strings: ``fmt`` applied to finite values, ``""`` where unknown (NaN).

    The reference formatting, one Python ``%`` per value (``%d`` of the value cast to
    int64); :func:`format_cells` gives the same text in a vectorised pass.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    if fmt == "%d":
        out = np.where(finite, v, 0).astype(np.int64).astype(str)
    else:
        out = np.char.mod(fmt, np.where(finite, v, 0.0))
    return np.where(finite, out, "")


def _python_cells(values: np.ndarray, fmt: str) -> np.ndarray:
    """Fallback: :func:`format_column` as a NUL-padded (width, n) byte matrix."""
    out = format_column(values, fmt).astype(np.bytes_)
    width = max(out.dtype.itemsize, 1)
    return np.frombuffer(out.astype(f"S{width}").tobytes(), np.uint8).reshape(out.size, width).T.copy()


def format_cells(values: np.ndarray, fmt: str) -> np.ndarray:
    """One column of cells as a NUL-padded byte matrix.

    Parameters
    ----------
    values : ndarray, shape (n,)
        Numbers (converted to float64).
    fmt : str
        ``"%d"`` or ``"%.Nf"`` with N in 0..9; any other printf format goes through Python.

    Returns
    -------
    ndarray of uint8, shape (width, n)
        Column i holds ``fmt % values[i]`` right-aligned (``""`` where the value is NaN or
        infinite; ``%d`` truncates toward zero, as ``int``), the rest NUL bytes. Character
        positions run along the first axis, so that each is written contiguously.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    finite = np.isfinite(v)
    m = _FIXED.match(fmt)
    if fmt == "%d":
        places = 0
        vf = np.where(finite, v, 0.0)
        if np.any(np.abs(vf) >= _INT_LIMIT):
            return _python_cells(v, fmt)
        q = vf.astype(np.int64)  # truncation toward zero, as int() in "%d" % int(x)
        negative = q < 0
    elif m:
        places = int(m.group(1))
        with np.errstate(over="ignore"):  # too large for int64: Python formats the column
            scaled = np.where(finite, v, 0.0) * 10.0**places
        if np.any(np.abs(scaled) >= _INT_LIMIT):
            return _python_cells(v, fmt)
        q = np.rint(scaled)  # half to even, as the exact decimal rounding except near a tie
        frac = scaled - np.floor(scaled)
        unsure = np.flatnonzero(finite & (np.abs(frac - 0.5) <= np.abs(scaled) * 2.0**-50 + 1e-300))
        q = q.astype(np.int64)
        for i in unsure.tolist():  # rare: Python's correctly rounded digits decide
            text = fmt % v[i]
            q[i] = int(text.replace(".", "").replace("-", ""))
        negative = np.signbit(v)  # printf keeps the sign of negative values that round to zero
    else:
        return _python_cells(v, fmt)
    a = np.abs(q)
    scale = 10**places
    ip = a // scale
    nd = _digits_needed(ip)
    ndig = int(nd[finite].max()) if finite.any() else 1
    width = 1 + ndig + (1 + places if places else 0)
    out = np.zeros((width, n), np.uint8)  # one row per character position: contiguous writes
    first = ndig - nd  # the sign's row; digits start one below
    if ip.max(initial=0) < 2**32:
        ip = ip.astype(np.uint32)  # 32-bit division is about twice as fast
    rest = ip.copy()
    for j in range(ndig - 1, -1, -1):
        digit = (rest % 10).astype(np.uint8)
        digit += _ZERO
        out[1 + j] = np.where(j >= first, digit, 0)
        rest //= 10
    out[first[negative], np.flatnonzero(negative)] = _MINUS
    if places:
        out[1 + ndig] = _DOT
        fp = (a % scale).astype(np.uint32)
        for k in range(places - 1, -1, -1):
            out[2 + ndig + k] = fp % 10
            out[2 + ndig + k] += _ZERO
            fp //= 10
    if not finite.all():
        out[:, ~finite] = 0
    return out


def join_rows(prefix: str, columns: list[np.ndarray], sep: str = ",") -> str:
    """Rows of text: ``prefix`` then each column's cell, separated by ``sep``, each line ending in a newline.

    Parameters
    ----------
    prefix : str
        ASCII text at the start of every row (no NUL bytes).
    columns : list of ndarray of uint8, each shape (width, n)
        Cells from :func:`format_cells` (NUL = padding).
    sep : str
        One ASCII separator character.

    Returns
    -------
    str
    """
    n = columns[0].shape[1] if columns else 0
    if n == 0:
        return ""
    head = np.frombuffer(prefix.encode("ascii"), np.uint8)
    parts = [np.broadcast_to(head[:, None], (head.size, n))]
    comma = np.full((1, n), ord(sep), np.uint8)
    for col in columns:
        parts += [comma, col]
    parts.append(np.full((1, n), ord("\n"), np.uint8))
    block = cv2.transpose(np.concatenate(parts, axis=0))  # (n, characters): row after row, one SIMD pass
    return block[block != 0].tobytes().decode("ascii")
