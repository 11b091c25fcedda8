"""Frame names with strftime fields (``--name-pattern``): a frame's sequence and time.

``'%Y%m%d%H%M_radar.tif'`` gives the time of ``201609281445_radar.tif``; a ``*`` names one
sequence per matched text. ``track`` takes its frame times from it and ``batch`` groups
and times frames by it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cloudmotion.errors import UsageError

__all__ = ["FrameRef", "NamePattern", "compile_name_pattern"]

_DIRECTIVES = {
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "f": r"\d{1,6}",
}


@dataclass(frozen=True)
class FrameRef:
    """A frame found on disk: where it is, which sequence it belongs to and when it was taken."""

    path: str
    sequence: str
    time: datetime


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")


@dataclass(frozen=True)
class NamePattern:
    """A file-name pattern with strftime fields, from :func:`compile_name_pattern`."""

    pattern: str
    regex: re.Pattern
    fields: tuple[str, ...]
    label: str

    def match(self, path: str) -> FrameRef | None:
        """The frame's sequence and time, or None when the base name does not match."""
        m = self.regex.fullmatch(os.path.basename(path))
        if m is None:
            return None
        values = [m[f"t{i}"] for i in range(len(self.fields))]
        try:
            when = datetime.strptime("|".join(values), "|".join("%" + f for f in self.fields))
        except ValueError:
            return None
        wild = [_safe(v) for k, v in m.groupdict().items() if k.startswith("w")]
        sequence = "_".join(w for w in wild if w) or self.label
        return FrameRef(path=path, sequence=sequence, time=when.replace(tzinfo=UTC))


def compile_name_pattern(pattern: str) -> NamePattern:
    """Compile a base-name pattern such as ``%Y%m%d%H%M_radar.tif``.

    Supported fields: ``%Y %y %m %d %j %H %M %S %f`` and ``%%``; ``*`` matches any text
    and names the sequence (``*_%Y%m%d%H%M.tif`` makes one sequence per prefix). Without
    ``*`` all matching files form one sequence named after the pattern's literal text
    (``radar``). Times are UTC.

    Raises
    ------
    UsageError
        An unsupported field, a path separator, or no date and time fields.
    """
    parts: list[str] = []
    fields: list[str] = []
    literal: list[str] = []
    wild = 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern) and pattern[i + 1] in _DIRECTIVES:
            parts.append(f"(?P<t{len(fields)}>{_DIRECTIVES[pattern[i + 1]]})")
            fields.append(pattern[i + 1])
            i += 2
            continue
        if c == "%" and pattern[i + 1 : i + 2] == "%":
            parts.append("%")
            i += 2
            continue
        if c == "%":
            raise UsageError(
                f"--name-pattern {pattern}: unsupported field {pattern[i : i + 2]!r}; use %Y %y %m %d %j %H %M %S %f"
            )
        if c == "*":
            parts.append(f"(?P<w{wild}>.+?)")
            wild += 1
        else:
            parts.append(re.escape(c))
            literal.append(c)
        i += 1
    if "/" in pattern or os.sep in pattern:
        raise UsageError(f"--name-pattern {pattern}: matches file names, not paths; drop the folders")
    has_year = bool({"Y", "y"} & set(fields))
    if not has_year or not ({"m", "d"} <= set(fields) or "j" in fields):
        raise UsageError(
            f"--name-pattern {pattern}: needs a date (%Y with %m%d or %j) and usually a time "
            "(%H%M), e.g. %Y%m%d%H%M_radar.tif"
        )
    label = _safe(os.path.splitext("".join(literal))[0]) or "frames"
    return NamePattern(pattern=pattern, regex=re.compile("".join(parts)), fields=tuple(fields), label=label)
