"""Durations as settings take them: seconds, or a number with a unit (``20min``, ``1h``)."""

from __future__ import annotations

import re

__all__ = ["parse_duration"]

_DURATION_UNITS = {
    "": 1,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
}


def parse_duration(text: str) -> float | None:
    """Seconds from ``600``, ``600s``, ``20min``, ``1.5h`` or ``1d``; None when not a duration.

    Parameters
    ----------
    text : str
        A non-negative number, optionally followed by a unit: s, min (or m), h, d and their
        long forms (``seconds``, ``minutes``, ``hours``, ``days``).

    Returns
    -------
    float or None
        Seconds; None when ``text`` is not of that form (the rule that checks the value,
        e.g. > 0, is the setting's).
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", str(text))
    if not m or m[2].lower() not in _DURATION_UNITS:
        return None
    return float(m[1]) * _DURATION_UNITS[m[2].lower()]
