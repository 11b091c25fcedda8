"""Frames on disk to written vectors: the glue between reading, tracking, geolocation and
writing that every command shares. No click and no printing: warnings are returned."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import DataError, UsageError
from .formats.raster import (
    Frame,
    FrameInfo,
    align_frame,
    check_compatible,
    open_frame,
    read_frame,
)
from .formats.writers import (
    PairResult,
    atomic_path,
    write_csv_header,
    write_csv_rows,
    write_geojson,
    write_geotiff,
)
from .geo import GeoVectors, geolocate
from .grid import make_grid
from .qc import Flag
from .track import (
    MotionField,
    TrackParams,
    fill_flagged,
    flag_where,
    iter_track_sequence,
)

__all__ = ["OUTPUT_KINDS", "Settings", "check_trackable", "open_frames", "output_kind", "pair_steps", "track_frames",
           "write_result"]

OUTPUT_KINDS = {".csv": "csv", ".tif": "tif", ".tiff": "tif", ".geojson": "geojson", ".nc": "nc"}
"""File extension -> output kind."""


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides paths.

    Attributes
    ----------
    params : TrackParams
        Tracker settings.
    band : int or None
        1-based band to read.
    nodata : float or None
        Extra NoData value in stored units.
    dt : float or None
        Seconds between frames, overriding frame times.
    pixel_size : float or None
        Metres per pixel for frames without a CRS.
    max_speed : float
        Vectors faster than this (m/s) get :attr:`Flag.SPEED_LIMIT`.
    fill : bool
        Replace vectors that are not good by interpolation of good neighbours
        (:func:`cloudmotion.track.fill_flagged`).
    channels : str or None
        Reduce several bands to one channel (``luminance``, ``pca``, ``mean``).
    valid_range : (float, float) or None
        Valid values in physical units.
    dqf : bool
        Mask pixels whose GOES DQF is not 0.
    align : bool
        Reproject later frames onto the first frame's grid.
    max_dt : float or None
        Largest accepted time between frames, seconds.
    force : bool
        Track frames from different GOES satellites, sectors or bands.
    """

    params: TrackParams
    band: int | None = None
    nodata: float | None = None
    dt: float | None = None
    pixel_size: float | None = None
    max_speed: float = 120.0
    fill: bool = False
    channels: str | None = None
    valid_range: tuple[float, float] | None = None
    dqf: bool = False
    align: bool = False
    max_dt: float | None = None
    force: bool = False


def output_kind(path: str) -> str | None:
    """``"csv"`` or ``"tif"`` from a path's extension (``-`` is CSV on stdout); None if unknown."""
    if path == "-":
        return "csv"
    low = path.lower()
    return next((kind for ext, kind in OUTPUT_KINDS.items() if low.endswith(ext)), None)


def open_frames(paths: Sequence[str], settings: Settings) -> list[FrameInfo]:
    """Open frame headers and check they form one trackable sequence.

    Raises
    ------
    DataError
        Unreadable frames, mismatched shape/CRS/transform, or frames smaller than a window.
    """
    infos = [open_frame(p, band=settings.band, channels=settings.channels) for p in paths]
    check_compatible(infos, grid=not settings.align, identity=not settings.force)
    rows, cols = infos[0].shape
    p = settings.params
    if rows < p.window or cols < p.window:
        raise DataError(f"{infos[0].path}: {rows}x{cols} px is smaller than one {p.window} px window")
    if p.search >= max(rows, cols):
        raise UsageError(f"--search {p.search}: larger than the {rows}x{cols} px frames")
    n = make_grid((rows, cols), p.window, p.step).size
    if n > p.max_vectors:
        raise UsageError(f"--step {p.step}: a {p.window} px window every {p.step} px on {rows}x{cols} px gives "
                         f"{n:,} vectors, more than max_vectors = {p.max_vectors:,}; use a larger --step "
                         "(or raise max_vectors in a --config file)")
    return infos


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
        raise DataError(f"{frame.info.path}: only {count} valid pixel(s), fewer than one {params.window} px "
                        f"window needs ({need})")
    values = frame.data[frame.valid]
    if float(values.max()) == float(values.min()):
        raise DataError(f"{frame.info.path}: every valid pixel has the value {float(values[0]):g}; "
                        "a constant image has no motion to track")


def pair_steps(infos: Sequence[FrameInfo], dt: float | None, max_dt: float | None = None,
               ) -> list[tuple[float | None, str | None]]:
    """Time step of each consecutive pair, with a warning where it is unknown.

    Returns
    -------
    list of (seconds or None, warning or None)

    Raises
    ------
    DataError
        When a frame's time is not after the previous frame's, or more than ``max_dt``
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
                raise DataError(f"{b.path}: time {b.time:%Y-%m-%dT%H:%M:%S}Z is not after {a.path} "
                                f"({a.time:%Y-%m-%dT%H:%M:%S}Z); frames must be in time order")
            if max_dt is not None and seconds > max_dt:
                raise DataError(f"{b.path}: {seconds:g} s after {a.path}, more than --max-dt {max_dt:g} s")
            out.append((seconds, None))
    return out


def track_frames(infos: Sequence[FrameInfo], settings: Settings, steps: Sequence[float | None]) -> Iterator[PairResult]:
    """Read, track and geolocate each consecutive pair, reading each frame once, lazily.

    Parameters
    ----------
    infos : sequence of FrameInfo
        From :func:`open_frames`.
    settings : Settings
    steps : sequence of float or None
        Seconds per pair, from :func:`pair_steps`.

    Yields
    ------
    PairResult
    """
    def load(info: FrameInfo) -> tuple:
        frame = read_frame(info, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)
        if settings.align and info is not infos[0]:
            frame = align_frame(frame, infos[0])
        check_trackable(frame, settings.params)
        return frame.data, frame.valid

    loaded = (load(i) for i in infos)
    fields = iter_track_sequence(loaded, steps=list(steps), params=settings.params)
    for (a, b), dt, field in zip(itertools.pairwise(infos), steps, fields, strict=True):

        def locate(f: MotionField, a: FrameInfo = a, dt: float | None = dt) -> GeoVectors:
            return geolocate(f.row, f.col, f.dx, f.dy, transform=a.transform, crs_wkt=a.crs_wkt, dt=dt,
                             pixel_size=settings.pixel_size)

        geo = locate(field)
        with np.errstate(invalid="ignore"):
            too_fast = geo.speed > settings.max_speed
        if too_fast.any():
            field = flag_where(field, too_fast, Flag.SPEED_LIMIT)
        if settings.fill:
            field = fill_flagged(field)
            geo = locate(field)
        yield PairResult(field=field, geo=geo, time_a=a.time, time_b=b.time, transform=a.transform,
                         crs_wkt=a.crs_wkt)


def write_result(result: PairResult, path: str, kind: str) -> None:
    """Write one pair to its own file, atomically (``kind`` from :func:`output_kind`)."""
    if kind == "tif":
        write_geotiff(path, result)
    elif kind == "geojson":
        write_geojson(path, result)
    elif kind == "nc":
        from .formats.netcdf import write_netcdf

        write_netcdf(path, result)
    elif kind == "csv":
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
            write_csv_header(fh)
            write_csv_rows(fh, result)
    else:
        raise ValueError(f"unknown output kind {kind!r}")
