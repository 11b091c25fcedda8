"""``--profile``: a shipped temperature profile by name, or a user's sounding from a CSV file.

The CSV has a header row naming the columns ``pressure_hPa`` and ``temperature_K`` and,
optionally, ``height_m`` (geopotential height, as soundings report it); other columns are
ignored, lines starting with ``#`` are comments, empty cells drop their level (counted in the
profile's ``dropped``), and a row with more or fewer cells than the header is refused.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from cloudmotion.amv.height import Profile, named_profile, profile_from_table
from cloudmotion.errors import DataError

__all__ = ["load_profile"]

_REQUIRED = ("pressure_hpa", "temperature_k")


def load_profile(spec: str) -> Profile:
    """The profile named ``standard`` or ``tropical``, or read from ``spec`` (a ``.csv`` file).

    Raises
    ------
    DataError
        A missing or unreadable file, a folder, missing columns, a row with too few or too
        many cells, non-numeric cells or an impossible profile (one line naming the file).
    """
    if spec in ("standard", "tropical"):
        return named_profile(spec)
    where = f"--profile {spec}"
    if not os.path.isfile(spec):
        raise DataError(f"{where}: {'is a folder' if os.path.isdir(spec) else 'no such file'}")
    try:
        with open(spec, newline="", encoding="utf-8") as fh:
            rows = [(n, r) for n, r in enumerate(csv.reader(fh), start=1) if r and not r[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{where}: cannot read ({exc})") from exc
    if not rows:
        raise DataError(f"{where}: empty file; expected a header pressure_hPa,temperature_K[,height_m]")
    header = [h.strip().lower() for h in rows[0][1]]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"{where}: no column {', '.join(missing)} in the header (have {', '.join(rows[0][1])}); "
            "expected pressure_hPa,temperature_K[,height_m]"
        )
    cols = [header.index(c) for c in (*_REQUIRED, "height_m") if c in header]
    values, dropped = [], 0
    for number, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(
                f"{where}: line {number}: {len(row)} column(s), but the header has {len(header)}; "
                "every row needs one cell per header column (an empty cell drops its level)"
            )
        cells = [row[i].strip() for i in cols]
        if any(c == "" for c in cells):
            dropped += 1
            continue
        try:
            values.append([float(c) for c in cells])
        except ValueError:
            raise DataError(f"{where}: line {number}: not a number in {','.join(cells)}") from None
    table = np.array(values, dtype=np.float64).reshape(-1, len(cols))
    try:
        return profile_from_table(
            table[:, 0],
            table[:, 1],
            table[:, 2] if len(cols) == 3 else None,
            name=os.path.basename(spec),
            source=f"sounding {os.path.basename(spec)}",
            dropped=dropped,
        )
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
