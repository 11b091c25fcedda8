"""Synthetic frame sequences with a known motion, written as GeoTIFF, and their truth.

Frame ``k`` is frame 0 moved by ``k`` times a displacement field
(``B(p + k d(p)) = A(p)``, :func:`cloudmotion.tools.known_motion.warp`); ``truth.tif`` holds that
field, the displacement per frame step in pixels, on the frames' grid.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from cloudmotion.formats.goes_names import goes_stamp
from cloudmotion.tools.known_motion import (
    correlated_noise,
    warp,
)
from cloudmotion.tools.synth_motion import check_motion, motion_field, parse_motion, parse_size
from cloudmotion.tools.truth import (
    read_truth,  # re-exported: truth.tif is written here and read by score
)

__all__ = [
    "GOES16_WKT",
    "PIXEL_M",
    "SynthSequence",
    "check_motion",
    "make_sequence",
    "motion_field",
    "parse_motion",
    "parse_size",
    "read_truth",
    "write_sequence",
]

GOES16_WKT = (
    'PROJCS["unnamed",GEOGCS["unknown",DATUM["unnamed",SPHEROID["Spheroid",6378137,298.2572221]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]]],'
    'PROJECTION["Geostationary_Satellite"],PARAMETER["central_meridian",-75],'
    'PARAMETER["satellite_height",35786023],PARAMETER["false_easting",0],PARAMETER["false_northing",0],'
    'UNIT["metre",1,AUTHORITY["EPSG","9001"]],AXIS["Easting",EAST],AXIS["Northing",NORTH],'
    'EXTENSION["PROJ4","+proj=geos +lon_0=-75 +h=35786023 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs +sweep=x"]]'
)
"""GOES-16 (East, 75° W) ABI fixed grid as GDAL builds it from the netCDF: sweep x, kept as WKT."""

PIXEL_M = 2004.017315487541
"""ABI 2 km pixel on the fixed grid at nadir, metres."""

DEFAULT_START = datetime(2020, 1, 4, 3, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SynthSequence:
    """A synthetic sequence in memory.

    Attributes
    ----------
    frames : list of ndarray of float32, shape (rows, cols)
        Frame ``k`` = frame 0 moved by ``k`` x the field; NaN where NoData.
    times : list of datetime
        UTC times, ``interval`` seconds apart.
    dx, dy : ndarray of float32, shape (rows, cols)
        True displacement per frame step, px, along columns and rows.
    transform : tuple of 6 floats or None
        Pixel-corner affine transform.
    crs_wkt : str or None
        CRS as WKT.
    """

    frames: list[np.ndarray]
    times: list[datetime]
    dx: np.ndarray
    dy: np.ndarray
    transform: tuple[float, ...] | None
    crs_wkt: str | None


def make_sequence(
    base: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    nframes: int,
    start: datetime,
    interval: float,
    transform: tuple[float, ...] | None,
    crs_wkt: str | None,
    valid: np.ndarray | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> SynthSequence:
    """Warp ``base`` by ``k`` x (dx, dy) for k = 0 .. nframes-1 and add white noise.

    Parameters
    ----------
    base : ndarray, shape (rows, cols)
        Frame 0 in physical units (invalid pixels may hold anything).
    dx, dy : ndarray, shape (rows, cols)
        Displacement per frame step, px.
    nframes : int
        Number of frames, >= 2.
    start : datetime
        Time of frame 0 (UTC).
    interval : float
        Seconds between frames.
    transform, crs_wkt
        Georeference copied to the output.
    valid : ndarray of bool, optional
        Validity of ``base``; NoData moves with the field and stays NaN.
    noise : float
        Standard deviation of independent Gaussian noise added to every frame, as a
        percentage of the standard deviation of frame 0's valid pixels.
    seed : int
        Seed of the noise.

    Returns
    -------
    SynthSequence
    """
    base = np.asarray(base, dtype=np.float64)
    if valid is None:
        valid = np.isfinite(base)
    fill = float(np.mean(base[valid])) if valid.any() else 0.0
    filled = np.where(valid, base, fill)
    sd = float(np.std(base[valid])) if valid.any() else 1.0
    rng = np.random.default_rng(seed + 1)
    frames = []
    for k in range(nframes):
        if k == 0:
            img, ok = filled.copy(), valid
        else:
            img = warp(filled, k * dx, k * dy)
            ok = valid if valid.all() else warp(valid.astype(np.float64), k * dx, k * dy, order=1) > 0.999
        if noise > 0:
            img = img + rng.standard_normal(img.shape) * (noise / 100.0 * sd)
        frames.append(np.where(ok, img, np.nan).astype(np.float32))
    times = [start + timedelta(seconds=k * interval) for k in range(nframes)]
    return SynthSequence(
        frames=frames,
        times=times,
        dx=np.asarray(dx, np.float32),
        dy=np.asarray(dy, np.float32),
        transform=transform,
        crs_wkt=crs_wkt,
    )


def noise_base(shape: tuple[int, int], corr_length: float, *, seed: int = 0) -> np.ndarray:
    """Cloud-like texture for frame 0: correlated noise scaled to radiance-like values (mean 60, sd 20)."""
    return 60.0 + 20.0 * correlated_noise(shape, corr_length, seed=seed)


def frame_names(times: list[datetime], prefix: str = "synth", goes: dict | None = None) -> list[str]:
    """Short GOES names ``{prefix}_G16_F_C13_s{YYYYJJJHHMMSSt}.tif`` (satellite, sector and band of
    ``goes``, by default those of the GOES-16-like grid), which track times and batch groups."""
    g = goes or {"satellite": "G16", "sector": "F", "band": 13}
    return [f"{prefix}_{g['satellite']}_{g['sector']}_C{g['band'] or 13:02d}_s{goes_stamp(t)}.tif" for t in times]


def _verifier(path: str, count: int, shape: tuple[int, int]):
    from cloudmotion.files.gdal_errors import verify_geotiff

    def verify(tmp: str) -> None:
        verify_geotiff(tmp, path, count=count, shape=shape)

    return verify


def write_sequence(
    seq: SynthSequence,
    outdir: str,
    *,
    motion: str = "",
    prefix: str = "synth",
    tags: dict | None = None,
    goes: dict | None = None,
) -> list[str]:
    """Write the frames and ``truth.tif`` into ``outdir``, each atomically.

    Frames are float32 GeoTIFF, NoData NaN, deflate, with ``TIFFTAG_DATETIME`` and a
    GOES-style ``_sYYYYJJJHHMMSSt`` name. ``truth.tif`` has two float32 bands, ``dx``
    and ``dy`` (px per frame step), on the same grid, with tags ``INTERVAL_S``,
    ``MOTION`` and ``FRAMES``. ``tags`` (the GOES L1b calibration constants of the source
    frame) go on every frame.

    Returns
    -------
    list of str
        Paths of the frames, then of ``truth.tif``.
    """
    import rasterio
    from affine import Affine

    from cloudmotion.files.atomic import atomic_path
    from cloudmotion.files.gdal_errors import capture_write_errors

    rows, cols = seq.dx.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "dtype": "float32",
        "nodata": np.nan,
        "compress": "deflate",
        "predictor": 3,
    }
    if seq.crs_wkt:
        profile["crs"] = seq.crs_wkt
    if seq.transform is not None:
        profile["transform"] = Affine(*seq.transform[:6])
    if max(rows, cols) > 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    paths = []
    for name, frame, t in zip(frame_names(seq.times, prefix, goes), seq.frames, seq.times, strict=True):
        path = os.path.join(outdir, name)
        with (
            atomic_path(path, _verifier(path, 1, (rows, cols))) as tmp,
            capture_write_errors(path),
            rasterio.open(tmp, "w", count=1, **profile) as ds,
        ):
            ds.write(frame, 1)
            ds.set_band_description(1, "synthetic frame")
            ds.update_tags(TIFFTAG_DATETIME=f"{t:%Y:%m:%d %H:%M:%S}", SOFTWARE="cloudmotion synth", **(tags or {}))
        paths.append(path)
    path = os.path.join(outdir, "truth.tif")
    with (
        atomic_path(path, _verifier(path, 2, (rows, cols))) as tmp,
        capture_write_errors(path),
        rasterio.open(tmp, "w", count=2, **profile) as ds,
    ):
        ds.write(np.stack([seq.dx, seq.dy]).astype(np.float32))
        ds.set_band_description(1, "dx")
        ds.set_band_description(2, "dy")
        ds.update_tags(1, description="true displacement per frame step along columns, px (+ = increasing column)")
        ds.update_tags(2, description="true displacement per frame step along rows, px (+ = increasing row)")
        interval = (seq.times[1] - seq.times[0]).total_seconds() if len(seq.times) > 1 else 0.0
        ds.update_tags(
            INTERVAL_S=f"{interval:g}", MOTION=motion, FRAMES=str(len(seq.frames)), SOFTWARE="cloudmotion synth"
        )
    paths.append(path)
    return paths


def synthesize(
    outdir: str,
    *,
    nframes: int = 3,
    motion: str = "uniform:1.25,-0.5",
    from_frame: str | None = None,
    noise: float = 0.0,
    corr_length: float = 3.0,
    size: str = "512x512",
    interval: float = 300.0,
    seed: int = 0,
    overwrite: bool = False,
) -> list[str]:
    """The ``synth`` command as a library call: write frames with a known motion and ``truth.tif``.

    Parameters
    ----------
    outdir : str
        Folder (created if missing).
    nframes : int
        Frames to write (>= 2).
    motion : str
        Displacement per frame step in px (:func:`parse_motion`).
    from_frame : str, optional
        Warp this real frame instead of synthetic texture.
    noise : float
        Independent Gaussian noise per frame, % of frame 0's standard deviation.
    corr_length : float
        Correlation length of the synthetic texture, px.
    size : str
        ``ROWSxCOLS`` of the synthetic texture.
    interval : float
        Seconds between frames.

    Returns
    -------
    list of str
        The paths written.
    """
    from cloudmotion.files.safety import check_not_inputs, prepare_folder
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import open_frame, read_frame

    terms = parse_motion(motion)
    if from_frame:
        info = open_frame(from_frame)
        frame = read_frame(info)
        base, valid, transform, crs, start = frame.data, frame.valid, info.transform, info.crs_wkt, info.time
        from cloudmotion.formats.calibration import as_tags

        tags = as_tags(info.calibration)  # frames derived from L1b can be calibrated too
        if tags and info.unit:
            tags["units"] = info.unit
        goes = info.goes
    else:
        rows, cols = parse_size(size)
        base, valid, crs, start, goes = noise_base((rows, cols), corr_length, seed=seed), None, GOES16_WKT, None, None
        tags = {}
        transform = (PIXEL_M, 0.0, -cols / 2 * PIXEL_M, 0.0, -PIXEL_M, rows / 2 * PIXEL_M)
    start = start or DEFAULT_START
    dx, dy = motion_field(terms, base.shape)
    check_motion(motion, dx, dy, nframes)
    prepare_folder(outdir, "OUTDIR ")
    seq = make_sequence(
        np.asarray(base, dtype=np.float64),
        dx,
        dy,
        nframes=nframes,
        start=start,
        interval=interval,
        transform=transform,
        crs_wkt=crs,
        valid=valid,
        noise=noise,
        seed=seed,
    )
    names = [*frame_names(seq.times, goes=goes), "truth.tif"]
    check_destinations([os.path.join(outdir, n) for n in names], overwrite)
    check_not_inputs([os.path.join(outdir, n) for n in names], [from_frame] if from_frame else [])
    return write_sequence(seq, outdir, motion=motion, tags=tags, goes=goes)
