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

__all__ = ["ABI_BANDS", "describe_goes", "goes_sequence", "goes_stamp", "is_infrared", "parse_goes_name", "start_stamp"]

ABI_BANDS = {
    1: "0.47 µm",
    2: "0.64 µm",
    3: "0.86 µm",
    4: "1.37 µm",
    5: "1.6 µm",
    6: "2.2 µm",
    7: "3.9 µm",
    8: "6.2 µm",
    9: "6.9 µm",
    10: "7.3 µm",
    11: "8.4 µm",
    12: "9.6 µm",
    13: "10.3 µm",
    14: "11.2 µm",
    15: "12.3 µm",
    16: "13.3 µm",
}
"""ABI band centre wavelengths (GOES-R PUG vol. 3); bands 1-6 reflective, 7-16 emissive (8-10 water vapour)."""

_SECTORS = {"F": "Full Disk", "C": "CONUS", "M1": "Mesoscale-1", "M2": "Mesoscale-2"}


def is_infrared(ident: dict | None) -> bool:
    """Whether a GOES identity names an emissive ABI band (7-16: infrared and water vapour),
    drawn inverted so that cold cloud tops are white; False when unknown."""
    band = (ident or {}).get("band")
    return band is not None and 7 <= int(band) <= 16


def describe_goes(ident: dict) -> str:
    """``GOES-17 ABI band 13 (10.3 µm), Mesoscale-1`` from a GOES identity."""
    sat = str(ident.get("satellite") or "")
    name = f"GOES-{int(sat[1:])}" if sat[1:].isdigit() else sat or "GOES"
    band = ident.get("band")
    text = name + (f" ABI band {band}" + (f" ({ABI_BANDS[band]})" if band in ABI_BANDS else "") if band else "")
    sector = ident.get("sector")
    return text + (f", {_SECTORS.get(sector, sector)}" if sector else "")


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
