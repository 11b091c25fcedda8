"""Score measured vectors against a known displacement field (pure numpy/scipy).

The truth is a displacement field per frame step on the frames' pixel grid, as written
by ``cloudmotion synth`` to ``truth.tif`` (band 1 ``dx`` along columns, band 2 ``dy``
along rows, pixels, for the feature at each pixel). It is sampled at each vector's origin
(``row``, ``col``, pixel index coordinates) by bilinear interpolation and compared with
the measured ``dx``, ``dy`` of the good vectors (``flag == 0``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["SCORE_KEYS", "sample_truth", "sample_truth_after", "score_vectors"]

SCORE_KEYS = (
    "n_vectors",
    "n_scored",
    "share_flagged",
    "rms",
    "rms_dx",
    "rms_dy",
    "bias_dx",
    "bias_dy",
    "p95",
    "share_gt_0_5",
    "share_gt_1",
    "max",
)
"""Keys of the dictionary returned by :func:`score_vectors`, in display order."""


def sample_truth(
    truth_dx: np.ndarray, truth_dy: np.ndarray, row: np.ndarray, col: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of a displacement field at fractional pixel positions.

    Parameters
    ----------
    truth_dx, truth_dy : ndarray, shape (rows, cols)
        True displacement along columns and rows, px; axis 0 along image rows.
    row, col : ndarray
        Sample positions, pixel index coordinates (integer = pixel centre).

    Returns
    -------
    dx, dy : ndarray of float64, shape of ``row``
        NaN where the position lies outside the grid (more than half a pixel beyond the
        outer pixel centres) or is NaN.
    """
    row = np.asarray(row, dtype=np.float64)
    col = np.asarray(col, dtype=np.float64)
    nr, nc = np.shape(truth_dx)
    inside = (row >= -0.5) & (row <= nr - 0.5) & (col >= -0.5) & (col <= nc - 0.5)
    r = np.where(inside, np.clip(row, 0, nr - 1), 0.0)
    c = np.where(inside, np.clip(col, 0, nc - 1), 0.0)
    out = []
    for field in (truth_dx, truth_dy):
        vals = ndimage.map_coordinates(
            np.asarray(field, dtype=np.float64), [r.ravel(), c.ravel()], order=1, mode="nearest"
        ).reshape(row.shape)
        out.append(np.where(inside, vals, np.nan))
    return out[0], out[1]


def sample_truth_after(
    truth_dx: np.ndarray, truth_dy: np.ndarray, row: np.ndarray, col: np.ndarray, steps: int, *, iterations: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """True displacement of the features that sit at (row, col) after ``steps`` frame steps.

    In a ``cloudmotion synth`` sequence frame k is frame 0 moved by k times the field, so
    the feature at position p of frame k started at q with ``q + k d(q) = p`` and moves by
    ``d(q)`` again to frame k + 1. ``q`` is found by fixed-point iteration.

    Parameters
    ----------
    truth_dx, truth_dy : ndarray, shape (rows, cols)
        True displacement per frame step, px.
    row, col : ndarray
        Positions in frame ``steps`` (pixel index coordinates).
    steps : int
        Frame steps since frame 0 (pair i of a sequence starts at frame i - 1).
    iterations : int
        Fixed-point iterations.

    Returns
    -------
    dx, dy : ndarray of float64
        As :func:`sample_truth`.
    """
    row = np.asarray(row, dtype=np.float64)
    col = np.asarray(col, dtype=np.float64)
    qr, qc = row, col
    for _ in range(iterations if steps else 0):
        dx, dy = sample_truth(truth_dx, truth_dy, qr, qc)
        qr, qc = row - steps * np.nan_to_num(dy), col - steps * np.nan_to_num(dx)
    return sample_truth(truth_dx, truth_dy, qr, qc)


def score_vectors(
    dx: np.ndarray, dy: np.ndarray, flag: np.ndarray, true_dx: np.ndarray, true_dy: np.ndarray
) -> dict[str, float | int | None]:
    """Error statistics of measured displacements against the truth, over good vectors.

    Parameters
    ----------
    dx, dy : ndarray
        Measured displacement, px (along columns, along rows).
    flag : ndarray of int
        Quality bitmask; only ``flag == 0`` vectors with finite measured and true
        displacements are scored.
    true_dx, true_dy : ndarray
        True displacement at the same vectors, px (e.g. from :func:`sample_truth`).

    Returns
    -------
    dict
        ``n_vectors`` all vectors; ``n_scored`` good vectors scored; ``share_flagged``
        fraction of all vectors with ``flag != 0``; ``rms`` root mean square of the
        vector error ``|d_measured - d_true|``, px; ``rms_dx``, ``rms_dy`` per axis, px;
        ``bias_dx``, ``bias_dy`` mean error per axis (measured - true), px; ``p95`` 95th
        percentile of the vector error, px; ``share_gt_0_5``, ``share_gt_1`` fractions of
        scored vectors whose error exceeds 0.5 px and 1 px; ``max`` largest error, px.
        Error statistics are None when no vector could be scored.
    """
    dx, dy, tdx, tdy = (np.asarray(a, dtype=np.float64).ravel() for a in (dx, dy, true_dx, true_dy))
    flag = np.asarray(flag).ravel()
    n = int(flag.size)
    use = (flag == 0) & np.isfinite(dx) & np.isfinite(dy) & np.isfinite(tdx) & np.isfinite(tdy)
    ex, ey = dx[use] - tdx[use], dy[use] - tdy[use]
    err = np.hypot(ex, ey)
    out: dict[str, float | int | None] = {
        "n_vectors": n,
        "n_scored": int(use.sum()),
        "share_flagged": float(np.mean(flag != 0)) if n else None,
    }
    if err.size == 0:
        out.update(dict.fromkeys(SCORE_KEYS[3:]))
        return out
    out.update(
        rms=float(np.sqrt(np.mean(err**2))),
        rms_dx=float(np.sqrt(np.mean(ex**2))),
        rms_dy=float(np.sqrt(np.mean(ey**2))),
        bias_dx=float(ex.mean()),
        bias_dy=float(ey.mean()),
        p95=float(np.percentile(err, 95)),
        share_gt_0_5=float(np.mean(err > 0.5)),
        share_gt_1=float(np.mean(err > 1.0)),
        max=float(err.max()),
    )
    return out


def score_file(vectors: str, truth: str) -> list[dict]:
    """The ``score`` command as a library call: per pair, :func:`score_vectors` plus ``pair``.

    Pair i of a synth sequence is scored against the truth per step, sampled where each
    vector's feature started in frame 0 (:func:`sample_truth_after`).
    """
    from cloudmotion.formats.vectors import check_vectors_match, read_vectors
    from cloudmotion.tools.truth import read_truth

    tdx, tdy, transform = read_truth(truth)
    rows = []
    for i, p in enumerate(read_vectors(vectors, frame_transform=transform), start=1):
        check_vectors_match(p, vectors, truth, shape=tdx.shape, transform=transform)
        sx, sy = sample_truth_after(tdx, tdy, p.row, p.col, i - 1)
        rows.append({"pair": i, **score_vectors(p.dx, p.dy, p.flag, sx, sy)})
    return rows


def scores_json(rows: list[dict], vectors: str, truth: str) -> dict:
    """The figures of :func:`score_file` as one JSON shape, whatever the number of pairs:
    ``{"vectors": ..., "truth": ..., "pairs": [{"pair": 1, ...}, ...]}``."""
    return {"vectors": vectors, "truth": truth, "pairs": rows}


def format_scores(rows: list[dict]) -> str:
    """The figures of :func:`score_file` as text, three lines per pair."""
    lines = []
    for r in rows:

        def f(key: str, digits: int = 4, r: dict = r) -> str:
            return "-" if r[key] is None else f"{r[key]:.{digits}f}"

        lines.append(
            f"pair {r['pair']}: {r['n_scored']} of {r['n_vectors']} vectors scored "
            f"({100 * (r['share_flagged'] or 0):.1f} % flagged)"
        )
        lines.append(f"  RMS {f('rms')} px   bias dx {f('bias_dx')} px  dy {f('bias_dy')} px   p95 {f('p95')} px")
        lines.append(f"  > 0.5 px {f('share_gt_0_5', 3)}   > 1 px {f('share_gt_1', 3)}   max {f('max')} px")
    return "\n".join(lines)
