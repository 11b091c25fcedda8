"""Finding frames: inputs (files, folders, globs, path lists) to time-sorted sequences.

Frames are grouped by their GOES names (:mod:`cloudmotion.formats.goes_names`) or by a
user's strftime pattern (``--name-pattern``). No click and no printing: warnings are
returned.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from ..errors import DataError, UsageError
from ..formats.goes_names import goes_sequence

__all__ = ["FrameRef", "NamePattern", "collect_paths", "compile_name_pattern", "goes_identity", "group_frames",
           "read_path_list", "read_paths_from"]

_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "j": r"\d{3}", "H": r"\d{2}",
               "M": r"\d{2}", "S": r"\d{2}", "f": r"\d{1,6}"}


@dataclass(frozen=True)
class FrameRef:
    """A frame found on disk: where it is, which sequence it belongs to and when it was taken."""

    path: str
    sequence: str
    time: datetime


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")


def goes_identity(path: str) -> FrameRef | None:
    """Sequence and time from a GOES ABI name (``OR_ABI-L1b-RadC-M6C13_G16_s...``) or the short
    form of the sample frames (``G17_M1_C13_s20193002000275.tif``); None for other names.

    The sequence name comes from :func:`cloudmotion.formats.goes_names.goes_sequence`.
    """
    found = goes_sequence(path)
    return None if found is None else FrameRef(path=path, sequence=found[0], time=found[1])


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
    parts, fields, literal, wild = [], [], [], 0
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "%" and i + 1 < len(pattern) and pattern[i + 1] in _DIRECTIVES:
            parts.append(f"(?P<t{len(fields)}>{_DIRECTIVES[pattern[i + 1]]})")
            fields.append(pattern[i + 1])
            i += 2
            continue
        if c == "%" and pattern[i + 1:i + 2] == "%":
            parts.append("%")
            i += 2
            continue
        if c == "%":
            raise UsageError(f"--name-pattern {pattern}: unsupported field {pattern[i:i + 2]!r}; "
                             "use %Y %y %m %d %j %H %M %S %f")
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
        raise UsageError(f"--name-pattern {pattern}: needs a date (%Y with %m%d or %j) and usually a time "
                         "(%H%M), e.g. %Y%m%d%H%M_radar.tif")
    label = _safe(os.path.splitext("".join(literal))[0]) or "frames"
    return NamePattern(pattern=pattern, regex=re.compile("".join(parts)), fields=tuple(fields), label=label)


MAX_LIST_BYTES = 64 * 1024 * 1024
"""Largest path list read from ``--files-from`` (64 MiB: about a million paths)."""


def read_path_list(stream: IO[str] | IO[bytes], source: str = "-", *, limit: int = MAX_LIST_BYTES) -> list[str]:
    """Paths from a text stream, one per line; blank lines are ignored.

    At most ``limit`` bytes are read, so ``/dev/zero`` or a runaway pipe cannot exhaust
    memory; binary data (a NUL byte) is refused. Bytes that are not UTF-8 are kept as
    :func:`os.fsdecode` keeps them, as for names on the command line.

    Raises
    ------
    UsageError
        ``--files-from SOURCE: ...`` naming the problem (and the line for binary data).
    """
    binary = getattr(stream, "buffer", stream)
    data = binary.read(limit + 1)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    if len(data) > limit:
        raise UsageError(f"--files-from {source}: more than {limit // (1024 * 1024)} MiB of paths; "
                         "split the list into several runs")
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise UsageError(f"--files-from {source}: line {line}: binary data (a NUL byte), not a list of paths")
    text = os.fsdecode(data)  # file names need not be UTF-8: decoded as the command line is
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def read_paths_from(source: str, stdin: IO | None = None) -> list[str]:
    """The paths listed in ``--files-from SOURCE`` (``-`` reads ``stdin``), see :func:`read_path_list`.

    Raises
    ------
    UsageError
        The file cannot be read, is too large or holds binary data.
    """
    if source == "-":
        return read_path_list(stdin, source)
    if os.path.isdir(source):
        raise UsageError(f"--files-from {source}: is a folder; give it as INPUT, or a file listing paths")
    try:
        with open(source, "rb") as fh:
            return read_path_list(fh, source)
    except OSError as exc:
        raise UsageError(f"--files-from {source}: cannot read ({exc.strerror or exc})") from None


def _walk(folder: str, exclude: str | None) -> Iterator[str]:
    """Files under ``folder``, sorted, skipping hidden files and folders and ``exclude``."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.abspath(os.path.join(root, d)) != exclude)
        yield from (os.path.join(root, f) for f in sorted(files) if not f.startswith("."))


def _expand(item: str, *, allow_glob: bool, exclude: str | None, where: str) -> tuple[list[tuple[str, bool]], str | None]:
    if os.path.isdir(item):
        return [(p, False) for p in _walk(item, exclude)], None
    if os.path.exists(item):
        return [(item, True)], None
    if allow_glob and any(c in item for c in "*?["):
        out: list[tuple[str, bool]] = []
        for p in sorted(glob.glob(item, recursive=True)):
            out += [(q, False) for q in _walk(p, exclude)] if os.path.isdir(p) else [(p, True)]
        return out, None if out else f"{where}{item}: matches no file"
    raise DataError(f"{where}{item}: no such file or folder")


def collect_paths(inputs: Iterable[str], listed: Iterable[str] = (), *,
                  exclude: str | None = None) -> tuple[list[tuple[str, bool]], list[str]]:
    """Expand INPUT folders (recursively), globs and listed paths into files.

    Parameters
    ----------
    inputs : iterable of str
        Files, folders or glob patterns (``**`` recurses).
    listed : iterable of str
        Files or folders from ``--files-from`` (never globbed).
    exclude : str, optional
        A folder not to descend into (the output folder).

    Returns
    -------
    paths : list of (absolute path, explicit)
        ``explicit`` is True for files named directly or by a glob, False for files found
        in a folder. Each file once, in the order found.
    warnings : list of str

    Raises
    ------
    DataError
        A path that does not exist.
    """
    exclude = os.path.abspath(exclude) if exclude else None
    seen, out, warnings = set(), [], []
    items = [(i, True, "") for i in inputs] + [(i, False, "--files-from: ") for i in listed]
    for item, allow_glob, where in items:
        found, warning = _expand(item, allow_glob=allow_glob, exclude=exclude, where=where)
        if warning:
            warnings.append(warning)
        for path, explicit in found:
            full = os.path.abspath(path)
            if full not in seen:
                seen.add(full)
                out.append((full, explicit))
    return out, warnings


def group_frames(paths: Iterable[tuple[str, bool]],
                 pattern: NamePattern | None = None) -> tuple[dict[str, list[FrameRef]], list[str]]:
    """Group files into sequences by GOES identity (or ``pattern``), each sorted by time.

    Parameters
    ----------
    paths : iterable of (path, explicit)
        From :func:`collect_paths`.
    pattern : NamePattern, optional
        Used instead of GOES names.

    Returns
    -------
    sequences : dict
        Sequence name -> frames in time order. A second frame with the same sequence and
        time is dropped with a warning.
    warnings : list of str
        Including one for explicitly named files whose names are not understood.

    Raises
    ------
    DataError
        When no file has a name that can be understood.
    """
    identify = pattern.match if pattern else goes_identity
    groups: dict[str, dict[datetime, FrameRef]] = {}
    warnings, ignored, total = [], [], 0
    for path, explicit in paths:
        total += 1
        ref = identify(path)
        if ref is None:
            if explicit:
                ignored.append(path)
            continue
        first = groups.setdefault(ref.sequence, {}).setdefault(ref.time, ref)
        if first is not ref:
            warnings.append(f"{path}: same sequence and time as {first.path}; ignored")
    how = f"--name-pattern {pattern.pattern}" if pattern else "a GOES ABI file name (or give --name-pattern)"
    if ignored:
        warnings.append(f"{len(ignored)} file(s) ignored, e.g. {ignored[0]}: the name does not match {how}")
    if not groups:
        raise DataError(f"no frames found: none of {total} file(s) has a name matching {how}")
    return {seq: [frames[t] for t in sorted(frames)] for seq, frames in sorted(groups.items())}, warnings



