"""CSV output: one row per vector, the columns of :data:`cloudmotion.model.COLUMNS`."""

from __future__ import annotations

from typing import IO

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.times import format_iso
from cloudmotion.formats.writers import Writer
from cloudmotion.model import COLUMNS, CSV_COLUMNS, Vectors

__all__ = ["WRITER", "format_column", "write_csv", "write_csv_header", "write_csv_rows"]

_CHUNK = 65536
_FORMATS = {c.name: c.fmt for c in COLUMNS if c.fmt}


def format_column(values: np.ndarray, fmt: str) -> np.ndarray:
    """Cells of one column: ``fmt`` applied to finite values, ``""`` where unknown (NaN)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(v)
    if fmt == "%d":
        out = np.where(finite, v, 0).astype(np.int64).astype(str)
    else:
        out = np.char.mod(fmt, np.where(finite, v, 0.0))
    return np.where(finite, out, "")


def write_csv_header(stream: IO[str]) -> None:
    """Write the CSV header line."""
    stream.write(",".join(CSV_COLUMNS) + "\n")


def write_csv_rows(stream: IO[str], vectors: Vectors) -> int:
    """Append one row per vector, row-major over the grid; return the row count.

    Unknown values (no CRS, no time, no measurable displacement, not computed) are empty
    cells. Rows are formatted in chunks, so memory stays bounded on full-disk grids.
    """
    n = vectors.n
    times = f"{format_iso(vectors.time_a)},{format_iso(vectors.time_b)}"
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        lines = np.full(sl.stop - sl.start, times)
        for name in CSV_COLUMNS[2:]:
            lines = np.char.add(np.char.add(lines, ","), format_column(vectors.values[name][sl], _FORMATS[name]))
        stream.write("\n".join(lines.tolist()) + "\n")
    return n


def write_csv(path: str, vectors: Vectors) -> None:
    """Write one pair to a CSV file of its own, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        write_csv_header(fh)
        write_csv_rows(fh, vectors)


WRITER = Writer(
    name="csv", suffixes=(".csv",), write=write_csv, streams=True, description="one row per vector, every column"
)
