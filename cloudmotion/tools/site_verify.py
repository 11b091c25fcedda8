"""``verify --sites SITES SITE_NOWCAST.csv OBSERVED...``: site nowcasts against the frames observed
at their valid times, per lead time. Reads, matches and formats; the scores are in
:mod:`cloudmotion.nowcast.site_skill`."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.nowcast.site_skill import SiteScores, site_scores

__all__ = [
    "format_site_scores",
    "observe_sites",
    "run_site_verify",
    "score_table",
    "split_members",
]

TIME_TOLERANCE = 60.0
"""Largest difference, s, between a valid time and an observed frame's time that still matches."""


def split_members(header: Sequence[str]) -> list[int]:
    """Indices of the member columns (``m01`` ...) of a site nowcast table."""
    return [i for i, h in enumerate(header) if re.fullmatch(r"m\d+", h)]


def _float(text: str) -> float:
    try:
        return float(text) if text != "" else float("nan")
    except ValueError:
        return float("nan")


def _time(text: str) -> datetime | None:
    from cloudmotion.files.times import parse_iso

    try:
        return parse_iso(text) if text else None
    except (ValueError, TypeError):
        return None


def observe_sites(
    paths: Sequence[str], sites, quantity: str, cloud_model: str | None = None
) -> dict[str, tuple[datetime, np.ndarray]]:
    """The observed value at each site in each frame, keyed by the frame's path.

    A probability of cloud (``quantity == "cloud_probability"``) comes from ``cloud_model``
    (a TOML model file, or ``auto`` when None, as ``--cloud-model`` takes it); other quantities are the frame's value, bilinear at the site, NaN where the
    site is outside the frame or next to NoData.

    Raises
    ------
    DataError
        An unreadable frame, or one without a time.
    """
    from cloudmotion.formats.clouds import make_cloud_source
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.nowcast.sites import bilinear
    from cloudmotion.tools.site_winds import site_pixels

    clouds = make_cloud_source(cloud_model, None, read_frame) if quantity == "cloud_probability" else None
    out = {}
    for path in paths:
        info = open_frame(path)
        if info.time is None:
            raise DataError(f"{path}: no time in the file name or tags; a site nowcast is matched by valid time")
        frame = read_frame(info)
        data = np.asarray(clouds.probability(frame) if clouds is not None else frame.data, np.float64)
        r, c = site_pixels(sites, info.transform, info.crs_wkt, data.shape, path)
        at = np.isfinite(r)
        vals = np.full(sites.n, np.nan)
        ok = frame.valid & np.isfinite(data)
        filled = np.where(ok, data, 0.0)
        near_hole = bilinear((~ok).astype(np.float64), r[at], c[at]) > 1e-3
        vals[at] = np.where(near_hole, np.nan, bilinear(filled, r[at], c[at]))
        out[path] = (info.time, vals)
    return out


def score_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    observed: dict[str, tuple[datetime, np.ndarray]],
    site_index: dict[str, int],
) -> tuple[dict[float, SiteScores], int]:
    """Score every row whose valid time was observed; group by lead (minutes).

    Returns
    -------
    scores : dict of lead minutes to SiteScores
    matched : int
        Rows matched to an observation.
    """
    col = {h: i for i, h in enumerate(header)}
    mem = split_members(header)
    frames = sorted(observed.values(), key=lambda t: t[0])
    times = [t for t, _ in frames]

    def at(when: datetime | None) -> np.ndarray | None:
        if when is None or not times:
            return None
        k = int(np.argmin([abs((t - when).total_seconds()) for t in times]))
        return frames[k][1] if abs((times[k] - when).total_seconds()) <= TIME_TOLERANCE else None

    groups: dict[float, list] = {}
    matched = 0
    probability = False
    for r in rows:
        i = site_index.get(r[col["site"]])
        seen = at(_time(r[col["valid_time"]]))
        if i is None or seen is None or not math.isfinite(seen[i]):
            continue
        before = at(_time(r[col["issue_time"]]))
        probability |= r[col["quantity"]] == "cloud_probability"
        values = [_float(r[col[k]]) for k in ("value", "p10", "p90")]
        members = [_float(r[j]) for j in mem]
        persist = before[i] if before is not None else float("nan")
        groups.setdefault(_float(r[col["lead_min"]]), []).append((seen[i], persist, *values, members))
        matched += 1
    out = {}
    for lead, cases in sorted(groups.items()):
        obs, persist, value, p10, p90 = (np.array([c[k] for c in cases]) for k in range(5))
        ens = np.array([c[5] for c in cases]).T if mem else None
        out[lead] = site_scores(
            value,
            obs,
            persistence=persist if np.isfinite(persist).any() else None,
            members=ens,
            p10=p10,
            p90=p90,
            probability=probability,
        )
    return out, matched


def run_site_verify(
    sites: str,
    table: str,
    observed: Sequence[str],
    *,
    cloud_model: str | None = None,
    warn: Callable[[str], None] = lambda m: None,
) -> tuple[dict[float, SiteScores], dict]:
    """Score a site nowcast table against observed frames (``cloud_model``: for a cloud
    probability table, the model the observed frames' probabilities come from).

    Raises
    ------
    UsageError
        A table that is not a site nowcast.
    DataError
        Unreadable files, no row whose valid time was observed.
    """
    from cloudmotion.formats.sites import read_site_table, read_sites
    from cloudmotion.tools.site_nowcast import NOWCAST_COLUMNS

    places = read_sites(sites, ())
    header, rows = read_site_table(table)
    if tuple(header[: len(NOWCAST_COLUMNS)]) != NOWCAST_COLUMNS:
        raise UsageError(f"{table}: not a site nowcast (its header does not start {','.join(NOWCAST_COLUMNS[:4])}...)")
    quantity = rows[0][header.index("quantity")] if rows else ""
    if cloud_model is not None and quantity != "cloud_probability":
        raise UsageError(f"--cloud-model: {table} nowcasts {quantity or 'nothing'}, not cloud_probability")
    seen = observe_sites(observed, places, quantity, cloud_model)
    index = {n: i for i, n in enumerate(places.name)}
    unknown = sorted({r[0] for r in rows} - set(index))
    if unknown:
        warn(f"{table}: {len(unknown)} site(s) not in {sites}, not scored: {', '.join(unknown[:5])}")
    scores, matched = score_table(header, rows, seen, index)
    if not matched:
        raise DataError(f"{table}: no row's valid time is among the observed frames (within {TIME_TOLERANCE:g} s)")
    if not split_members(header):
        warn(f"{table}: no member columns (nowcast --write-members); CRPS and spread-skill left out")
    meta = {"nowcast": table, "sites": sites, "observed": list(observed), "rows": len(rows), "matched": matched}
    return scores, meta


_TABLE = (
    ("lead_min", "lead", "%g"),
    ("cases", "cases", "%d"),
    ("mae", "mae", "%.4g"),
    ("rmse", "rmse", "%.4g"),
    ("skill", "skill", "%.3f"),
    ("crps", "crps", "%.4g"),
    ("crps_skill", "crps_skill", "%.3f"),
    ("spread_skill", "spread/skill", "%.3f"),
    ("coverage", "p10-p90", "%.3f"),
    ("brier", "brier", "%.4f"),
)


def format_site_scores(scores: dict[float, SiteScores], meta: dict, *, as_json: bool) -> str:
    """One JSON object (``leads``: a list of score objects), or an aligned table, one lead a line."""
    if as_json:
        return json.dumps({**meta, "leads": [{"lead_min": k, **s.as_dict()} for k, s in scores.items()]}) + "\n"
    lines = [[h for _, h, _ in _TABLE]]
    for lead, s in scores.items():
        d = {"lead_min": lead, **s.as_dict()}
        lines.append(["" if d[k] is None else f % d[k] for k, _, f in _TABLE])
    width = [max(len(x[i]) for x in lines) for i in range(len(_TABLE))]
    return "".join("  ".join(x.rjust(w) for x, w in zip(line, width, strict=True)) + "\n" for line in lines)
