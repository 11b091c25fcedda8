"""Site lists and site tables: the ``--sites`` CSV in, the ``--site-output`` CSV out.

A sites file is a CSV with the columns ``site,lon,lat`` (any order) and any others, which
are carried through to the output after the tool's own columns. Site tables are written
whole and atomically (``track``, ``nowcast``) or appended to, without a duplicate key and
without a torn line (``batch``, which holds the output folder's lock while it appends).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from cloudmotion.errors import DataError, UsageError

__all__ = [
    "SITE_COLUMNS",
    "Sites",
    "append_site_rows",
    "format_cell",
    "read_site_table",
    "read_sites",
    "write_site_rows",
]

SITE_COLUMNS = ("site", "lon", "lat")
"""The columns every sites file has."""


@dataclass(frozen=True)
class Sites:
    """A list of sites.

    Attributes
    ----------
    name : list of str
        Site names, in file order.
    lon, lat : ndarray of float64, shape (n,)
        Degrees east and north (WGS 84).
    extra_names : tuple of str
        Carried columns, in file order.
    extra : list of tuple of str
        Each site's carried values, as written in the file.
    path : str
        Where the list came from (for messages).
    """

    name: list[str]
    lon: np.ndarray
    lat: np.ndarray
    extra_names: tuple[str, ...] = ()
    extra: list[tuple[str, ...]] | None = None
    path: str = ""

    @property
    def n(self) -> int:
        """Number of sites."""
        return len(self.name)


def read_sites(path: str, own_columns: Sequence[str], option: str = "--sites") -> Sites:
    """Read a sites file, refusing what would make a wrong table.

    Parameters
    ----------
    path : str
        CSV with a header holding ``site``, ``lon`` and ``lat``.
    own_columns : sequence of str
        The output's own columns: a carried column of the same name is refused.
    option : str
        The option named in messages.

    Raises
    ------
    UsageError
        No such file, a missing ``site``/``lon``/``lat`` column, a carried column that clashes
        with one of ``own_columns`` (named), or the same column twice (exit status 2).
    DataError
        A coordinate that is not a number in range (lon -180..360, lat -90..90), an empty or
        repeated site name, naming the file and line (exit status 1).
    """
    if not os.path.isfile(path):
        raise UsageError(f"{option} {path}: no such file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{option} {path}: cannot read ({exc})") from None
    if not rows:
        raise UsageError(f"{option} {path}: empty; need a header with site,lon,lat")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in SITE_COLUMNS if c not in header]
    if missing:
        raise UsageError(f"{option} {path}: no column {', '.join(missing)}; the header needs site,lon,lat")
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise UsageError(f"{option} {path}: column {h} appears twice")
        seen.add(h)
    extra_names = tuple(h for h in header if h not in SITE_COLUMNS)
    clash = [h for h in extra_names if h in own_columns]
    if clash:
        raise UsageError(
            f"{option} {path}: column {clash[0]} clashes with the output's own column of that name; rename it"
        )
    at = {h: i for i, h in enumerate(header)}
    names: list[str] = []
    lon, lat, extra = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{option} {path}: line {line} has {len(row)} fields, the header {len(header)}")
        name = row[at["site"]].strip()
        x, y = _number(row[at["lon"]]), _number(row[at["lat"]])
        if not (math.isfinite(x) and -180.0 <= x <= 360.0 and math.isfinite(y) and -90.0 <= y <= 90.0):
            raise DataError(
                f"{option} {path}: line {line}: bad coordinates lon {row[at['lon']].strip()!r} "
                f"lat {row[at['lat']].strip()!r}; need degrees, lon -180..360 and lat -90..90"
            )
        if not name or name in names:
            what = "no site name" if not name else f"site {name} appears twice"
            raise DataError(f"{option} {path}: line {line}: {what}")
        names.append(name)
        lon.append(x if x <= 180.0 else x - 360.0)
        lat.append(y)
        extra.append(tuple(row[at[h]] for h in extra_names))
    if not names:
        raise DataError(f"{option} {path}: no site below the header")
    return Sites(names, np.array(lon), np.array(lat), extra_names, extra, path)


def _number(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        return float("nan")


def format_cell(value, fmt: str = "%.6g") -> str:
    """One CSV cell: empty for None and NaN, ``fmt`` for numbers, the text otherwise."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    v = float(value)
    return "" if not math.isfinite(v) else fmt % v


def _text(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_site_rows(path: str, header: Sequence[str], rows: Iterable[Sequence[str]], *, stdout=None) -> None:
    """Write a site table whole: to ``stdout`` for ``-``, else atomically (temp file, rename).

    Raises
    ------
    DataError
        The file cannot be written.
    """
    text = _text(header, rows)
    if path == "-":
        stdout.write(text)
        stdout.flush()
        return
    from cloudmotion.files.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def read_site_table(path: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a site table; a last line without its newline (torn) is dropped.

    Raises
    ------
    DataError
        Unreadable file or no header.
    """
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DataError(f"{path}: empty; not a site table")
    return rows[0], rows[1:]


def append_site_rows(path: str, header: Sequence[str], rows: Sequence[Sequence[str]], key: Sequence[str]) -> int:
    """Append the rows whose ``key`` columns are not in the table yet; return how many.

    The caller holds the output folder's lock, so no other writer appends at the same time.
    A torn last line left by a killed run is cut off first; the new rows go in one write,
    flushed to disk. A new file gets the header. A file with another header is refused.

    Raises
    ------
    DataError
        A table with another header, or a write error.
    """
    idx = [list(header).index(k) for k in key]
    have: set[tuple[str, ...]] = set()
    if os.path.exists(path) and os.path.getsize(path) > 0:
        old_header, old = read_site_table(path)
        if old_header != list(header):
            raise DataError(f"{path}: its header differs from this run's columns; move it away")
        have = {tuple(r[i] for i in idx) for r in old if len(r) == len(header)}
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 1))
            torn = fh.read(1) != b"\n"
        if torn:
            with open(path, "rb") as fh:
                keep = fh.read().rfind(b"\n") + 1
            os.truncate(path, keep)
        new_file = False
    else:
        new_file = True
    fresh, seen = [], set(have)
    for r in rows:
        k = tuple(r[i] for i in idx)
        if k not in seen:
            seen.add(k)
            fresh.append(r)
    if not fresh and not new_file:
        return 0
    data = _text(header if new_file else (), fresh).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:  # one append; a short write goes on where it stopped
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataError(f"{path}: cannot append ({exc.strerror})") from None
    return len(fresh)
