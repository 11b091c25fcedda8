"""``batch --sites``: site tables per sequence, appended on every run under the output folder's lock.

- winds at sites from the pairs this run tracked: ``OUTDIR/SEQUENCE/site_winds.csv``;
- with ``--nowcast``, the site nowcast from the latest frames: ``OUTDIR/SEQUENCE/nowcast/site_nowcast.csv``,
  and the scores of every earlier site nowcast whose valid time has since been observed:
  ``OUTDIR/SEQUENCE/nowcast/site_scores.csv``.

Rows are keyed (site and times); a re-run appends no duplicate and a torn last line left by
a killed run is cut off first (:func:`cloudmotion.formats.sites.append_site_rows`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import datetime

import numpy as np

from cloudmotion.batch.frames import FrameRef
from cloudmotion.errors import CloudmotionError
from cloudmotion.formats.sites import Sites, append_site_rows, format_cell, read_site_table
from cloudmotion.settings.params import Settings

__all__ = ["SCORE_COLUMNS", "score_site_nowcasts", "site_nowcasts", "site_winds_of_run"]

WINDS_NAME = "site_winds.csv"
NOWCAST_NAME = os.path.join("nowcast", "site_nowcast.csv")
SCORES_NAME = os.path.join("nowcast", "site_scores.csv")
FIT_FRAMES = 4
"""Frames a batch site nowcast uses: the value noise is fitted on FIT_FRAMES - 2 one-step nowcasts."""

SCORE_COLUMNS = (
    "site",
    "issue_time",
    "valid_time",
    "lead_min",
    "quantity",
    "value",
    "observed",
    "persistence",
    "error",
    "crps",
    "in_p10_p90",
)
"""Columns of the scores table: one row per scored site nowcast row."""


def site_winds_of_run(
    records: list[dict], outdir: str, sites: Sites, settings: Settings, *, emit: Callable[[str], None]
) -> int:
    """Append the winds at the sites of each pair this run tracked; return the failures.

    Each pair's vectors are read back from its first CSV or GeoTIFF output.
    """
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.formats.vectors import read_vectors
    from cloudmotion.tools.site_winds import WIND_COLUMNS, site_pixels, site_wind_rows, valid_at

    failed = 0
    header = WIND_COLUMNS + sites.extra_names
    for rec in records:
        out = next((p for p in rec.get("outputs") or [] if p.lower().endswith((".csv", ".tif", ".tiff"))), None)
        if out is None:
            continue
        out = os.path.join(outdir, out)  # the manifest names outputs relative to OUTDIR
        path = os.path.join(outdir, rec["sequence"], WINDS_NAME)
        try:
            a = open_frame(rec["inputs"][0])
            (vectors,) = read_vectors(out, frame_transform=a.transform)[:1]
            vectors = dataclasses.replace(
                vectors,
                transform=a.transform,
                crs_wkt=a.crs_wkt,
                step=vectors.step or settings.params.step,
                window=vectors.window or settings.params.window,
            )
            frame = read_frame(a, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)
            r, c = site_pixels(sites, a.transform, a.crs_wkt, frame.data.shape, a.path)
            valid = valid_at(frame.valid, r, c)
            first = not os.path.exists(path)
            rows = site_wind_rows(vectors, sites, r, c, valid, radius_spacings=settings.site_radius, first=first)
            append_site_rows(path, header, rows, key=("site", "time_a", "time_b"))
        except CloudmotionError as exc:
            failed += 1
            emit(f"cloudmotion: error: {rec['sequence']} site winds from {out}: {' '.join(str(exc).split())}")
    return failed


def _latest(refs: list[FrameRef], n: int, max_gap: float | None) -> list[FrameRef]:
    """The last ``n`` frames, cut at the newest gap longer than ``max_gap``."""
    last = refs[-n:]
    for k in range(len(last) - 1, 0, -1):
        if max_gap is not None and (last[k].time - last[k - 1].time).total_seconds() > max_gap:
            return last[k:]
    return last


def site_nowcasts(
    sequences: dict[str, list[FrameRef]],
    outdir: str,
    spec: str,
    sites_path: str,
    settings: Settings,
    *,
    max_gap: float | None,
    emit: Callable[[str], None],
    verbose: bool = False,
) -> int:
    """Append each sequence's site nowcast, then score the earlier ones now observed; return the failures."""
    from cloudmotion.batch.nowcast import parse_nowcast
    from cloudmotion.tools.site_nowcast import run_site_nowcast

    lead, every = parse_nowcast(spec)
    failed = 0
    for name, refs in sorted(sequences.items()):
        last = _latest(refs, max(FIT_FRAMES, settings.pairs + 1), max_gap)
        if len(last) < 2:
            continue
        path = os.path.join(outdir, name, NOWCAST_NAME)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            if _issued(path, last[-1].time):  # this frame's nowcast is in already: only score
                scored = score_site_nowcasts(path, os.path.join(outdir, name, SCORES_NAME), refs, sites_path)
                if verbose:
                    emit(f"cloudmotion: {name}: site nowcast from {last[-1].path} already made, {scored} scored")
                continue
            made = run_site_nowcast(
                [r.path for r in last], settings, sites=sites_path, site_output=None, lead=lead, every=every,
                write_members=True,
            )  # fmt: skip
            added = append_site_rows(path, made.header, made.rows, key=("site", "issue_time", "lead_min"))
            scored = score_site_nowcasts(path, os.path.join(outdir, name, SCORES_NAME), refs, sites_path)
        except CloudmotionError as exc:
            failed += 1
            emit(f"cloudmotion: error: {name} site nowcast from {last[-1].path}: {' '.join(str(exc).split())}")
            continue
        if verbose:
            emit(f"cloudmotion: {name}: site nowcast from {last[-1].path}: {added} row(s) added, {scored} scored")
    return failed


def _issued(path: str, time: datetime | None) -> bool:
    """Whether the table at ``path`` holds rows issued at ``time`` (a torn last line does not count)."""
    from cloudmotion.files.times import format_iso

    if time is None or not os.path.exists(path) or not os.path.getsize(path):
        return False
    header, rows = read_site_table(path)
    at, stamp = header.index("issue_time"), format_iso(time)
    return any(len(r) == len(header) and r[at] == stamp for r in rows)


def _nearest(times: list[datetime], when: datetime | None, tol: float = 60.0) -> int | None:
    if when is None or not times:
        return None
    k = int(np.argmin([abs((t - when).total_seconds()) for t in times]))
    return k if abs((times[k] - when).total_seconds()) <= tol else None


def score_site_nowcasts(table: str, scores: str, refs: list[FrameRef], sites_path: str) -> int:
    """Score every row of ``table`` whose valid time is among ``refs`` and not yet in ``scores``.

    Returns
    -------
    int
        Rows appended to ``scores``.
    """
    from cloudmotion.files.times import parse_iso
    from cloudmotion.formats.sites import read_sites
    from cloudmotion.nowcast.site_skill import crps_ensemble
    from cloudmotion.tools.site_verify import observe_sites, split_members

    header, rows = read_site_table(table)
    col = {h: i for i, h in enumerate(header)}
    done: set[tuple[str, ...]] = set()
    if os.path.exists(scores) and os.path.getsize(scores):
        _, old = read_site_table(scores)
        done = {(r[0], r[1], r[3]) for r in old if len(r) == len(SCORE_COLUMNS)}
    times = [r.time for r in refs]
    todo = []
    for r in rows:
        if (r[col["site"]], r[col["issue_time"]], r[col["lead_min"]]) in done or len(r) != len(header):
            continue
        k = _nearest(times, parse_iso(r[col["valid_time"]]))
        if k is not None:
            todo.append((r, k, _nearest(times, parse_iso(r[col["issue_time"]]))))
    if not todo:
        return 0
    sites = read_sites(sites_path, ())
    index = {n: i for i, n in enumerate(sites.name)}
    need = sorted({k for _, k, _ in todo} | {p for _, _, p in todo if p is not None})
    seen = observe_sites([refs[k].path for k in need], sites, todo[0][0][col["quantity"]])
    at = {k: seen[refs[k].path][1] for k in need}
    mem = split_members(header)
    out = []
    for r, k, p in todo:
        i = index.get(r[col["site"]])
        if i is None:
            continue
        obs = at[k][i]
        persist = at[p][i] if p is not None else float("nan")
        value = float(r[col["value"]]) if r[col["value"]] else float("nan")
        members = np.array([float(r[j]) if r[j] else np.nan for j in mem])
        crps = (
            float(crps_ensemble(members[:, None], np.array([obs]))[0]) if mem and np.isfinite(members).all() else np.nan
        )
        lo, hi = (float(r[col[q]]) if r[col[q]] else np.nan for q in ("p10", "p90"))
        inside = "" if not (np.isfinite(lo) and np.isfinite(obs)) else str(int(lo <= obs <= hi))
        out.append(
            [r[col["site"]], r[col["issue_time"]], r[col["valid_time"]], r[col["lead_min"]], r[col["quantity"]]]
            + [format_cell(x) for x in (value, obs, persist, value - obs, crps)]
            + [inside]
        )
    return append_site_rows(scores, SCORE_COLUMNS, out, key=("site", "issue_time", "lead_min"))
