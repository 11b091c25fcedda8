"""Archives: find frames, group them into time-sorted sequences and plan the pairs (or
triplets) of a batch run, with their output names.

No click and no printing: warnings are returned. See :mod:`cloudmotion.batch` for running
the plan and :mod:`cloudmotion.manifest` for the output folder's lock and manifest.
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from ..errors import DataError, UsageError
from ..formats.goes_names import goes_sequence
from ..formats.writers import writer_name_for as output_kind
from ..registry import WRITER_SUFFIXES

__all__ = [
    "DEFAULT_TEMPLATE",
    "FORMATS",
    "FrameRef",
    "NamePattern",
    "Plan",
    "Task",
    "check_template",
    "collect_paths",
    "compile_name_pattern",
    "goes_identity",
    "group_frames",
    "iso",
    "parse_duration",
    "parse_formats",
    "plan_batch",
    "read_path_list",
    "render_outputs",
]

DEFAULT_TEMPLATE = "{sequence}/{time_a:%Y%m%dT%H%M%S}_{time_b:%H%M%S}.{ext}"
"""Output names, relative to the output folder; one file per pair and format."""

FORMATS = tuple(ext.lstrip(".") for ext in WRITER_SUFFIXES)
"""Output formats (file extensions) that ``--format`` accepts: those of ``track -o``."""

_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "j": r"\d{3}", "H": r"\d{2}",
               "M": r"\d{2}", "S": r"\d{2}", "f": r"\d{1,6}"}
_UNITS = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
          "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
          "d": 86400, "day": 86400, "days": 86400}



# options


def parse_duration(text: str, option: str = "--max-gap") -> float:
    """Seconds from ``600``, ``600s``, ``20min``, ``1.5h`` or ``1d``.

    Raises
    ------
    UsageError
        Naming ``option`` when the text is not a positive duration.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*", text)
    if not m or m[2].lower() not in _UNITS or float(m[1]) <= 0:
        raise UsageError(f"{option} {text}: not a duration; use seconds or a unit, e.g. 600, 20min, 1h")
    return float(m[1]) * _UNITS[m[2].lower()]


def parse_formats(text: str) -> list[str]:
    """Output formats from a comma-separated list such as ``csv,tif``.

    Raises
    ------
    UsageError
        An unknown or repeated format.
    """
    formats = [f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()]
    for f in formats:
        if f not in FORMATS:
            raise UsageError(f"--format {text}: unknown format {f!r}; use one or more of {', '.join(FORMATS)}, "
                             "e.g. csv,tif")
    if not formats or len({output_kind("x." + f) for f in formats}) != len(formats):
        raise UsageError(f"--format {text}: give each format once")
    return formats


def render_outputs(template: str, sequence: str, time_a: datetime, time_b: datetime,
                   formats: Sequence[str]) -> tuple[str, ...]:
    """Output paths of one pair, relative to the output folder, one per format.

    Parameters
    ----------
    template : str
        A :meth:`str.format` template with ``{sequence}``, ``{time_a:...}``, ``{time_b:...}``
        (datetimes, UTC, strftime specs) and ``{ext}``.
    sequence : str
    time_a, time_b : datetime
    formats : sequence of str
        Extensions, from :func:`parse_formats`.

    Raises
    ------
    UsageError
        A bad placeholder, or a name that leaves the output folder.
    """
    out = []
    for ext in formats:
        try:
            name = template.format(sequence=sequence, time_a=time_a, time_b=time_b, ext=ext)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise UsageError(f"--template {template}: bad placeholder ({exc}); use {{sequence}}, "
                             "{time_a:%Y%m%dT%H%M%S}, {time_b:...} and {ext}") from None
        norm = os.path.normpath(name)
        if not name or os.path.isabs(name) or norm == "." or norm.split(os.sep)[0] == "..":
            raise UsageError(f"--template {template}: gives {name!r}, which is not a file name inside the output folder")
        out.append(norm)
    return tuple(out)


def check_template(template: str, formats: Sequence[str]) -> None:
    """Render ``template`` for a dummy pair so a bad one fails before any work.

    Raises
    ------
    UsageError
        Bad placeholders, a name outside the output folder, formats writing to one name, or
        an extension that does not match the format.
    """
    t = datetime(2000, 1, 1, tzinfo=UTC)
    names = render_outputs(template, "seq", t, t, formats)
    if len(set(names)) != len(names):
        raise UsageError(f"--template {template}: the formats {','.join(formats)} give the same name; add {{ext}}")
    for name, ext in zip(names, formats, strict=True):
        if output_kind(name) != output_kind("x." + ext):
            raise UsageError(f"--template {template}: gives {name!r} for format {ext}; end the name with .{{ext}}")



# finding frames


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


def read_path_list(stream: IO[str]) -> list[str]:
    """Paths from a text stream, one per line; blank lines are ignored."""
    return [line.rstrip("\r\n") for line in stream if line.strip()]


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



# planning


@dataclass(frozen=True)
class Task:
    """One unit of work: two or three frames of a sequence, tracked together.

    Attributes
    ----------
    sequence : str
    frames : tuple of str
        Absolute paths, in time order.
    times : tuple of datetime
    outdir : str
        Absolute output folder.
    pairs : tuple of (int, tuple of str)
        The pairs to write: index ``k`` (frames[k] -> frames[k + 1]) and output paths
        relative to ``outdir``. In a triplet a pair that is already done is tracked but
        not written.
    """

    sequence: str
    frames: tuple[str, ...]
    times: tuple[datetime, ...]
    outdir: str
    pairs: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass
class Plan:
    """What a run will do, from :func:`plan_batch`."""

    tasks: list[Task] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    done: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def npairs(self) -> int:
        """Pairs to track and write."""
        return sum(len(t.pairs) for t in self.tasks)


def _human(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def iso(t: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, tenths of a second when there are any (as in the CSV)."""
    s = f"{t:%Y-%m-%dT%H:%M:%S}"
    return s + (f".{t.microsecond // 100000}" if t.microsecond else "") + "Z"


def _segments(frames: list[FrameRef], max_gap: float | None) -> tuple[list[list[FrameRef]], list[tuple]]:
    """Split a time-sorted sequence where consecutive frames are more than ``max_gap`` s apart."""
    segments, gaps = [[frames[0]]], []
    for a, b in itertools.pairwise(frames):
        gap = (b.time - a.time).total_seconds()
        if max_gap is not None and gap > max_gap:
            gaps.append((a, b, gap))
            segments.append([b])
        else:
            segments[-1].append(b)
    return segments, gaps


def _task_spans(nframes: int, triplets: bool) -> list[tuple[int, int, tuple[int, ...]]]:
    """(first frame, end frame, own pair indices) of each task over a segment of ``nframes``.

    Pairs: every consecutive pair. Triplets: frames (0, 1, 2), (2, 3, 4), ... so each pair
    belongs to one triplet; an odd last pair is tracked in the triplet of the three last
    frames (so it too has a neighbour for the temporal check) and only it is written.
    """
    m = nframes - 1
    if not triplets or m < 2:
        return [(i, i + 2, (0,)) for i in range(m)]
    spans = [(i, i + 3, (0, 1)) for i in range(0, m - 1, 2)]
    if m % 2:
        spans.append((m - 2, m + 1, (1,)))
    return spans


def _skipped_record(seq: str, a: FrameRef, b: FrameRef, reason: str, run: str | None) -> dict:
    return {"run": run, "sequence": seq, "time_a": iso(a.time), "time_b": iso(b.time), "inputs": [a.path, b.path],
            "outputs": [], "status": "skipped", "vectors": None, "good": None, "good_fraction": None,
            "duration": 0.0, "error": reason}


def plan_batch(sequences: dict[str, list[FrameRef]], *, outdir: str, template: str = DEFAULT_TEMPLATE,
               formats: Sequence[str] = ("csv",), triplets: bool = False, max_gap: float | None = None,
               overwrite: bool = False, run: str | None = None) -> Plan:
    """Turn sequences into tasks, leaving out pairs whose outputs all exist.

    Parameters
    ----------
    sequences : dict
        From :func:`group_frames`.
    outdir : str
        Output folder.
    template, formats
        Output names, see :func:`render_outputs`.
    triplets : bool
        Track three frames per task (see :func:`_task_spans`).
    max_gap : float, optional
        Seconds; a longer gap between consecutive frames is not tracked (a skipped record
        and a warning).
    overwrite : bool
        Redo pairs whose outputs exist.
    run : str, optional
        Run identifier copied into the skipped records.

    Returns
    -------
    Plan

    Raises
    ------
    UsageError
        When two pairs would write the same output.
    """
    outdir = os.path.abspath(outdir)
    plan, owner = Plan(), {}
    for seq, frames in sequences.items():
        segments, gaps = _segments(frames, max_gap)
        for a, b, gap in gaps:
            reason = f"gap of {_human(gap)} exceeds --max-gap {_human(max_gap)}"
            plan.skipped.append(_skipped_record(seq, a, b, reason, run))
            plan.warnings.append(f"{seq}: {os.path.basename(a.path)} -> {os.path.basename(b.path)}: {reason}; "
                                 "pair skipped")
        for seg in segments:
            for start, stop, own in _task_spans(len(seg), triplets):
                fr = seg[start:stop]
                todo = []
                for k in own:
                    outs = render_outputs(template, seq, fr[k].time, fr[k + 1].time, formats)
                    for o in outs:
                        if owner.setdefault(o, fr[k].path) != fr[k].path:
                            raise UsageError(f"--template {template}: two pairs write {o}; add "
                                             "{time_a:%Y%m%dT%H%M%S} or {sequence}")
                    if overwrite or not all(os.path.exists(os.path.join(outdir, o)) for o in outs):
                        todo.append((k, outs))
                plan.done += len(own) - len(todo)
                if todo:
                    plan.tasks.append(Task(sequence=seq, frames=tuple(f.path for f in fr),
                                           times=tuple(f.time for f in fr), outdir=outdir, pairs=tuple(todo)))
    return plan
