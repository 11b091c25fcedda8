"""Frames on disk to written vectors: the glue between reading, tracking, geolocation and
writing that every command shares. No click and no printing: warnings are returned."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from cloudmotion.amv.height import height_counts
from cloudmotion.errors import UsageError
from cloudmotion.formats.alignment import align_frame
from cloudmotion.formats.readers import Frame, FrameInfo, read_frame
from cloudmotion.formats.writers import write_vectors
from cloudmotion.geo import geolocate, speed_error
from cloudmotion.grid import make_grid
from cloudmotion.inputs import check_trackable, open_frames, pair_steps, plateau_warnings, resolve_search
from cloudmotion.model import GeoVectors, MotionField, Vectors
from cloudmotion.motion.search import border_share
from cloudmotion.qc.checks import assess
from cloudmotion.qc.fill import fill_flagged
from cloudmotion.qc.limits import describe_limit, pair_scales
from cloudmotion.sequence import iter_track_sequence
from cloudmotion.settings.params import Settings, TrackParams
from cloudmotion.settings.provenance import provenance

__all__ = [
    "Plotter",
    "Settings",
    "check_trackable",
    "open_frames",
    "pair_steps",
    "run_track",
    "track_frames",
    "write_result",
]


BORDER_WARN_SHARE = 0.05
"""Share of the textured templates peaking at the search border above which a pair warns."""


def border_warning(field: MotionField, a: FrameInfo, b: FrameInfo) -> str | None:
    """One line when more than :data:`BORDER_WARN_SHARE` of the textured templates peak at the search border."""
    p = field.params
    if p is None or field.at_search_limit is None:
        return None
    share = border_share(field.at_search_limit, field.valid_fraction, field.texture, p.min_valid)
    if share <= BORDER_WARN_SHARE:
        return None
    return (
        f"{a.path} -> {b.path}: {100 * share:.0f} % of the textured templates peak at the search border "
        f"(--search {p.search}): the motion may be larger; --search {2 * p.search} would cover twice the range"
    )


def height_report(columns: dict[str, np.ndarray], profile: str, max_ctt: float) -> dict[str, int]:
    """:func:`cloudmotion.amv.height.height_counts` of a pair's AMV ``columns``, plus ``dropped_levels``: the levels of
    the ``--profile`` sounding file left out for an empty cell (0 for a named profile)."""
    from cloudmotion.formats.profile import load_profile

    report = height_counts(columns["ctt"], columns["height"], max_ctt)
    report["dropped_levels"] = load_profile(profile).dropped
    return report


def amv_extra(
    field: MotionField, geo: GeoVectors, frame: tuple | None, info: FrameInfo, settings: Settings, dt: float | None
) -> tuple[dict, GeoVectors]:
    """Cloud-top temperature, pressure, height and parallax columns of a pair whose frame A is in K."""
    if frame is None or info.quantity != "brightness_temperature":
        return {}, geo
    from cloudmotion.amv.columns import amv_columns
    from cloudmotion.amv.parallax import satellite_from_crs
    from cloudmotion.formats.profile import load_profile

    sat = satellite_from_crs(info.crs_wkt) if settings.parallax else None
    return amv_columns(
        field,
        geo,
        frame[0],
        frame[1],
        profile=load_profile(settings.profile),
        share=settings.ctt_share,
        max_ctt=settings.max_ctt,
        satellite=sat,
        transform=info.transform,
        crs_wkt=info.crs_wkt,
        dt=dt,
    )


def track_frames(
    infos: Sequence[FrameInfo],
    settings: Settings,
    steps: Sequence[float | None],
    warn: Callable[[str], None] | None = None,
    *,
    scales: Sequence[np.ndarray | None] | None = None,
) -> Iterator[Vectors]:
    """Read, track and geolocate each consecutive pair, reading each frame once, lazily.

    Parameters
    ----------
    infos : sequence of FrameInfo
        From :func:`open_frames`.
    settings : Settings
    steps : sequence of float or None
        Seconds per pair, from :func:`pair_steps`.
    warn : callable, optional
        Called with each frame warning (undeclared plateau values), once per message.
    scales : sequence, optional
        Pixels per m/s at the templates of each pair, as :func:`pair_scales` returns for
        ``infos[0]``, ``settings`` and ``steps`` (a caller that checked them already passes
        them on); computed here when not given.

    Yields
    ------
    Vectors
    """

    def read(info: FrameInfo) -> Frame:
        return read_frame(info, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)

    def load(info: FrameInfo) -> tuple:
        frame = read(info)
        if settings.align and info is not infos[0]:
            frame = align_frame(frame, infos[0])
        check_trackable(frame, settings.params)
        kept[id(info)] = (frame.data, frame.valid)  # frame A's values for the AMV columns
        while len(kept) > 4:
            kept.pop(next(iter(kept)))
        if warn is not None:
            for msg in info.notes:
                if msg not in said:
                    said.add(msg)
                    warn(msg)
            previous = masks.get("last")  # a plateau is judged against the previous frame's
            msgs, masks["last"] = plateau_warnings(frame, previous)
            for msg in msgs if previous is not None else []:
                if msg.split(": ", 1)[1] not in said:
                    said.add(msg.split(": ", 1)[1])
                    warn(msg)
        if clouds is not None and info is not infos[-1]:  # frame A of a pair: its templates' cloud share
            fractions.append(cloud_fractions(clouds, frame, settings.params))
        return frame.data, frame.valid, frame.raw

    settings = resolve_search(settings, infos, steps)  # search = "auto": from the pixel size and time steps
    said: set[str] = set()
    masks: dict[str, np.ndarray] = {}
    kept: dict[int, tuple] = {}
    clouds, fractions = _clouds(infos, settings, read, warn), []
    record = provenance(settings)
    if scales is None:
        scales = pair_scales(infos[0], settings, list(steps))
    loaded = (load(i) for i in infos)
    fields = iter_track_sequence(loaded, steps=list(steps), params=settings.params, px_per_mps=scales)
    for i, ((a, b), dt, field) in enumerate(zip(itertools.pairwise(infos), steps, fields, strict=True)):

        def locate(f: MotionField, a: FrameInfo = a, dt: float | None = dt) -> GeoVectors:
            return geolocate(
                f.row,
                f.col,
                f.dx,
                f.dy,
                transform=a.transform,
                crs_wkt=a.crs_wkt,
                dt=dt,
                pixel_size=settings.pixel_size,
            )

        if warn is not None and (msg := border_warning(field, a, b)):
            warn(msg)
        geo = locate(field)
        off_earth = None
        if a.crs_wkt and a.transform is not None:
            off_earth = ~(np.isfinite(geo.lon) & np.isfinite(geo.lat))
        cloud = {"cloud_fraction": fractions[i].reshape(field.dx.shape)} if clouds is not None else {}
        if dt is not None or (off_earth is not None and off_earth.any()) or cloud:
            field = assess(
                dataclasses.replace(field, speed=geo.speed if dt is not None else None, off_earth=off_earth, **cloud),
                settings.params,
            )
        if settings.fill:
            field = fill_flagged(field)
            geo = locate(field)
        amv, geo = amv_extra(field, geo, kept.get(id(a)), a, settings, dt)
        ee = field.ee if field.ee is not None else np.full(field.dx.shape, np.nan)
        ee_speed = speed_error(
            ee, field.row, field.col, field.dx, field.dy, geo.speed, transform=a.transform, crs_wkt=a.crs_wkt, dt=dt
        )
        vectors = Vectors.from_tracking(
            field,
            geo,
            time_a=a.time,
            time_b=b.time,
            transform=a.transform,
            crs_wkt=a.crs_wkt,
            ee=ee,
            ee_speed=ee_speed,
            cloud_fraction=field.cloud_fraction,
            **amv,
        )
        vectors.extra.update(
            frames=(a.path, b.path),
            band=(a.goes or {}).get("band", a.band),
            quantity=a.quantity,
            profile=settings.profile if amv else None,
            settings=dataclasses.asdict(settings),
        )  # for the DMW attributes
        vectors.extra["provenance"] = record  # every output names the version and the settings
        if amv:  # how many vectors got no height, and why (reported with -v)
            vectors.extra["heights"] = height_report(amv, settings.profile, settings.max_ctt)
        vectors.extra["max_error"] = describe_limit(settings.params, scales[i])
        yield vectors


def _clouds(
    infos: Sequence[FrameInfo],
    settings: Settings,
    read: Callable[[FrameInfo], Frame],
    warn: Callable[[str], None] | None,
):
    """The run's cloud source, with a warning for water-vapour bands under --targets clouds."""
    from cloudmotion.formats.clouds import WATER_VAPOUR_BANDS, cloud_source, goes_band

    if settings.params.targets == "clouds" and warn is not None:
        wv = next((i for i in infos if goes_band(i) in WATER_VAPOUR_BANDS), None)
        if wv is not None:
            warn(
                f"{wv.path}: --targets clouds on water-vapour band {goes_band(wv)}: its clear-sky features are real "
                "winds, and they will be flagged CLEAR_SKY; use --targets all for bands 8, 9 and 10"
            )
    return cloud_source(settings, read)


def cloud_fractions(clouds, frame: Frame, params: TrackParams) -> np.ndarray:
    """Mean cloud probability over each template of a frame, in grid order (N,)."""
    from cloudmotion.amv.cloudprob import template_fraction

    grid = make_grid(frame.data.shape, params.window, params.step)
    return template_fraction(clouds.probability(frame), *grid.top_left(), params.window)


class Plotter(Protocol):
    """Draws a pair's picture for ``run_track(plot=...)``; the pipeline never imports a plotting library.

    ``check(path)`` refuses a picture name before any work (raising :class:`UsageError`);
    ``draw(vectors, frame, path)`` writes the picture of one pair over frame A.
    """

    def check(self, path: str) -> None: ...

    def draw(self, vectors: Vectors, frame: Frame, path: str) -> None: ...


def write_result(vectors: Vectors, path: str, kind: str | None = None) -> None:
    """Write one pair to its own file, atomically, with the writer ``kind`` (default: by suffix)."""
    write_vectors(path, vectors, kind)


def run_track(
    frames: Sequence[str],
    outputs: Sequence[str],
    settings: Settings,
    *,
    stdout,
    overwrite: bool = False,
    plot: str | None = None,
    plotter: Plotter | None = None,
    on_warning: Callable[[str], None] = lambda msg: None,
    on_pair: Callable[[int, FrameInfo, FrameInfo, float | None, Vectors], None] | None = None,
) -> None:
    """The ``track`` command as a library call: frames on disk to written outputs.

    Everything that can be refused is refused before any tracking: outputs (format,
    placeholders, existing files without ``overwrite``), frames (readable, one grid, in
    time order) and the plot name.

    Parameters
    ----------
    frames : sequence of str
        At least two frame paths, in time order.
    outputs : sequence of str
        ``-o`` paths or templates (``{pair}``, ``{time_a:...}``); empty means CSV on ``stdout``.
    settings : Settings
    stdout : text stream
        Where ``-`` goes.
    overwrite : bool
        Replace existing outputs.
    plot : str, optional
        Also draw a quick-look picture per pair, with ``plotter``.
    plotter : Plotter, optional
        Checks the picture's name before any work and draws each pair's picture; the
        command line passes :data:`cloudmotion.tools.plot.QUICKLOOK`. Required with ``plot``.
    on_warning : callable
        Receives each warning (a frame without a time, say).
    on_pair : callable, optional
        ``on_pair(i, a, b, dt, vectors)`` after pair ``i`` is written.
    """
    from cloudmotion.files.safety import check_not_inputs, remove_stale_temps
    from cloudmotion.files.templates import check_fields
    from cloudmotion.formats.outputs import (
        Output,
        check_destinations,
        expand_output,
        parse_outputs,
        write_pairs,
    )

    if len(frames) < 2:
        raise UsageError(f"FRAME: need at least two frames, got {len(frames)}")
    outs = parse_outputs(outputs, len(frames) - 1)
    picture = None
    if plot:
        if plotter is None:
            raise UsageError(f"--plot {plot}: no plotter given to draw it")
        plotter.check(plot)
        picture = Output(plot, "plot")
        check_fields(plot, ("pair", "time_a", "time_b"), "--plot", "use {pair}, {time_a:...}, {time_b:...}")
        if len(frames) > 2 and not picture.per_pair:
            raise UsageError(f"--plot {plot}: {len(frames) - 1} pairs need {{pair}} or {{time_a:...}} in the name")
    infos = open_frames(frames, settings)
    steps = pair_steps(infos, settings.dt, settings.max_gap)
    for _, warning in steps:
        if warning:
            on_warning(warning)
    scales = pair_scales(infos[0], settings, [s for s, _ in steps])  # a speed that cannot be converted: refused now
    pairs = list(itertools.pairwise(infos))
    targets = [[expand_output(o, i, a, b) for o in outs] for i, (a, b) in enumerate(pairs, start=1)]
    pictures = [expand_output(picture, i, a, b, "--plot") for i, (a, b) in enumerate(pairs, start=1)] if picture else []
    check_destinations(sorted({p for t in targets for p in t} | set(pictures)), overwrite)
    check_not_inputs([p for t in targets for p in t] + pictures, frames)  # exit 2, whatever --overwrite says
    remove_stale_temps([p for t in targets for p in t] + pictures)  # left by a killed run

    def after(i: int, vectors: Vectors) -> None:
        a, b = pairs[i - 1]
        if pictures and plotter is not None:
            plotter.draw(
                vectors,
                read_frame(a, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf),
                pictures[i - 1],
            )
        if on_pair is not None:
            on_pair(i, a, b, steps[i - 1][0], vectors)

    write_pairs(
        track_frames(infos, settings, [s for s, _ in steps], warn=on_warning, scales=scales),
        outs,
        targets,
        stdout=stdout,
        after_pair=after,
    )
