"""Output paths of a ``track`` run: per-pair templates, destination checks, and writing pairs.

No click and no printing: problems are :class:`UsageError` / :class:`DataError` naming the
``-o`` path, and progress is reported through a callback.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from cloudmotion.errors import DataError, UsageError
from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.templates import check_fields
from cloudmotion.formats.writers import writer_name_for
from cloudmotion.model import Vectors

__all__ = ["Output", "check_destinations", "expand_output", "parse_outputs", "write_pairs"]


@dataclass(frozen=True)
class Output:
    """One ``-o`` argument: a path or a per-pair template, and the writer it picks."""

    template: str
    kind: str

    @property
    def per_pair(self) -> bool:
        """The path holds a placeholder (``{pair}``, ``{time_a:...}``)."""
        return "{" in self.template


def parse_outputs(outputs: Sequence[str], npairs: int) -> list[Output]:
    """Check the ``-o`` arguments of a run of ``npairs`` pairs (``-`` = CSV on stdout, the default).

    Raises
    ------
    UsageError
        An unknown format, a single-pair format without a placeholder for several pairs,
        stdout named twice, or a missing optional extra.
    """
    from cloudmotion import registry

    outs = []
    for path in outputs or ("-",):
        kind = writer_name_for(path)
        if kind is None:
            raise UsageError(
                f"-o {path}: unknown output format; use .csv, .tif, .tiff, .geojson, .nc or .dmw.nc, "
                "or - for CSV on stdout"
            )
        out = Output(path, kind)
        check_fields(path, ("pair", "time_a", "time_b"), "-o", "use {pair}, {time_a:...}, {time_b:...}")
        writer = registry.WRITERS.get(kind)
        if not writer.streams and npairs > 1 and not out.per_pair:
            raise UsageError(
                f"-o {path}: {npairs} pairs need a per-pair name with {{pair}} or "
                f"{{time_a:%Y%m%dT%H%M%S}} in a .{kind} path"
            )
        if writer.require is not None:
            writer.require(path)
        outs.append(out)
    if sum(o.template == "-" for o in outs) > 1:
        raise UsageError("-o -: standard output given more than once")
    return outs


def expand_output(out: Output, pair: int, a, b, option: str = "-o") -> str:
    """The path of pair number ``pair`` (1-based) between frames ``a`` and ``b`` (FrameInfo)."""
    if not out.per_pair:
        return out.template
    for frame, key in ((a, "{time_a"), (b, "{time_b")):
        if frame.time is None and key in out.template:
            raise UsageError(
                f"{option} {out.template}: {frame.path} has no time for the {key}}} placeholder; use {{pair}}"
            )
    try:
        return out.template.format(pair=pair, time_a=a.time, time_b=b.time)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
        raise UsageError(
            f"{option} {out.template}: bad placeholder ({exc}); use {{pair}}, {{time_a:...}}, {{time_b:...}}"
        ) from None


def check_destinations(paths: Iterable[str], overwrite: bool, option: str = "-o") -> None:
    """Refuse outputs that cannot or must not be written, before any work.

    Raises
    ------
    UsageError
        A path named twice, a missing folder, a directory, or an existing file without
        ``overwrite``.
    DataError
        A folder that is not writable.
    """
    seen = set()
    for path in paths:
        if path == "-":
            continue
        full = os.path.abspath(path)
        if full in seen:
            raise UsageError(f"{option} {path}: the same output is named twice")
        seen.add(full)
        folder = os.path.dirname(full)
        if not os.path.isdir(folder):
            raise UsageError(f"{option} {path}: folder {os.path.dirname(path) or '.'} does not exist")
        if os.path.isdir(full):
            raise UsageError(f"{option} {path}: is a directory")
        if os.path.exists(full) and not overwrite:
            raise UsageError(f"{option} {path}: exists; pass --overwrite to replace it")
        if not os.access(folder, os.W_OK):
            raise DataError(f"{option} {path}: folder {os.path.dirname(path) or '.'} is not writable")


def write_pairs(
    pairs: Iterable[Vectors],
    outs: Sequence[Output],
    targets: Sequence[Sequence[str]],
    *,
    stdout: IO[str],
    after_pair: Callable[[int, Vectors], None] | None = None,
) -> None:
    """Write each pair to its outputs as it arrives: shared CSVs stream, others get a file each.

    A CSV without a placeholder (and ``-``) holds every pair; it is written to a temporary
    file and renamed only after the last pair, so a failed run leaves no partial CSV (on
    standard output the header waits for the first rows).

    Parameters
    ----------
    pairs : iterable of Vectors
    outs : sequence of Output
    targets : sequence of sequence of str
        Per pair, the path of each output (from :func:`expand_output`).
    stdout : text stream
        Where ``-`` goes.
    after_pair : callable, optional
        ``after_pair(i, vectors)`` after pair ``i`` (1-based) is written.
    """
    from cloudmotion import registry
    from cloudmotion.files.stdout import data_stdout
    from cloudmotion.formats.csv import write_csv_header, write_csv_rows

    with contextlib.ExitStack() as stack:
        streams: dict[str, IO[str]] = {}
        for o in outs:
            if registry.WRITERS.get(o.kind).streams and not o.per_pair:
                if o.template == "-":
                    streams[o.template] = data_stdout(stdout)  # its header waits for the first rows
                else:
                    tmp = stack.enter_context(atomic_path(o.template))
                    streams[o.template] = stack.enter_context(open(tmp, "w", newline=""))
                    write_csv_header(streams[o.template])
        for i, vectors in enumerate(pairs, start=1):
            for o, path in zip(outs, targets[i - 1], strict=True):
                if o.template in streams:
                    if o.template == "-" and i == 1:
                        write_csv_header(streams["-"])
                    write_csv_rows(streams[o.template], vectors)
                else:
                    registry.WRITERS.get(o.kind).write(path, vectors)
            if after_pair is not None:
                after_pair(i, vectors)
        if "-" in streams:
            streams["-"].flush()
