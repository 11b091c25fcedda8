"""Forward-backward consistency of good vectors against their expected error ``ee``: a check without truth.

Track A -> B (forward) and B -> A (backward). A good forward vector at ``p`` with
displacement ``d`` should meet a backward displacement of ``-d`` at ``p + d``; the miss
``fb = |d_f(p) + d_b(p + d_f(p))|`` (``d_b`` interpolated bilinearly between good backward
vectors) holds the errors of both estimates. With independent errors of the same size,
``fb / sqrt(2)`` is a sample of one vector's error, so ``fb / sqrt(2) / ee`` shows whether
``ee`` holds on the user's own data: its RMS per ``ee`` decile is about 1 where ``ee`` is
calibrated (the RMS length of the error vector), and its median about 0.83
(``sqrt(ln 2)``, the median of a circular Gaussian error's length over its RMS).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CALIBRATED_MEDIAN", "consistency", "consistency_file", "consistency_json", "format_consistency"]

CALIBRATED_MEDIAN = float(np.sqrt(np.log(2.0)))
"""Median of ``fb / sqrt(2) / ee`` for calibrated ``ee`` and circular Gaussian errors (0.833)."""


def _grid(row: np.ndarray, col: np.ndarray, *values: np.ndarray):
    """Values of a regular grid of vectors as 2-D arrays over its sorted unique rows and columns."""
    rows = np.unique(row)
    cols = np.unique(col)
    ir = np.searchsorted(rows, row)
    ic = np.searchsorted(cols, col)
    out = []
    for v in values:
        g = np.full((rows.size, cols.size), np.nan)
        g[ir, ic] = v
        out.append(g)
    return rows, cols, out


def _bilinear(rows: np.ndarray, cols: np.ndarray, grid: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Bilinear interpolation on a rectilinear grid; NaN outside it or where a corner is NaN."""
    out = np.full(r.shape, np.nan)
    if rows.size < 2 or cols.size < 2:
        return out
    ok = np.isfinite(r) & np.isfinite(c) & (r >= rows[0]) & (r <= rows[-1]) & (c >= cols[0]) & (c <= cols[-1])
    i = np.clip(np.searchsorted(rows, r[ok], side="right") - 1, 0, rows.size - 2)
    j = np.clip(np.searchsorted(cols, c[ok], side="right") - 1, 0, cols.size - 2)
    fr = (r[ok] - rows[i]) / (rows[i + 1] - rows[i])
    fc = (c[ok] - cols[j]) / (cols[j + 1] - cols[j])
    out[ok] = (
        grid[i, j] * (1 - fr) * (1 - fc)
        + grid[i + 1, j] * fr * (1 - fc)
        + grid[i, j + 1] * (1 - fr) * fc
        + grid[i + 1, j + 1] * fr * fc
    )
    return out


def consistency(fwd, bwd, *, deciles: int = 10) -> dict:
    """Forward-backward miss of the good forward vectors against their ``ee``.

    Parameters
    ----------
    fwd, bwd : Vectors
        One pair tracked A -> B and the same pair tracked B -> A on the same grid
        (``row``, ``col`` pixel index coordinates; ``dx``, ``dy`` px; ``flag``; ``ee`` px).
    deciles : int
        Number of ``ee`` classes (equal counts).

    Returns
    -------
    dict
        ``n_good`` (good forward vectors), ``n_checked`` (those whose end point lies among
        good backward vectors), ``median_ratio`` (median of ``fb / sqrt(2) / ee``),
        ``rms_ratio`` (RMS of ``fb / sqrt(2)`` over mean ``ee``), ``median_fb`` px,
        ``median_ee`` px, and ``deciles``: one dict per ``ee`` class with ``n``,
        ``mean_ee``, ``median_ratio``, ``rms_ratio``. Ratios are None without vectors.
    """
    brow, bcol, (bdx, bdy) = _grid(
        np.asarray(bwd.row, float).ravel(),
        np.asarray(bwd.col, float).ravel(),
        *(np.where(np.asarray(bwd.flag).ravel() == 0, np.asarray(v, float).ravel(), np.nan) for v in (bwd.dx, bwd.dy)),
    )
    row, col = np.asarray(fwd.row, float).ravel(), np.asarray(fwd.col, float).ravel()
    dx, dy = np.asarray(fwd.dx, float).ravel(), np.asarray(fwd.dy, float).ravel()
    ee = np.asarray(fwd.ee, float).ravel()
    good = (np.asarray(fwd.flag).ravel() == 0) & np.isfinite(dx) & np.isfinite(dy) & np.isfinite(ee) & (ee > 0)
    er, ec = row + dy, col + dx
    bx = _bilinear(brow, bcol, bdx, er, ec)
    by = _bilinear(brow, bcol, bdy, er, ec)
    fb = np.hypot(dx + bx, dy + by)
    ok = good & np.isfinite(fb)
    ratio = fb[ok] / np.sqrt(2.0) / ee[ok]
    out: dict = {
        "n_good": int(good.sum()),
        "n_checked": int(ok.sum()),
        "median_ratio": float(np.median(ratio)) if ratio.size else None,
        "rms_ratio": float(np.sqrt(np.mean((fb[ok] / np.sqrt(2.0)) ** 2)) / np.mean(ee[ok])) if ratio.size else None,
        "median_fb": float(np.median(fb[ok])) if ratio.size else None,
        "median_ee": float(np.median(ee[ok])) if ratio.size else None,
        "deciles": [],
    }
    e, f = ee[ok], fb[ok] / np.sqrt(2.0)
    for part in np.array_split(np.argsort(e, kind="stable"), deciles) if e.size >= deciles else []:
        out["deciles"].append(
            {
                "n": int(part.size),
                "mean_ee": float(e[part].mean()),
                "median_ratio": float(np.median(f[part] / e[part])),
                "rms_ratio": float(np.sqrt(np.mean(f[part] ** 2)) / e[part].mean()),
            }
        )
    return out


def consistency_file(fwd: str, bwd: str) -> list[dict]:
    """``score --consistency FWD BWD`` as a library call: :func:`consistency` per pair, plus ``pair``.

    Raises
    ------
    DataError
        Unreadable files, a different number of pairs, or files without ``ee``.
    """
    from cloudmotion.errors import DataError
    from cloudmotion.formats.vectors import read_vectors

    f_pairs, b_pairs = read_vectors(fwd), read_vectors(bwd)
    if len(f_pairs) != len(b_pairs):
        raise DataError(f"{bwd}: {len(b_pairs)} pair(s), but {fwd} has {len(f_pairs)}; track the same pairs both ways")
    rows = []
    for i, (f, b) in enumerate(zip(f_pairs, b_pairs, strict=True), start=1):
        if getattr(f, "ee", None) is None or not np.isfinite(np.asarray(f.ee, float)).any():
            raise DataError(f"{fwd}: pair {i} has no ee column (written by a cloudmotion without expected errors?)")
        rows.append({"pair": i, **consistency(f, b)})
    return rows


def consistency_json(rows: list[dict], fwd: str, bwd: str) -> dict:
    """``{"forward": ..., "backward": ..., "calibrated_median": 0.833, "pairs": [...]}``."""
    return {"forward": fwd, "backward": bwd, "calibrated_median": CALIBRATED_MEDIAN, "pairs": rows}


def format_consistency(rows: list[dict]) -> str:
    """The figures of :func:`consistency_file` as a table per pair."""

    def n(v, digits: int = 2) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    lines = []
    for r in rows:
        lines.append(
            f"pair {r['pair']}: {r['n_checked']} of {r['n_good']} good vectors checked forward-backward; "
            f"median fb {n(r['median_fb'], 3)} px, median ee {n(r['median_ee'], 3)} px"
        )
        lines.append(
            f"  fb/sqrt(2)/ee: median {n(r['median_ratio'])} (calibrated: {CALIBRATED_MEDIAN:.2f}), "
            f"RMS over mean ee {n(r['rms_ratio'])} (calibrated: 1)"
        )
        if r["deciles"]:
            lines.append("  ee decile | vectors | mean ee px | median ratio | RMS ratio")
            for k, d in enumerate(r["deciles"], start=1):
                lines.append(
                    f"  {k:9d} | {d['n']:7d} | {d['mean_ee']:10.4f} | {d['median_ratio']:12.2f} | {d['rms_ratio']:9.2f}"
                )
    return "\n".join(lines)
