"""Frame times from a file's tags, in a fixed order of trust.

GOES names are parsed by :mod:`cloudmotion.formats.goes_names` and user name patterns by
:mod:`cloudmotion.settings.name_patterns`; this module reads the times that files carry
inside: the netCDF ``time_coverage_start`` attribute (CF/ACDD), the TIFF
``TIFFTAG_DATETIME`` tag, GDAL's GRIB ``GRIB_VALID_TIME`` band item (epoch seconds, older
GDAL write ``"  1474963200 sec UTC"``) and an ``Observation time`` item of GDAL_METADATA
(radar composites).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

__all__ = ["TAG_TIME_KEYS", "parse_tag_time", "tag_time"]

TAG_TIME_KEYS = (
    ("dataset", "NC_GLOBAL#time_coverage_start", "netCDF time_coverage_start"),
    ("dataset", "TIFFTAG_DATETIME", "TIFFTAG_DATETIME"),
    ("band", "GRIB_VALID_TIME", "GRIB_VALID_TIME"),
    ("dataset", "Observation time", "GDAL_METADATA Observation time"),
)
"""(where, key, label) in the order tried; keys are matched without regard to case or to
spaces and underscores (``Observation_time``)."""

_FORMATS = (
    "%Y:%m:%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y%m%d%H%M",
    "%Y%m%d%H%M%S",
    "%Y%m%dT%H%M%S",
)
_EPOCH = re.compile(r"\s*(-?\d{9,11})(?:\.\d*)?\s*(?:sec(?:onds?)?\s*(?:UTC)?)?\s*", re.IGNORECASE)


def parse_tag_time(value: str, *, epoch: bool = False) -> datetime | None:
    """An aware UTC datetime from a tag's text; None when it is not a time.

    Parameters
    ----------
    value : str
        ``2019:10:27 20:00:27`` (TIFF), ISO 8601 with or without ``Z``, ``201609281445``,
        or with ``epoch`` seconds since 1970 (``1474963200`` or ``1474963200 sec UTC``).
    epoch : bool
        Accept epoch seconds (GRIB); a bare 12-digit stamp is then still read as a date.
    """
    text = str(value).strip()
    if epoch and (m := _EPOCH.fullmatch(text)) and len(m[1].lstrip("-")) <= 11:
        return datetime.fromtimestamp(int(m[1]), tz=UTC)
    bare = text.rstrip("Z").rstrip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(bare, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _norm(key: str) -> str:
    return re.sub(r"[\s_]+", "", key).lower()


def tag_time(dataset_tags: Mapping[str, str], band_tags: Mapping[str, str]) -> tuple[datetime | None, str | None]:
    """The first time found in a frame's tags, and where it came from (:data:`TAG_TIME_KEYS`).

    Parameters
    ----------
    dataset_tags, band_tags : mapping
        ``ds.tags()`` and ``ds.tags(band)`` of the frame (rasterio).

    Returns
    -------
    (datetime or None, str or None)
        The time (UTC) and its source label, or (None, None).
    """
    tables = {
        "dataset": {_norm(k): v for k, v in dataset_tags.items()},
        "band": {_norm(k): v for k, v in band_tags.items()},
    }
    for where, key, label in TAG_TIME_KEYS:
        value = tables[where].get(_norm(key))
        if value is not None and (t := parse_tag_time(value, epoch=key.startswith("GRIB"))) is not None:
            return t, label
    return None, None
