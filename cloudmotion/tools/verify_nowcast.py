"""``cloudmotion verify``: a nowcast against the observed frame at its valid time, and against
persistence (the latest frame unchanged). Reads, checks, and formats; scores are in
:mod:`cloudmotion.nowcast.skill`."""

from __future__ import annotations

import json
import math
import re

from cloudmotion.errors import DataError, UsageError
from cloudmotion.nowcast.skill import Scores, scores

__all__ = ["format_scores", "parse_fss", "run_verify"]


def parse_fss(text: str) -> tuple[float, int]:
    """``THRESHOLD,SCALE_PX`` (``235,9``) as (float, int); UsageError naming ``--fss``."""
    m = re.fullmatch(r"\s*([-+]?[0-9.eE+-]+)\s*,\s*(\d+)\s*", text or "")
    try:
        threshold = float(m[1]) if m else float("nan")
    except ValueError:
        threshold = float("nan")
    if not m or not math.isfinite(threshold) or int(m[2]) < 1:
        raise UsageError(f"--fss {text}: use THRESHOLD,SCALE_PX with a number and a whole scale >= 1, e.g. 235,9")
    return threshold, int(m[2])


def _read(path: str):
    from cloudmotion.formats.readers import open_frame, read_frame

    info = open_frame(path)
    return info, read_frame(info)


def run_verify(
    nowcast: str, observed: str, *, persistence: str | None = None, fss: str | None = None, warn=lambda msg: None
) -> tuple[Scores, dict]:
    """Score ``nowcast`` against ``observed``; persistence is ``persistence`` or the nowcast's
    ``SOURCE_FRAME`` tag.

    Returns
    -------
    Scores, and a dict of the lead, valid and source times (from the nowcast's tags).

    Raises
    ------
    DataError
        Unreadable files, different grids, no common valid pixel, no persistence frame.
    UsageError
        A bad ``--fss``.
    """
    from cloudmotion.formats.alignment import check_compatible
    from cloudmotion.formats.frame_geotiff import read_tags

    fss_args = parse_fss(fss) if fss is not None else None
    n_info, n = _read(nowcast)
    o_info, o = _read(observed)
    tags = read_tags(nowcast)
    source = persistence or tags.get("SOURCE_FRAME")
    if not source:
        raise DataError(
            f"{nowcast}: no SOURCE_FRAME tag (not written by cloudmotion nowcast); give --persistence "
            "FRAME, the latest frame the nowcast started from"
        )
    p_info, p = _read(source)
    check_compatible([n_info, o_info, p_info], grid=True, identity=False)
    valid_time = tags.get("VALID_TIME")
    if valid_time and o_info.time is not None:
        from cloudmotion.files.times import format_iso

        if format_iso(o_info.time) != valid_time:
            warn(f"{observed}: observed at {format_iso(o_info.time)}, the nowcast is valid at {valid_time}")
    valid = n.valid & o.valid & p.valid
    if not valid.any():
        raise DataError(f"{nowcast}: no pixel is valid in the nowcast, {observed} and {source} at once")
    meta = {
        "nowcast": nowcast,
        "observed": observed,
        "persistence": source,
        "lead_minutes": float(tags["LEAD_MINUTES"]) if tags.get("LEAD_MINUTES") else None,
        "valid_time": valid_time or None,
        "source_time": tags.get("SOURCE_TIME") or None,
    }
    return scores(n.data, o.data, p.data, valid, fss=fss_args), meta


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def format_scores(s: Scores, meta: dict, *, as_json: bool, fss: str | None = None) -> str:
    """The report: aligned ``name value`` lines, or one JSON object."""
    if as_json:
        body = {
            **meta,
            "pixels": s.pixels,
            "rmse": _num(s.rmse),
            "mean_error": _num(s.mean_error),
            "rmse_persistence": _num(s.rmse_persistence),
            "mean_error_persistence": _num(s.mean_error_persistence),
            "skill": _num(s.skill),
        }
        if s.fss is not None:
            t, k = parse_fss(fss)
            body.update(fss=_num(s.fss), fss_persistence=_num(s.fss_persistence), fss_threshold=t, fss_scale=k)
        return json.dumps(body) + "\n"
    lead = meta.get("lead_minutes")
    rows = [
        ("lead", f"{lead:g} min" if lead is not None else "unknown"),
        ("valid_time", meta.get("valid_time") or "unknown"),
        ("pixels", f"{s.pixels}"),
        ("rmse", f"{s.rmse:.6g}"),
        ("mean_error", f"{s.mean_error:.6g}"),
        ("rmse_persistence", f"{s.rmse_persistence:.6g}"),
        ("mean_error_persistence", f"{s.mean_error_persistence:.6g}"),
        ("skill", f"{s.skill:.4f}"),
    ]
    if s.fss is not None:
        rows += [(f"fss({fss})", f"{s.fss:.4f}"), (f"fss_persistence({fss})", f"{s.fss_persistence:.4f}")]
    width = max(len(k) for k, _ in rows)
    return "".join(f"{k:<{width}}  {v}\n" for k, v in rows)
