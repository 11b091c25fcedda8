"""What earlier runs recorded in the manifest, so that a re-run from cron does only new work.

A pair skipped for ``--max-gap`` is recorded (and warned about) once. A pair that failed
for a reason that will not change by itself (a frame that cannot be read, frames refused
by a check) is recorded with its inputs' sizes and modification times; it is retried only
when one of them changed, or with ``--retry-failed``. Failures that may pass on their
own (a write error, a worker that died) are always retried.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence

__all__ = ["NOT_PER_PAIR", "History", "input_stats", "record_key", "requested_settings", "settings_changes"]

NOT_PER_PAIR = frozenset({"max_gap", "pairs", "flow_smoothing"})
"""Settings that decide which pairs run or what a nowcast does, never a pair's vectors: not compared."""


def input_stats(paths: Sequence[str]) -> list[list[int] | None]:
    """``[size, mtime_ns]`` of each input (None when it cannot be stat'ed), as the manifest keeps them."""
    out: list[list[int] | None] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            out.append(None)
            continue
        out.append([int(st.st_size), int(st.st_mtime_ns)])
    return out


def record_key(rec: dict) -> tuple:
    """What a record is about: the pair (sequence and times), or for an input that could not
    be found, its path."""
    if rec.get("time_a") and rec.get("time_b"):
        return ("pair", rec.get("sequence"), rec["time_a"], rec["time_b"])
    return ("input", *tuple(rec.get("inputs") or ()))


class History:
    """The last record of each pair or input in a manifest (later lines win)."""

    def __init__(self, records: Iterable[dict]) -> None:
        self.last: dict[tuple, dict] = {}
        self.skipped: set[tuple] = set()
        for rec in records:
            if not isinstance(rec.get("inputs", []), list):
                continue
            key = record_key(rec)
            self.last[key] = rec
            if rec.get("status") == "skipped":
                self.skipped.add(key)

    def skipped_before(self, rec: dict) -> bool:
        """Whether this skipped pair is already recorded as skipped."""
        return record_key(rec) in self.skipped

    def unchanged_failure(self, rec: dict) -> dict | None:
        """The earlier failure of this pair or input when it is not worth retrying: its last record
        failed for a lasting reason (``retry`` false) and every input has the size and
        modification time recorded then. None otherwise."""
        last = self.last.get(record_key(rec))
        if last is None or last.get("status") != "failed" or last.get("retry", True):
            return None
        stats = last.get("input_stats")
        if stats is None or stats != input_stats(last.get("inputs") or []):
            return None
        return last


def requested_settings(settings) -> dict:
    """The settings a run asked for, as recorded with each output in the manifest.

    Every tracker and reading setting by its TOML key, as requested (``search = "auto"``
    stays ``"auto"``; it is resolved per sequence), without resource settings and batch's
    own, as JSON values.
    """
    from cloudmotion.settings.provenance import provenance

    values = provenance(settings)["settings"]
    return json.loads(json.dumps({k: v for k, v in values.items() if k not in NOT_PER_PAIR}))


def settings_changes(records: Iterable[dict], outputs: Iterable[str], outdir: str, requested: dict):
    """How the settings recorded with existing outputs differ from the requested ones.

    Parameters
    ----------
    records : iterable of dict
        The manifest's records (later lines win).
    outputs : iterable of str
        Absolute paths of the outputs a run would count as done.
    outdir : str
        The output folder (records name outputs relative to it).
    requested : dict
        :func:`requested_settings` of this run.

    Returns
    -------
    changes : dict
        Setting name -> (value recorded, value requested), over every output compared.
    legacy : int
        Outputs whose record holds no settings (written by 0.2.0): they count as matching.
    """
    made: dict[str, dict] = {}
    for rec in records:
        if rec.get("status") == "ok" and isinstance(rec.get("outputs"), list):
            for o in rec["outputs"]:
                made[os.path.join(outdir, str(o))] = rec
    changes: dict[str, tuple] = {}
    legacy = 0
    for path in outputs:
        rec = made.get(path)
        if rec is None:
            continue
        old = rec.get("settings")
        if not isinstance(old, dict):
            legacy += 1
            continue
        for key in sorted(set(old) | set(requested)):
            if key not in NOT_PER_PAIR and old.get(key) != requested.get(key) and key not in changes:
                changes[key] = (old.get(key), requested.get(key))
    return changes, legacy
