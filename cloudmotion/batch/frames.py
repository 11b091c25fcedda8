"""Finding frames: inputs (files, folders, globs, path lists) to time-sorted sequences.

Frames are grouped by their GOES names (:mod:`cloudmotion.formats.goes_names`) or by a
user's strftime pattern (``--name-pattern``). No click and no printing: warnings are
returned.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import IO

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.goes_names import goes_sequence
from cloudmotion.formats.name_stamps import name_stamp
from cloudmotion.settings.name_patterns import (
    FrameRef,
    NamePattern,
    compile_name_pattern,
)

__all__ = [
    "FrameRef",
    "NamePattern",
    "collect_paths",
    "compile_name_pattern",
    "goes_identity",
    "group_frames",
    "read_path_list",
    "read_paths_from",
    "stamp_identity",
]


def goes_identity(path: str) -> FrameRef | None:
    """Sequence and time from a GOES ABI name (``OR_ABI-L1b-RadC-M6C13_G16_s...``) or the short
    form of the sample frames (``G17_M1_C13_s20193002000275.tif``); None for other names.

    The sequence name comes from :func:`cloudmotion.formats.goes_names.goes_sequence`.
    """
    found = goes_sequence(path)
    return None if found is None else FrameRef(path=path, sequence=found[0], time=found[1])


def stamp_identity(path: str) -> FrameRef | None:
    """Sequence and time from one unambiguous date-time stamp in the name
    (:func:`cloudmotion.formats.name_stamps.name_stamp`): ``201609281445_FINUTM.tif`` is frame
    2016-09-28 14:45 of sequence ``FINUTM`` (the name without its stamp). None otherwise."""
    found = name_stamp(path)
    return None if found is None else FrameRef(path=path, sequence=found.rest, time=found.time)


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
        raise UsageError(
            f"--files-from {source}: more than {limit // (1024 * 1024)} MiB of paths; split the list into several runs"
        )
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
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.abspath(os.path.join(root, d)) != exclude)
        yield from (os.path.join(root, f) for f in sorted(files) if not f.startswith("."))


def _expand(
    item: str, *, allow_glob: bool, exclude: str | None, where: str
) -> tuple[list[tuple[str, bool]], str | None]:
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


def collect_paths(
    inputs: Iterable[str], listed: Iterable[str] = (), *, exclude: str | None = None, missing: list[str] | None = None
) -> tuple[list[tuple[str, bool]], list[str]]:
    """Expand INPUT folders (recursively), globs and listed paths into files.

    Parameters
    ----------
    inputs : iterable of str
        Files, folders or glob patterns (``**`` recurses).
    listed : iterable of str
        Files or folders from ``--files-from`` (never globbed).
    exclude : str, optional
        A folder not to descend into (the output folder).
    missing : list, optional
        Receives the listed paths that do not exist (absolute), instead of an error: one
        missing file of a ``--files-from`` list fails only that input.

    Returns
    -------
    paths : list of (absolute path, explicit)
        ``explicit`` is True for files named directly or by a glob, False for files found
        in a folder. Each file once, in the order found.
    warnings : list of str

    Raises
    ------
    DataError
        A path that does not exist (an INPUT, or a listed one without ``missing``).
    """
    exclude = os.path.abspath(exclude) if exclude else None
    seen, out, warnings = set(), [], []
    items = [(i, True, "") for i in inputs] + [(i, False, "--files-from: ") for i in listed]
    for item, allow_glob, where in items:
        if missing is not None and not allow_glob and not os.path.exists(item):
            missing.append(os.path.abspath(item))
            continue
        found, warning = _expand(item, allow_glob=allow_glob, exclude=exclude, where=where)
        if warning:
            warnings.append(warning)
        for path, explicit in found:
            full = os.path.abspath(path)
            if full not in seen:
                seen.add(full)
                out.append((full, explicit))
    return out, warnings


def group_frames(
    paths: Iterable[tuple[str, bool]], pattern: NamePattern | None = None
) -> tuple[dict[str, list[FrameRef]], list[str]]:
    """Group files into sequences by GOES identity, else by the name without its one date-time
    stamp (:func:`stamp_identity`), or by ``pattern`` alone; each sorted by time.

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
    identify = pattern.match if pattern else (lambda p: goes_identity(p) or stamp_identity(p))
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
    how = (
        f"--name-pattern {pattern.pattern}"
        if pattern
        else "a GOES ABI file name or one date-time stamp (or give --name-pattern)"
    )
    if ignored:
        warnings.append(f"{len(ignored)} file(s) ignored, e.g. {ignored[0]}: the name does not match {how}")
    if not groups:
        raise DataError(f"no frames found: none of {total} file(s) has a name matching {how}")
    return {seq: [frames[t] for t in sorted(frames)] for seq, frames in sorted(groups.items())}, warnings
