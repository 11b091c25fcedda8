"""Planning a batch run: the pairs (or triplets) of each sequence, with their output names.

Frames are found and grouped by :mod:`cloudmotion.batch.frames`.

No click and no printing: warnings are returned. See :mod:`cloudmotion.batch` for running
the plan and :mod:`cloudmotion.manifest` for the output folder's lock and manifest.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cloudmotion.batch.frames import (
    FrameRef,
    NamePattern,
    collect_paths,
    compile_name_pattern,
    goes_identity,
    group_frames,
    read_path_list,
)
from cloudmotion.errors import UsageError
from cloudmotion.files.safety import InputSet, check_not_inputs, output_complete
from cloudmotion.files.templates import check_fields
from cloudmotion.files.times import format_iso
from cloudmotion.formats.writers import writer_name_for as output_kind
from cloudmotion.registry import WRITER_SUFFIXES
from cloudmotion.settings.durations import parse_duration as _parse

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
    "gap_warning",
    "goes_identity",
    "group_frames",
    "parse_duration",
    "parse_formats",
    "plan_batch",
    "read_path_list",
    "render_outputs",
]

_TEMPLATE_FIELDS = ("sequence", "time_a", "time_b", "ext")

DEFAULT_TEMPLATE = "{sequence}/{time_a:%Y%m%dT%H%M%S}_{time_b:%H%M%S}.{ext}"
"""Output names, relative to the output folder; one file per pair and format."""

FORMATS = tuple(ext.lstrip(".") for ext in WRITER_SUFFIXES)
"""Output formats (file extensions) that ``--format`` accepts: those of ``track -o``."""


# options


def parse_duration(text: str, option: str = "--max-gap") -> float:
    """Seconds from ``600``, ``600s``, ``20min``, ``1.5h`` or ``1d``.

    Raises
    ------
    UsageError
        Naming ``option`` when the text is not a positive duration.
    """
    seconds = _parse(text)
    if seconds is None or seconds <= 0:
        raise UsageError(f"{option} {text}: not a duration; use seconds or a unit, e.g. 600, 20min, 1h")
    return seconds


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
            raise UsageError(
                f"--format {text}: unknown format {f!r}; use one or more of {', '.join(FORMATS)}, e.g. csv,tif"
            )
    if not formats or len({output_kind("x." + f) for f in formats}) != len(formats):
        raise UsageError(f"--format {text}: give each format once")
    return formats


def render_outputs(
    template: str, sequence: str, time_a: datetime, time_b: datetime, formats: Sequence[str]
) -> tuple[str, ...]:
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
    check_fields(
        template, _TEMPLATE_FIELDS, "--template", "use {sequence}, {time_a:%Y%m%dT%H%M%S}, {time_b:...} and {ext}"
    )
    out = []
    for ext in formats:
        try:
            name = template.format(sequence=sequence, time_a=time_a, time_b=time_b, ext=ext)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise UsageError(
                f"--template {template}: bad placeholder ({exc}); use {{sequence}}, "
                "{time_a:%Y%m%dT%H%M%S}, {time_b:...} and {ext}"
            ) from None
        norm = os.path.normpath(name)
        if not name or os.path.isabs(name) or norm == "." or norm.split(os.sep)[0] == "..":
            raise UsageError(
                f"--template {template}: gives {name!r}, which is not a file name inside the output folder"
            )
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
    outputs: list[str] = field(default_factory=list)  # absolute paths of every output the plan names
    existing: list[str] = field(default_factory=list)  # absolute paths of the outputs already complete

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
    return {
        "run": run,
        "sequence": seq,
        "time_a": format_iso(a.time),
        "time_b": format_iso(b.time),
        "inputs": [a.path, b.path],
        "outputs": [],
        "status": "skipped",
        "vectors": None,
        "good": None,
        "good_fraction": None,
        "duration": 0.0,
        "error": reason,
    }


def gap_warning(rec: dict) -> str:
    """The warning for a pair skipped for ``--max-gap`` (its manifest record)."""
    a, b = (os.path.basename(p) for p in rec["inputs"])
    return f"{rec['sequence']}: {a} -> {b}: {rec['error']}; pair skipped"


def plan_batch(
    sequences: dict[str, list[FrameRef]],
    *,
    outdir: str,
    template: str = DEFAULT_TEMPLATE,
    formats: Sequence[str] = ("csv",),
    triplets: bool = False,
    max_gap: float | None = None,
    overwrite: bool = False,
    run: str | None = None,
    inputs: Iterable[str] | None = None,
) -> Plan:
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
    inputs : iterable of str, optional
        Every file the run was given (default: the frames of ``sequences``); no output
        may be one of them.

    Returns
    -------
    Plan
        A pair counts as done only when each of its outputs exists and is complete
        (:func:`~cloudmotion.files.safety.output_complete`): a zero-byte or truncated
        file left by an older version is redone. A pair that is not done is tracked again,
        but only its missing outputs are written. Gaps are in ``skipped``, not warned about.

    Raises
    ------
    UsageError
        When two pairs would write the same output.
    """
    outdir = os.path.abspath(outdir)
    plan, owner = Plan(), {}
    frames_read = (
        InputSet(f.path for frames in sequences.values() for f in frames) if inputs is None else InputSet(inputs)
    )
    for seq, frames in sequences.items():
        segments, gaps = _segments(frames, max_gap)
        for a, b, gap in gaps:  # warned about by the caller, once: see gap_warning
            reason = f"gap of {_human(gap)} exceeds --max-gap {_human(max_gap)}"
            plan.skipped.append(_skipped_record(seq, a, b, reason, run))
        for seg in segments:
            for start, stop, own in _task_spans(len(seg), triplets):
                fr = seg[start:stop]
                todo = []
                for k in own:
                    outs = render_outputs(template, seq, fr[k].time, fr[k + 1].time, formats)
                    for o in outs:
                        if owner.setdefault(o, fr[k].path) != fr[k].path:
                            raise UsageError(
                                f"--template {template}: two pairs write {o}; add "
                                "{time_a:%Y%m%dT%H%M%S} or {sequence}"
                            )
                    full = [os.path.join(outdir, o) for o in outs]
                    check_not_inputs(full, frames_read, option="--template")  # whatever --overwrite says
                    plan.outputs.extend(full)
                    missing = tuple(
                        o
                        for o, path in zip(outs, full, strict=True)
                        if overwrite or not output_complete(path, output_kind(path))
                    )
                    plan.existing.extend(p for o, p in zip(outs, full, strict=True) if o not in missing)
                    if missing:  # only the outputs not there yet: a new --format leaves the old ones be
                        todo.append((k, missing))
                plan.done += len(own) - len(todo)
                if todo:
                    plan.tasks.append(
                        Task(
                            sequence=seq,
                            frames=tuple(f.path for f in fr),
                            times=tuple(f.time for f in fr),
                            outdir=outdir,
                            pairs=tuple(todo),
                        )
                    )
    return plan
