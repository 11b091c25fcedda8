"""``nowcast --sites F --site-output P``: probabilistic point nowcasts at a list of sites, one row
per site and lead time, without extrapolating whole frames.

The numerics are in :mod:`cloudmotion.nowcast.sites` and :mod:`cloudmotion.nowcast.ensemble`;
this module reads the frames, fits the value noise on the sequence's own one-step nowcasts,
builds the rows and writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.sites import format_cell, read_sites, write_site_rows
from cloudmotion.model import Vectors
from cloudmotion.settings.params import Settings

__all__ = ["NOWCAST_COLUMNS", "SiteNowcast", "member_columns", "run_site_nowcast", "site_nowcast_rows"]

NOWCAST_COLUMNS = (
    "site",
    "lon",
    "lat",
    "issue_time",
    "valid_time",
    "lead_min",
    "quantity",
    "unit",
    "value",
    "p10",
    "p50",
    "p90",
)
"""Columns of a site nowcast table, in order; member columns (``--write-members``), then the
sites file's other columns follow."""

FIT_POINTS = 4000
"""Most sample points of each one-step nowcast the value noise is fitted on."""


def member_columns(n: int) -> tuple[str, ...]:
    """Names of the member columns: ``m01`` ... (zero-padded to the ensemble size)."""
    width = max(2, len(str(n)))
    return tuple(f"m{k:0{width}d}" for k in range(1, n + 1))


@dataclass(frozen=True)
class SiteNowcast:
    """A site nowcast run: its table and how its spread was made."""

    header: tuple[str, ...]
    rows: list[list[str]]
    sigma1: float | None
    motion_scale: float
    fit_points: int
    issue_time: datetime | None
    leads: list[float]
    note: str
    pairs: list[Vectors]
    """Every consecutive pair of the frames, as tracked (the frame nowcast of the same run reuses them)."""


def _dense_ee(pairs: Sequence[Vectors], shape, length: float) -> np.ndarray:
    """The vectors' expected error spread over the frame as ``motion_field`` spreads their motion, px."""
    from cloudmotion.nowcast.dense_flow import dense_flow, vector_weights

    v = pairs[-1]
    good = v.good & np.isfinite(v.dx) & np.isfinite(v.ee)
    ee2 = np.where(good, v.ee, np.nan) ** 2
    e2, _, _ = dense_flow(
        v.row + v.dy / 2, v.col + v.dx / 2, ee2, ee2, vector_weights(v.ee, good), shape, length=length
    )
    return np.sqrt(np.maximum(e2, 0.0))


def _coeffs(data: np.ndarray, valid: np.ndarray):
    from scipy import ndimage

    from cloudmotion.nowcast.extrapolate import fill_nodata

    coeffs = ndimage.spline_filter(fill_nodata(data, valid), order=3, output=np.float64)
    holes = None if valid.all() else (~valid).astype(np.float32)
    return coeffs, holes


def _fit(fields, pairs, length, spacing, members, clip) -> tuple[float, float | None, int]:
    """Motion scale and value noise from the sequence's one-step (N - 2) and two-step (N - 3)
    nowcasts: frame i+1 moved by pair i, against frames i+2 and i+3 (:func:`fit_growth`)."""
    from cloudmotion.nowcast.ensemble import fit_growth, motion_variance, site_ensemble
    from cloudmotion.nowcast.sites import bilinear
    from cloudmotion.tools.nowcast import motion_field

    if len(fields) < 3:
        return 1.0, None, 0
    shape = fields[0][0].shape
    k = max(1, int(np.sqrt(shape[0] * shape[1] / FIT_POINTS)))
    rr, cc = np.mgrid[k // 2 : shape[0] : k, k // 2 : shape[1] : k]
    ir, ic = rr.ravel(), cc.ravel()
    rr, cc = ir.astype(np.float64), ic.astype(np.float64)
    leads, errors, mvar = [], [], []
    for i in range(len(fields) - 2):
        dx, dy, _ = motion_field([pairs[i]], shape, length=length)
        ee = bilinear(_dense_ee([pairs[i]], shape, length), rr, cc)
        ahead = [j for j in (i + 2, i + 3) if j < len(fields)]
        dt = pairs[i].dt
        steps = [(pairs[j - 1].time_b - pairs[i].time_b).total_seconds() / dt if dt else j - i - 1 for j in ahead]
        coeffs, holes = _coeffs(*fields[i + 1])
        ens = site_ensemble(
            coeffs, holes, dx, dy, ee, rr, cc, steps, members=members, sigma1=None, spacing=spacing, clip=clip
        )
        mv = motion_variance(ens)
        for n, j in enumerate(ahead):
            obs, ok = fields[j]
            leads.append(steps[n])
            errors.append(ens.value[n] - np.where(ok[ir, ic], obs[ir, ic], np.nan))
            mvar.append(mv[n])
    return fit_growth(leads, errors, mvar)


def site_nowcast_rows(sites, value, members, pct, *, issue, leads_s, quantity, unit, write_members) -> list[list[str]]:
    """Rows in :data:`NOWCAST_COLUMNS` order: per site, per lead (values ``%.6g``, NaN empty)."""
    from cloudmotion.files.times import format_iso
    from cloudmotion.tools.nowcast import lead_minutes

    out = []
    it = format_iso(issue) or ""
    valid = [format_iso(issue + timedelta(seconds=s)) if issue is not None else "" for s in leads_s]
    for i in range(sites.n):
        head = [sites.name[i], format_cell(sites.lon[i], "%.6f"), format_cell(sites.lat[i], "%.6f"), it]
        extra = list(sites.extra[i]) if sites.extra else []
        for j, s in enumerate(leads_s):
            cells = head + [valid[j] or "", str(lead_minutes(s)), quantity, unit, format_cell(value[j, i])]
            cells += [format_cell(pct[q, j, i]) for q in range(3)]
            if write_members:
                cells += [format_cell(x) for x in members[:, j, i]]
            out.append(cells + extra)
    return out


def run_site_nowcast(
    frames: Sequence[str],
    settings: Settings,
    *,
    sites: str,
    site_output: str | None,
    lead: float,
    every: float,
    members: int = 20,
    write_members: bool = False,
    advect: str = "value",
    seed: int = 0,
    stdout=None,
    overwrite: bool = False,
    on_warning: Callable[[str], None] = lambda msg: None,
) -> SiteNowcast:
    """The site nowcast as a library call; writes ``site_output`` unless it is None.

    Parameters
    ----------
    frames : sequence of str
        Two or more frames in time order; all are tracked (with N >= 3 the N - 2 one-step
        nowcasts fit the value noise), the last ``settings.pairs`` pairs make the motion.
    settings : Settings
    sites : str
        Sites file.
    site_output : str or None
        ``.csv`` path or ``-``.
    lead, every : float
        Longest lead and spacing of leads, s.
    members : int
        Ensemble size (>= 2).
    write_members : bool
        Add one column per member.
    advect : ``"value"`` or ``"cloud"``
        Nowcast the frame's value or its cloud probability (from the cloud model).
    seed : int
        Random seed of the perturbations.

    Raises
    ------
    UsageError
        Bad options, a clashing column in the sites file, an output that exists.
    DataError
        Unreadable frames, bad site coordinates, no time step, no good vector.
    """
    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import read_frame
    from cloudmotion.nowcast.ensemble import percentiles, site_ensemble
    from cloudmotion.nowcast.sites import bilinear
    from cloudmotion.pipeline import open_frames, pair_steps, track_frames
    from cloudmotion.tools.nowcast import lead_times, motion_field
    from cloudmotion.tools.site_winds import check_site_output, site_pixels

    if len(frames) < 2:
        raise UsageError(f"FRAME: need at least two frames, got {len(frames)}")
    if advect not in ("value", "cloud"):
        raise UsageError(f"--advect {advect}: use value or cloud")
    if members < 2:
        raise UsageError(f"--members {members}: an ensemble needs at least 2 members")
    if site_output is not None:
        check_site_output(sites, site_output, stdout_taken=False)
    own = NOWCAST_COLUMNS + (member_columns(members) if write_members else ())
    table = read_sites(sites, own)
    if site_output is not None:
        check_destinations([site_output], overwrite, "--site-output")
        check_not_inputs([site_output], list(frames) + [sites], option="--site-output")
    leads_s = lead_times(lead, every)
    infos = open_frames(frames, settings)
    steps = pair_steps(infos, settings.dt, settings.max_gap)
    dt = steps[-1][0]
    if dt is None:
        raise DataError(f"{infos[-2].path}, {infos[-1].path}: no time in the file names or tags; give --dt SECONDS")
    pairs = list(track_frames(infos, settings, [s for s, _ in steps], warn=on_warning))
    use = pairs[-settings.pairs :]
    if not any(v.good.any() for v in use):
        raise DataError(f"{frames[-1]}: no good vector in the last {len(use)} pair(s); nothing to extrapolate")

    def read(info):
        return read_frame(info, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)

    clouds = None
    if advect == "cloud":
        from cloudmotion.formats.clouds import make_cloud_source

        clouds = make_cloud_source(settings.cloud_model, settings.cloud_mask, read)
    fields = []  # every frame: with N >= 3 the one-step nowcasts fit the value noise
    for info in infos:
        f = read(info)
        data = np.asarray(clouds.probability(f) if clouds is not None else f.data, np.float64)
        fields.append((data, f.valid & np.isfinite(data)))
    shape = fields[-1][0].shape
    length = settings.flow_smoothing or float(settings.params.step)
    spacing = float(use[-1].step or settings.params.step)
    clip = (0.0, 1.0) if advect == "cloud" else None
    scale, sigma1, n_fit = _fit(fields, pairs, length, spacing, members, clip)
    if sigma1 is None:
        note = "two frames: no one-step nowcast to fit the value noise on; the spread is the motion error only"
    else:
        note = (
            f"value noise {sigma1:.4g} per sqrt(frame interval) and motion error {scale:.3g} x ee, fitted on "
            f"{len(fields) - 2} one-step and {max(0, len(fields) - 3)} two-step nowcast(s)"
        )
    dx, dy, _ = motion_field(use, shape, length=length)
    rows, cols = site_pixels(table, infos[-1].transform, infos[-1].crs_wkt, shape, infos[-1].path)
    ee = np.full(table.n, np.nan)
    at = np.isfinite(rows)
    ee[at] = bilinear(_dense_ee(use, shape, length), rows[at], cols[at])
    coeffs, holes = _coeffs(*fields[-1])
    leads = [s / dt for s in leads_s]
    value = np.full((len(leads), table.n), np.nan)
    ens_m = np.full((members, len(leads), table.n), np.nan)
    if at.any():
        ens = site_ensemble(
            coeffs, holes, dx, dy, ee[at], rows[at], cols[at], leads,
            members=members, sigma1=sigma1, spacing=spacing, seed=seed, clip=clip, motion_scale=scale,
        )  # fmt: skip
        value[:, at], ens_m[:, :, at] = ens.value, ens.members
    pct = percentiles(ens_m)
    info = infos[-1]
    quantity = "cloud_probability" if advect == "cloud" else (info.quantity or "value")
    unit = "1" if advect == "cloud" else (info.unit or "")
    rows_out = site_nowcast_rows(
        table, value, ens_m, pct, issue=info.time, leads_s=leads_s, quantity=quantity, unit=unit,
        write_members=write_members,
    )  # fmt: skip
    header = own + table.extra_names
    if site_output is not None:
        write_site_rows(site_output, header, rows_out, stdout=stdout)
    return SiteNowcast(header, rows_out, sigma1, scale, n_fit, info.time, leads_s, note, pairs)
