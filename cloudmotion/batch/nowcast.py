"""``batch --nowcast LEAD/EVERY``: after the pairs, a rolling nowcast from the latest frames of
each sequence, replaced on every run (:func:`cloudmotion.tools.nowcast.run_nowcast`)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from cloudmotion.batch.frames import FrameRef
from cloudmotion.batch.plan import parse_duration
from cloudmotion.errors import CloudmotionError, DataError, UsageError
from cloudmotion.settings.params import Settings

__all__ = ["NOWCAST_TEMPLATE", "check_nowcast_frames", "parse_nowcast", "rolling_nowcasts"]

NOWCAST_TEMPLATE = os.path.join("{sequence}", "nowcast", "nowcast_{lead:03d}min.tif")
"""Where each sequence's rolling nowcast goes inside OUTDIR (one file per lead time)."""


def parse_nowcast(text: str) -> tuple[float, float]:
    """``60min/10min`` as (lead, every) in seconds; UsageError naming ``--nowcast``."""
    lead, sep, every = (text or "").partition("/")
    if not sep:
        raise UsageError(f"--nowcast {text}: use LEAD/EVERY, e.g. 60min/10min")
    from cloudmotion.tools.nowcast import lead_times

    out = parse_duration(lead, "--nowcast"), parse_duration(every, "--nowcast")
    try:
        lead_times(*out)
    except UsageError as exc:
        raise UsageError(f"--nowcast {text}: {exc}") from None
    return out


def check_nowcast_frames(sequences: dict[str, list[FrameRef]], pairs: int) -> None:
    """Refuse ``pairs`` (the ``pairs`` setting) when a sequence has fewer frames than it needs.

    Raises
    ------
    UsageError
        Naming the first such sequence and how many frames ``pairs`` needs.
    """
    for name, refs in sorted(sequences.items()):
        if 2 <= len(refs) < pairs + 1:
            raise UsageError(
                f"--nowcast with pairs = {pairs}: needs {pairs + 1} frames per sequence, but {name} has "
                f"{len(refs)}; lower pairs to {len(refs) - 1} or give more frames"
            )


def rolling_nowcasts(
    sequences: dict[str, list[FrameRef]],
    outdir: str,
    spec: str,
    settings: Settings,
    *,
    max_gap: float | None,
    emit: Callable[[str], None],
    verbose: bool = False,
) -> int:
    """Nowcast each sequence from its last ``settings.pairs + 1`` frames; return the failures.

    A sequence whose latest frames are further apart than ``max_gap`` (or too few) is
    left alone; a failure is one error line and counts, the other sequences go on.
    """
    from cloudmotion.tools.nowcast import run_nowcast

    lead, every = parse_nowcast(spec)
    failed = 0
    for name, refs in sorted(sequences.items()):
        last = refs[-(settings.pairs + 1) :]
        gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(last)]
        if len(last) < 2 or (max_gap is not None and max(gaps) > max_gap):
            continue
        template = os.path.join(outdir, NOWCAST_TEMPLATE.replace("{sequence}", name))
        try:
            _make_folder(os.path.dirname(template))
            done = run_nowcast([r.path for r in last], template, settings, lead=lead, every=every, overwrite=True)
        except CloudmotionError as exc:
            failed += 1
            emit(f"cloudmotion: error: {name} nowcast from {last[-1].path}: {' '.join(str(exc).split())}")
            continue
        if verbose:
            emit(f"cloudmotion: {name}: nowcast from {last[-1].path}, {len(done.paths)} lead time(s)")
    return failed


def _make_folder(folder: str) -> None:
    """Create the nowcast folder; a file in its place, or no permission, is a one-line DataError."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise DataError(f"{folder}: is a file, not a folder; move it away to get the nowcasts")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
