"""``cloudmotion nowcast``: track the latest pairs, make a dense motion field and extrapolate
the latest frame along it (Lagrangian persistence), one GeoTIFF per lead time.

The numerics are in :mod:`cloudmotion.nowcast.dense_flow` and :mod:`cloudmotion.nowcast.extrapolate`; this
module reads, checks names and writes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.model import Vectors
from cloudmotion.settings.params import Settings

__all__ = ["NOWCAST_FIELDS", "Nowcast", "lead_minutes", "lead_times", "motion_field", "nowcast_names", "run_nowcast"]

NOWCAST_FIELDS = ("lead", "valid_time")
"""Placeholders of a nowcast output name: ``{lead}`` (minutes) and ``{valid_time:STRFTIME}``."""

_HINT = "use {lead} (minutes) and {valid_time:STRFTIME}"


@dataclass(frozen=True)
class Nowcast:
    """What a nowcast run wrote."""

    paths: list[str]
    flow: str | None
    leads: list[float]
    source_time: datetime | None
    median: tuple[float, float]


def lead_times(lead: float, every: float) -> list[float]:
    """Lead times in seconds: ``every, 2 every, ...`` up to ``lead`` (inclusive).

    Raises
    ------
    UsageError
        When ``every`` exceeds ``lead``, ``lead`` is not a whole number of ``every`` (the
        last lead would silently fall short of it) or more than 1000 leads would be made.
    """
    if every > lead:
        raise UsageError(f"--every {every:g} s: longer than --lead {lead:g} s")
    n = int(np.floor(lead / every + 1e-9))
    if abs(lead - n * every) > 1e-6 * every:
        raise UsageError(
            f"--lead {_duration(lead)}: not a multiple of --every {_duration(every)} (the last lead time "
            f"would be {_duration(n * every)}); use --lead {_duration(n * every)} or {_duration((n + 1) * every)}"
        )
    if n > 1000:
        raise UsageError(f"--every {every:g} s: {n} lead times up to --lead {lead:g} s; at most 1000")
    return [every * k for k in range(1, n + 1)]


def _duration(seconds: float) -> str:
    """``25min`` for whole minutes, else ``90.5s``: as a duration option is written."""
    return f"{seconds / 60:g}min" if seconds % 60 == 0 else f"{seconds:g}s"


def lead_minutes(seconds: float) -> int | float:
    """A lead time as minutes for ``{lead}``: an int when whole (``60``), else a float."""
    m = seconds / 60.0
    return round(m) if abs(m - round(m)) < 1e-9 else m


def nowcast_names(template: str, leads: Sequence[float], source_time: datetime | None, option: str = "-o") -> list[str]:
    """The output path of each lead time.

    Raises
    ------
    UsageError
        Other placeholders, several leads without ``{lead}``/``{valid_time}``, or
        ``{valid_time}`` when the latest frame has no time.
    """
    from cloudmotion.files.templates import check_fields

    check_fields(template, NOWCAST_FIELDS, option, _HINT)
    if len(leads) > 1 and "{" not in template:
        raise UsageError(
            f"{option} {template}: {len(leads)} lead times need {{lead}} or {{valid_time:...}} in the name"
        )
    if source_time is None and "{valid_time" in template:
        raise UsageError(f"{option} {template}: the latest frame has no time for {{valid_time}}; use {{lead}}")
    names = []
    for s in leads:
        valid = source_time + timedelta(seconds=s) if source_time is not None else None
        try:
            names.append(template.format(lead=lead_minutes(s), valid_time=valid))
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
            raise UsageError(f"{option} {template}: bad placeholder ({exc}); {_HINT}") from None
    if len(set(names)) < len(names):
        raise UsageError(f"{option} {template}: two lead times get the same name; use {{lead}}")
    return names


def motion_field(
    pairs: Sequence[Vectors],
    shape: tuple[int, int],
    *,
    length: float,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """The dense field (px per interval of the latest pair) from one or more tracked pairs.

    Each good vector counts at its midpoint with weight ``1 / ee**2``; displacements of
    earlier pairs are scaled to the latest pair's time step.
    """
    from cloudmotion.nowcast.dense_flow import dense_flow, vector_weights

    dt_last = pairs[-1].dt
    parts = []
    for v in pairs:
        scale = dt_last / v.dt if dt_last and v.dt else 1.0
        good = v.good & np.isfinite(v.dx) & np.isfinite(v.dy)
        parts.append((v.row + v.dy / 2, v.col + v.dx / 2, v.dx * scale, v.dy * scale, vector_weights(v.ee, good)))
    rows, cols, dx, dy, w = (np.concatenate(x) for x in zip(*parts, strict=True))
    return dense_flow(rows, cols, dx, dy, w, shape, length=length)


def _flow_bands(dx, dy, info, dt, settings: Settings) -> dict[str, np.ndarray]:
    from cloudmotion.geo import geolocate

    rr, cc = np.mgrid[0 : dx.shape[0], 0 : dx.shape[1]]
    geo = geolocate(
        rr.ravel().astype(float),
        cc.ravel().astype(float),
        dx.ravel().astype(float),
        dy.ravel().astype(float),
        transform=info.transform,
        crs_wkt=info.crs_wkt,
        dt=dt,
        pixel_size=settings.pixel_size,
    )
    return {"dx": dx, "dy": dy, "u": geo.u.reshape(dx.shape), "v": geo.v.reshape(dx.shape)}


def run_nowcast(
    frames: Sequence[str],
    output: str,
    settings: Settings,
    *,
    lead: float,
    every: float,
    flow: str | None = None,
    overwrite: bool = False,
    on_warning: Callable[[str], None] = lambda msg: None,
    tracked: Sequence[Vectors] | None = None,
) -> Nowcast:
    """The ``nowcast`` command as a library call.

    Parameters
    ----------
    frames : sequence of str
        Two or more frames, in time order; the last ``settings.pairs`` pairs are tracked.
    output : str
        Output name with ``{lead}`` (minutes) and/or ``{valid_time:STRFTIME}``.
    settings : Settings
    lead, every : float
        Longest lead time and spacing of lead times, s.
    flow : str, optional
        Also write the dense field (bands dx, dy in px per frame interval, u, v in m/s).
    overwrite : bool
    on_warning : callable
    tracked : sequence of Vectors, optional
        Every consecutive pair of ``frames``, already tracked together with these settings
        (by :func:`cloudmotion.tools.site_nowcast.run_site_nowcast` in the same run). Used
        instead of tracking again only when ``frames`` are the ``settings.pairs + 1`` frames
        the nowcast tracks: pairs tracked within a longer sequence carry its temporal
        checks and its search range, and would change the nowcast.

    Raises
    ------
    UsageError
        Bad names, existing outputs without ``overwrite``, outputs that are inputs.
    DataError
        Unreadable or mismatched frames, no time step, no good vector.
    """
    from cloudmotion.files.safety import check_not_inputs, remove_stale_temps
    from cloudmotion.files.times import format_iso
    from cloudmotion.formats.frame_geotiff import value_meaning, write_frame_geotiff
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import read_frame
    from cloudmotion.nowcast.extrapolate import extrapolate, trace_spacing
    from cloudmotion.pipeline import open_frames, pair_steps, track_frames

    if len(frames) < 2:
        raise UsageError(f"FRAME: need at least two frames, got {len(frames)}")
    if not output.lower().endswith((".tif", ".tiff")):
        raise UsageError(f"-o {output}: a nowcast is a GeoTIFF; use .tif or .tiff")
    if flow is not None and not flow.lower().endswith((".tif", ".tiff")):
        raise UsageError(f"--flow {flow}: the motion field is a GeoTIFF; use .tif or .tiff")
    leads = lead_times(lead, every)
    if len(frames) < settings.pairs + 1:
        raise UsageError(
            f"--pairs {settings.pairs}: needs {settings.pairs + 1} frames, got {len(frames)}; "
            f"give more frames or --pairs {len(frames) - 1}"
        )
    use = list(frames[-(settings.pairs + 1) :])
    infos = open_frames(use, settings)
    steps = pair_steps(infos, settings.dt, settings.max_gap)
    dt = steps[-1][0]
    if dt is None:
        raise DataError(
            f"{infos[-2].path}, {infos[-1].path}: no time in the file names or tags; a nowcast "
            "needs the time step (give --dt SECONDS)"
        )
    source = infos[-1]
    source_time = source.time
    paths = nowcast_names(output, leads, source_time)
    flow_paths = [flow] if flow else []
    check_destinations(paths + flow_paths, overwrite)
    check_not_inputs(paths + flow_paths, frames)
    remove_stale_temps(paths + flow_paths)
    if tracked is not None and len(tracked) != len(frames) - 1:
        raise ValueError(f"tracked: {len(tracked)} pairs for {len(frames)} frames")
    if tracked is not None and len(use) == len(frames):
        pairs = list(tracked)
    else:
        pairs = list(track_frames(infos, settings, [s for s, _ in steps], warn=on_warning))
    if not any(v.good.any() for v in pairs):
        raise DataError(f"{use[-1]}: no good vector in the last {len(pairs)} pair(s); nothing to extrapolate")
    frame = read_frame(source, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)
    if settings.align and len(infos) > 1:
        from cloudmotion.formats.alignment import align_frame

        frame = align_frame(frame, infos[0])
    length = settings.flow_smoothing or float(settings.params.step)
    dx, dy, med = motion_field(pairs, frame.data.shape, length=length)
    tags = {
        "SOURCE_FRAME": os.path.abspath(source.path),
        "SOURCE_TIME": format_iso(source_time) or "",
        "SOURCE_FRAMES": ";".join(os.path.abspath(i.path) for i in infos),
        "FRAME_INTERVAL": f"{dt:g}",
        "METHOD": "Lagrangian persistence, semi-Lagrangian backward, cubic B-spline",
    }
    tags["QUANTITY"], tags["UNIT"] = value_meaning(source)
    if flow:
        write_frame_geotiff(
            flow,
            _flow_bands(dx, dy, source, dt, settings),
            transform=source.transform,
            crs_wkt=source.crs_wkt,
            time=source_time,
            tags={
                **tags,
                "SMOOTHING": f"{length:g}",
                "UNITS": "dx, dy: px per FRAME_INTERVAL; u, v: m/s eastward and northward",
            },
        )
    made = extrapolate(
        frame.data,
        frame.valid,
        dx,
        dy,
        [s / dt for s in leads],
        spacing=trace_spacing(dx, dy, leads[-1] / dt),
        threads=min(4, os.cpu_count() or 1),
    )
    for s, path, image in zip(leads, paths, made, strict=True):
        valid = source_time + timedelta(seconds=s) if source_time is not None else None
        write_frame_geotiff(
            path,
            {"nowcast": image},
            transform=source.transform,
            crs_wkt=source.crs_wkt,
            time=valid,
            tags={
                **tags,
                "LEAD_MINUTES": f"{lead_minutes(s)}",
                "LEAD_SECONDS": f"{s:g}",
                "VALID_TIME": format_iso(valid) or "",
            },
        )
    return Nowcast(paths=paths, flow=flow, leads=leads, source_time=source_time, median=med)
