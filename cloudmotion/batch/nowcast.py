"""``batch --nowcast LEAD/EVERY``: after the pairs, a rolling nowcast from the latest frames of
each sequence, replaced on every run (:func:`cloudmotion.tools.nowcast.run_nowcast`)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from cloudmotion.batch.frames import FrameRef
from cloudmotion.batch.plan import parse_duration
from cloudmotion.errors import CloudmotionError, UsageError
from cloudmotion.settings.params import Settings

__all__ = ["NOWCAST_TEMPLATE", "parse_nowcast", "rolling_nowcasts"]

NOWCAST_TEMPLATE = os.path.join("{sequence}", "nowcast", "nowcast_{lead:03d}min.tif")
"""Where each sequence's rolling nowcast goes inside OUTDIR (one file per lead time)."""


def parse_nowcast(text: str) -> tuple[float, float]:
    """``60min/10min`` as (lead, every) in seconds; UsageError naming ``--nowcast``."""
    lead, sep, every = (text or "").partition("/")
    if not sep:
        raise UsageError(f"--nowcast {text}: use LEAD/EVERY, e.g. 60min/10min")
    from cloudmotion.tools.nowcast import lead_times

    out = parse_duration(lead, "--nowcast"), parse_duration(every, "--nowcast")
    lead_times(*out)
    return out


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
        os.makedirs(os.path.dirname(template), exist_ok=True)
        try:
            done = run_nowcast([r.path for r in last], template, settings, lead=lead, every=every, overwrite=True)
        except CloudmotionError as exc:
            failed += 1
            emit(f"cloudmotion: error: {name} nowcast from {last[-1].path}: {' '.join(str(exc).split())}")
            continue
        if verbose:
            emit(f"cloudmotion: {name}: nowcast from {last[-1].path}, {len(done.paths)} lead time(s)")
    return failed
