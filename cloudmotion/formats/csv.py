"""CSV output: one row per vector, the columns of :data:`cloudmotion.model.COLUMNS`."""

from __future__ import annotations

from typing import IO

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.times import format_iso
from cloudmotion.formats.fixed_text import format_cells, format_column, join_rows
from cloudmotion.formats.writers import Writer
from cloudmotion.model import COLUMNS, CSV_COLUMNS, Vectors

__all__ = ["WRITER", "format_column", "write_csv", "write_csv_header", "write_csv_rows"]

_CHUNK = 65536
_FORMATS = {c.name: c.fmt for c in COLUMNS if c.fmt}


def write_csv_header(stream: IO[str]) -> None:
    """Write the CSV header line."""
    stream.write(",".join(CSV_COLUMNS) + "\n")


def write_csv_rows(stream: IO[str], vectors: Vectors) -> int:
    """Append one row per vector, row-major over the grid; return the row count.

    Unknown values (no CRS, no time, no measurable displacement, not computed) are empty
    cells. The cells are those of :func:`format_column`, made for a whole chunk of rows at
    once (:mod:`cloudmotion.formats.fixed_text`). Rows go in chunks, so memory stays
    bounded on full-disk grids.
    """
    n = vectors.n
    times = f"{format_iso(vectors.time_a)},{format_iso(vectors.time_b)}"
    for lo in range(0, n, _CHUNK):
        sl = slice(lo, min(lo + _CHUNK, n))
        cells = [format_cells(vectors.values[name][sl], _FORMATS[name]) for name in CSV_COLUMNS[2:]]
        stream.write(join_rows(times, cells))
    return n


def write_csv(path: str, vectors: Vectors) -> None:
    """Write one pair to a CSV file of its own, atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        write_csv_header(fh)
        write_csv_rows(fh, vectors)


WRITER = Writer(
    name="csv", suffixes=(".csv",), write=write_csv, streams=True, description="one row per vector, every column"
)
