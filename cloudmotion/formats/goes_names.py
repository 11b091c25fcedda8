"""GOES ABI file names: scan start times, satellite/sector/band identity, sequence names.

One parser for every edge that reads or writes GOES-style names: the readers (frame
times), ``batch`` (grouping frames into sequences) and ``synth`` (names ``batch`` groups).
Name form (GOES-R PUG vol. 3, sec. 3.3): ``OR_ABI-L1b-RadC-M6C13_G16_s20200040316182_e..._c....nc``,
with ``_sYYYYJJJHHMMSSt`` the scan start (day of year, tenths of a second); the short form
``G17_M1_C13_s20193002000275.tif`` of derived frames is recognised too.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta

__all__ = ["goes_sequence", "goes_stamp", "parse_goes_name", "start_stamp"]

_GOES_RE = re.compile(
    r"OR_ABI-(?P<level>L\w+?)-(?P<product>[A-Za-z]+?)(?P<sector>F|C|M1|M2)-M(?P<mode>\d)C?(?P<band>\d{2})?"
    r"_(?P<sat>G\d{2})_s(?P<start>\d{13,14})"
)
_START_RE = re.compile(r"_s(\d{4})(\d{3})(\d{2})(\d{2})(\d{2})(\d)?(?=[_.]|$)")
_SHORT_GOES_RE = re.compile(r"(?:^|_)(?P<sat>G\d{2})_(?P<sector>F|C|M1|M2)_C(?P<band>\d{2})_s\d{13,14}(?=[_.]|$)")


def start_stamp(name: str) -> re.Match | None:
    """The ``_sYYYYJJJHHMMSSt`` stamp of a base name, valid or not (None when absent)."""
    return _START_RE.search(os.path.basename(name))


def parse_goes_name(name: str) -> tuple[datetime | None, dict | None]:
    """Scan start time and identity from a GOES ABI file name.

    Parameters
    ----------
    name : str
        File name or path, e.g.
        ``OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e..._c....nc``.

    Returns
    -------
    time : datetime or None
        The ``_sYYYYJJJHHMMSSt`` start time (UTC, tenths of a second kept).
    ident : dict or None
        ``{"satellite": "G16", "sector": "C", "band": 16, "product": "Rad"}`` for a full
        GOES ABI name; for the short form (``G17_M1_C13_s...``) the product is None;
        None for other names.
    """
    base = os.path.basename(name)
    time = None
    m = _START_RE.search(base)
    if m:
        year, doy, hh, mm, ss, tenth = m.groups()
        try:
            time = datetime(int(year), 1, 1, tzinfo=UTC) + timedelta(
                days=int(doy) - 1, hours=int(hh), minutes=int(mm), seconds=int(ss), milliseconds=100 * int(tenth or 0)
            )
        except ValueError:
            time = None
        if time is not None and not (1 <= int(doy) <= 366 and int(hh) < 24 and int(mm) < 60 and int(ss) < 61):
            time = None
    g = _GOES_RE.search(base)
    ident = None
    if g:
        ident = {
            "satellite": g["sat"],
            "sector": g["sector"],
            "band": int(g["band"]) if g["band"] else None,
            "product": g["product"],
        }
    elif (m := _SHORT_GOES_RE.search(base)) is not None:
        ident = {"satellite": m["sat"], "sector": m["sector"], "band": int(m["band"]), "product": None}
    return time, ident


def goes_stamp(t: datetime) -> str:
    """``YYYYJJJHHMMSSt``: the GOES ABI ``_s`` start-time stamp of ``t`` (tenths of a second)."""
    return f"{t:%Y}{t.timetuple().tm_yday:03d}{t:%H%M%S}{t.microsecond // 100000}"


def goes_sequence(path: str) -> tuple[str, datetime] | None:
    """Sequence name and start time from a full or short GOES name; None for other names.

    The sequence name is ``{satellite}_{sector}_C{band}``, e.g. ``G16_C_C13``, with the
    product appended for products other than L1b radiance (``G16_C_C13_CMIP``).
    """
    when, ident = parse_goes_name(path)
    if when is None or ident is None:
        return None
    name = f"{ident['satellite']}_{ident['sector']}"
    if ident["band"] is not None:
        name += f"_C{ident['band']:02d}"
    if ident["product"] not in (None, "Rad"):
        name += f"_{ident['product']}"
    return name, when
