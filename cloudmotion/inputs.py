"""The frames of a run: opened, checked against each other and the settings, and timed.

What every command does before tracking: read each frame's header, refuse what cannot
work (another grid, no temperature for heights, frames out of time order), and give each
pair its time step. No click and no printing: warnings are returned.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.alignment import check_compatible
from cloudmotion.formats.readers import Frame, FrameInfo, open_frame
from cloudmotion.geo import smallest_pixel
from cloudmotion.grid import make_grid
from cloudmotion.motion.search import AUTO_FALLBACK, auto_search
from cloudmotion.settings.params import Settings, TrackParams

__all__ = [
    "check_amv_settings",
    "check_temperature",
    "check_trackable",
    "frame_pixel",
    "open_frames",
    "pair_steps",
    "plateau_warnings",
    "resolve_search",
]


def open_frames(paths: Sequence[str], settings: Settings) -> list[FrameInfo]:
    """Open frame headers and check they form one trackable sequence.

    Raises
    ------
    DataError
        Unreadable frames, mismatched shape/CRS/transform, or frames smaller than a window.
    """
    from cloudmotion.formats.calibration import resolve

    infos = [resolve(open_frame(p, band=settings.band, channels=settings.channels), settings.calibrate) for p in paths]
    if settings.name_pattern:
        infos = [_time_from_pattern(info, settings.name_pattern) for info in infos]
    check_compatible(infos, grid=not settings.align, identity=not settings.force)
    check_amv_settings(infos[0], settings)
    rows, cols = infos[0].shape
    p = settings.params
    if rows < p.window or cols < p.window:
        raise DataError(f"{infos[0].path}: {rows}x{cols} px is smaller than one {p.window} px window")
    if isinstance(p.search, int) and p.search >= max(rows, cols):
        raise UsageError(f"--search {p.search}: larger than the {rows}x{cols} px frames")
    n = make_grid((rows, cols), p.window, p.step).size
    if n > p.max_vectors:
        raise UsageError(
            f"--step {p.step}: a {p.window} px window every {p.step} px on {rows}x{cols} px gives "
            f"{n:,} vectors, more than max_vectors = {p.max_vectors:,}; use a larger --step "
            "(or raise max_vectors in a --config file)"
        )
    return infos


def check_amv_settings(info: FrameInfo, settings: Settings) -> None:
    """Refuse ``--parallax`` without a geostationary CRS, a ``--profile`` file that cannot be read,
    and heights asked of frames not in brightness temperature."""
    from cloudmotion.amv.parallax import satellite_from_crs
    from cloudmotion.formats.profile import load_profile

    load_profile(settings.profile)
    if settings.parallax and satellite_from_crs(info.crs_wkt) is None:
        raise UsageError(
            f"--parallax: {info.path} has no geostationary CRS (+proj=geos), which gives the satellite's position"
        )
    check_temperature(info, settings.parallax, settings.profile)


def _time_from_pattern(info: FrameInfo, pattern: str) -> FrameInfo:
    """The frame with its time from ``--name-pattern`` (which wins over names and tags).

    Raises
    ------
    DataError
        The file name does not match the pattern.
    """
    import os

    from cloudmotion.settings.name_patterns import compile_name_pattern

    ref = compile_name_pattern(pattern).match(info.path)
    if ref is None:
        raise DataError(
            f"{info.path}: the name {os.path.basename(info.path)!r} does not match --name-pattern {pattern}"
        )
    return dataclasses.replace(info, time=ref.time, time_source="file name (--name-pattern)")


def check_trackable(frame: Frame, params: TrackParams) -> None:
    """Refuse frames that cannot give a single vector: too few valid pixels or no contrast.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    need = int(np.ceil(params.min_valid * params.window * params.window))
    count = int(frame.valid.sum())
    if count < need:
        raise DataError(
            f"{frame.info.path}: only {count} valid pixel(s), fewer than one {params.window} px window needs ({need})"
        )
    values = frame.data[frame.valid]
    if float(values.max()) == float(values.min()):
        raise DataError(
            f"{frame.info.path}: every valid pixel has the value {float(values[0]):g}; "
            "a constant image has no motion to track"
        )


def pair_steps(
    infos: Sequence[FrameInfo],
    dt: float | None,
    max_gap: float | None = None,
) -> list[tuple[float | None, str | None]]:
    """Time step of each consecutive pair, with a warning where it is unknown.

    Returns
    -------
    list of (seconds or None, warning or None)

    Raises
    ------
    DataError
        When a frame's time is not after the previous frame's, or more than ``max_gap``
        seconds after it.
    """
    out = []
    for a, b in itertools.pairwise(infos):
        if dt is not None:
            out.append((dt, None))
        elif a.time is None or b.time is None:
            missing = a.path if a.time is None else b.path
            msg = f"{missing}: no time in the file name or tags; m/s columns left empty (give --dt SECONDS)"
            out.append((None, msg))
        else:
            seconds = (b.time - a.time).total_seconds()
            if seconds <= 0:
                raise DataError(
                    f"{b.path}: time {b.time:%Y-%m-%dT%H:%M:%S}Z is not after {a.path} "
                    f"({a.time:%Y-%m-%dT%H:%M:%S}Z); frames must be in time order"
                )
            if max_gap is not None and seconds > max_gap:
                raise DataError(f"{b.path}: {seconds:g} s after {a.path}, more than --max-gap {max_gap:g} s")
            out.append((seconds, None))
    return out


def plateau_warnings(frame: Frame, previous: np.ndarray | None = None) -> tuple[list[str], np.ndarray]:
    """Warnings about undeclared plateau values of a frame (:func:`cloudmotion.motion.plateau.plateau_warning`),
    and its plateau mask.

    With the previous frame's plateau mask, only plateaus whose boundary stands still between
    the two frames are reported (space, out of range): the zero background of particle images
    or a radar's no-echo value moves with the data and is no NoData.
    """
    from cloudmotion.motion.plateau import WARN_SHARE, find_plateaus, plateau_warning, standing_plateau

    plateaus, mask = find_plateaus(frame.data, frame.valid)
    if previous is not None and plateaus:
        still = standing_plateau(previous, mask)
        need = WARN_SHARE * frame.data.size
        plateaus = [p for p in plateaus if np.count_nonzero(still & (frame.data == p.value)) >= need]
    return [f"{frame.info.path}: {w}" for w in plateau_warning(plateaus)], mask


BT = "brightness_temperature"


def check_temperature(info: FrameInfo, parallax: bool, profile: str) -> None:
    """Refuse ``--parallax``, or a ``--profile`` other than the default, on a frame not in
    brightness temperature: no vector could get a height.

    Parameters
    ----------
    info : FrameInfo
        Frame A of the run (after ``--calibrate`` is resolved).
    parallax : bool
        ``--parallax`` asked for.
    profile : str
        The ``--profile`` setting; anything but ``standard`` (the default) asks for heights.

    Raises
    ------
    DataError
        Naming the frame's quantity and what gives brightness temperature.
    """
    if info.quantity == BT:
        return
    if parallax:
        asked = "--parallax"
    elif profile != "standard":
        asked = f"--profile {profile}"
    else:
        return
    held = info.quantity.replace("_", " ") if info.quantity else "values of unknown quantity (as stored)"
    raise DataError(
        f"{asked}: {info.path} holds {held}, not brightness temperature, so no vector would get a height; "
        "use --calibrate bt on a GOES ABI L1b netCDF of an infrared band (7-16), or frames in brightness "
        "temperature (K)"
    )


def frame_pixel(info: FrameInfo, settings: Settings) -> float | None:
    """The frame's smallest ground pixel, m: from its CRS, else ``--pixel-size``, else None."""
    if info.crs_wkt and info.transform is not None:
        try:
            return smallest_pixel(info.shape, transform=info.transform, crs_wkt=info.crs_wkt)
        except (ValueError, RuntimeError):  # a CRS pyproj cannot place on the Earth: no ground size
            return settings.pixel_size
    return settings.pixel_size


def resolve_search(settings: Settings, infos: Sequence[FrameInfo], steps: Sequence[float | None]) -> Settings:
    """``settings`` with ``search = "auto"`` replaced by pixels; an explicit search is kept.

    Auto is :func:`cloudmotion.motion.search.auto_search` of the largest known time step
    of the run's pairs and the first frame's smallest ground pixel (all frames share one
    grid), or :data:`~cloudmotion.motion.search.AUTO_FALLBACK` when either is unknown.
    """
    p = settings.params
    if p.search != "auto":
        return settings
    known = [s for s in steps if s]
    pixel = frame_pixel(infos[0], settings) if known else None
    n = auto_search(p.max_speed, max(known), pixel, infos[0].shape) if known and pixel else AUTO_FALLBACK
    return dataclasses.replace(settings, params=dataclasses.replace(p, search=n))
