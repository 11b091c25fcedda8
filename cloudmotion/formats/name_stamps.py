"""Frame times from common file names: one unambiguous date-time stamp, found without a pattern.

Radar composites, PIV recordings and many archives name frames by their time:
``201609281445_FINUTM.tif``, ``radar_20190610-000000.tif``, ``comp.2019.1117.1940.tif``.
A name gives a time when it holds exactly one stamp, in one of these forms, as a whole run
of digits and separators (a stamp never starts or ends inside a longer number):

- ``YYYYmmddHHMM`` or ``YYYYmmddHHMMSS`` (12 or 14 digits);
- ``YYYYmmdd-HHMM[SS]`` or ``YYYYmmdd_HHMM[SS]`` or ``YYYYmmddTHHMM[SS]``;
- ``YYYY.mmdd.HHMM[SS]``;
- ``YYYY-mm-ddTHH:MM[:SS]``, also with ``_`` or ``-`` between the date and the time, and
  ``-`` or nothing between hours, minutes and seconds.

The date and time must exist (month 1-12, day of that month, hour below 24) and the year lie
in 1900-2199. A name with two different stamps, or with digits that could be read in more
than one way, gives no time: no guess. ``--name-pattern`` is the way to say what a name
means when this is not enough. The order of trust is ``--name-pattern``, a GOES name, the
file's tags, then this automatic stamp.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["NameStamp", "name_stamp"]

_D = r"(?P<Y>(?:19|20|21)\d\d)"
_FORMS = (
    rf"{_D}(?P<m>\d\d)(?P<d>\d\d)(?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)?",
    rf"{_D}(?P<m>\d\d)(?P<d>\d\d)[-_T](?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)?",
    rf"{_D}\.(?P<m>\d\d)(?P<d>\d\d)\.(?P<H>\d\d)(?P<M>\d\d)(?P<S>\d\d)?",
    rf"{_D}-(?P<m>\d\d)-(?P<d>\d\d)[T_ -](?P<H>\d\d)[:-]?(?P<M>\d\d)(?:[:-]?(?P<S>\d\d))?",
)
_PATTERNS = [re.compile(rf"(?<!\d)(?:{f})(?!\d)") for f in _FORMS]
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class NameStamp:
    """The time a file name holds.

    Attributes
    ----------
    time : datetime
        UTC.
    text : str
        The stamp as written in the name.
    rest : str
        The name without the stamp and its extension, separators trimmed: the sequence the
        frame belongs to (``FINUTM`` for ``201609281445_FINUTM.tif``; ``frames`` when
        nothing is left).
    """

    time: datetime
    text: str
    rest: str


def _time(m: re.Match) -> datetime | None:
    g = m.groupdict()
    try:
        return datetime(int(g["Y"]), int(g["m"]), int(g["d"]), int(g["H"]), int(g["M"]), int(g["S"] or 0), tzinfo=UTC)
    except ValueError:
        return None


def name_stamp(path: str) -> NameStamp | None:
    """The one unambiguous date-time stamp of a file name, or None.

    Parameters
    ----------
    path : str
        A path; only the file name counts.

    Returns
    -------
    NameStamp or None
        None when the name holds no stamp, more than one (different times or places), or
        a stamp that is no real date and time.
    """
    base = os.path.basename(path)
    found: dict[tuple[int, int], re.Match] = {}
    for pat in _PATTERNS:
        for m in pat.finditer(base):
            found.setdefault(m.span(), m)
    if not found:
        return None
    # keep the widest reading of each place: 2019.1117.1940 is one stamp, not a shorter one inside it
    spans = sorted(found, key=lambda s: (s[0], -(s[1] - s[0])))
    kept: list[re.Match] = []
    for span in spans:
        if kept and span[0] < kept[-1].span()[1]:
            continue
        kept.append(found[span])
    if len(kept) != 1:
        return None
    m = kept[0]
    t = _time(m)
    if t is None:
        return None
    start, end = m.span()
    stem, _ = os.path.splitext(base[:start] + "\0" + base[end:])
    rest = stem.replace("\0", "_")
    rest = re.sub(r"[_\-. ]{2,}", "_", rest).strip("_-. ") or "frames"
    if any(len(run) >= 12 for run in _DIGITS.findall(rest)):
        return None  # another long number in the name: which one is the time is a guess
    return NameStamp(time=t, text=m.group(0), rest=rest)
