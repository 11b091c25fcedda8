"""CSV and GeoTIFF writers. Files are written to a temporary name in the destination
folder and renamed into place, so a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import numpy as np

from ..errors import DataError
from ..geo import GeoVectors
from ..track import MotionField

__all__ = ["CSV_COLUMNS", "GEOTIFF_BANDS", "PairResult", "atomic_path", "vector_columns", "write_csv_header",
           "write_csv_rows", "write_geojson", "write_geotiff"]

CSV_COLUMNS = ("time_a", "time_b", "row", "col", "x", "y", "lon", "lat", "dx", "dy", "u", "v", "speed",
               "direction", "corr", "peak_ratio", "quality", "flag")
"""CSV columns, in order (the contract in DESIGN.md)."""

GEOTIFF_BANDS = {
    "dx": "displacement along columns, px (+ = increasing column)",
    "dy": "displacement along rows, px (+ = increasing row)",
    "u": "eastward wind, m/s",
    "v": "northward wind, m/s",
    "speed": "wind speed, m/s",
    "direction": "meteorological wind direction (from), degrees clockwise from north",
    "corr": "peak normalised correlation coefficient",
    "quality": "quality index, 0-100",
    "flag": "flag bitmask, 0 = good (see cloudmotion.quality.Flag)",
}
"""GeoTIFF band names and descriptions, in band order."""

_CSV_CHUNK = 65536

_FORMATS = {
    "row": "%.1f", "col": "%.1f", "x": "%.2f", "y": "%.2f", "lon": "%.6f", "lat": "%.6f", "dx": "%.4f",
    "dy": "%.4f", "u": "%.3f", "v": "%.3f", "speed": "%.3f", "direction": "%.2f", "corr": "%.4f",
    "peak_ratio": "%.3f", "quality": "%.1f",
}


@dataclass(frozen=True)
class PairResult:
    """One tracked pair with everything the writers need."""

    field: MotionField
    geo: GeoVectors
    time_a: datetime | None
    time_b: datetime | None
    transform: tuple[float, ...] | None
    crs_wkt: str | None


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on failure.

    Raises
    ------
    DataError
        When the destination folder does not exist or is not writable.
    """
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    # the name is chosen before the file exists, so cleanup knows it whenever a signal lands
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.part")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # usual permissions (umask)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _iso(t: datetime | None) -> str:
    if t is None:
        return ""
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += f".{t.microsecond // 100000}"
    return s + "Z"


def _column(values: np.ndarray, fmt: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    out = np.char.mod(fmt, np.where(np.isfinite(v), v, 0.0))
    return np.where(np.isfinite(v), out, "")


def write_csv_header(stream: IO[str]) -> None:
    """Write the CSV header line."""
    stream.write(",".join(CSV_COLUMNS) + "\n")


def vector_columns(result: PairResult) -> dict[str, np.ndarray]:
    """The numeric CSV columns of a pair (``row`` .. ``quality``), as float64 arrays in grid order.

    ``peak_ratio`` is NaN where there is no second peak; NaN means unknown throughout.
    """
    f, g = result.field, result.geo
    data = {
        "row": f.row, "col": f.col, "x": g.x, "y": g.y, "lon": g.lon, "lat": g.lat, "dx": f.dx, "dy": f.dy,
        "u": g.u, "v": g.v, "speed": g.speed, "direction": g.direction, "corr": f.corr,
        "peak_ratio": np.where(np.isinf(f.peak_ratio), np.nan, f.peak_ratio), "quality": f.quality,
    }
    return {k: np.asarray(v, dtype=np.float64).ravel() for k, v in data.items()}


def write_geojson(path: str, result: PairResult) -> None:
    """Write a GeoJSON FeatureCollection of points at the vector origins (lon, lat), atomically.

    Every CSV column is a property (null where unknown, numbers rounded as in the CSV);
    vectors without a position on the Earth have a null geometry. Coordinates are WGS 84
    longitude/latitude as RFC 7946 requires.
    """
    import json

    f = result.field
    data = vector_columns(result)
    digits = {k: int(fmt[2:-1]) for k, fmt in _FORMATS.items()}
    rounded = {k: [None if not np.isfinite(v) else round(float(v), digits[k]) for v in arr] for k, arr in data.items()}
    flags = f.flag.ravel().tolist()
    times = {"time_a": _iso(result.time_a) or None, "time_b": _iso(result.time_b) or None}
    features = []
    for i in range(f.dx.size):
        props = dict(times)
        props.update({k: rounded[k][i] for k in CSV_COLUMNS[2:-1]})
        props["flag"] = flags[i]
        lon, lat = rounded["lon"][i], rounded["lat"][i]
        geom = None if lon is None or lat is None else {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    doc = {"type": "FeatureCollection", "features": features}
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(doc, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")


def write_csv_rows(stream: IO[str], result: PairResult) -> int:
    """Append one row per vector of a pair, row-major over the grid; return the row count.

    Unknown values (no CRS, no time, no measurable displacement) are empty cells.
    """
    f = result.field
    n = f.dx.size
    data = vector_columns(result)
    flags = f.flag.ravel()
    times = f"{_iso(result.time_a)},{_iso(result.time_b)}"
    for lo in range(0, n, _CSV_CHUNK):  # bounded memory for the string columns
        sl = slice(lo, min(lo + _CSV_CHUNK, n))
        lines = np.full(sl.stop - sl.start, times)
        for name in CSV_COLUMNS[2:-1]:
            lines = np.char.add(np.char.add(lines, ","), _column(data[name][sl], _FORMATS[name]))
        lines = np.char.add(np.char.add(lines, ","), flags[sl].astype(str))
        stream.write("\n".join(lines.tolist()) + "\n")
    return n


def grid_transform(field: MotionField, transform: tuple[float, ...] | None):
    """Affine transform of the vector grid: each cell centred on its vector's origin.

    Parameters
    ----------
    field : MotionField
        Provides the grid (origin of the first vector and the step, in pixels).
    transform : tuple of 6 floats or None
        The frame's pixel-corner transform; None means pixel coordinates.

    Returns
    -------
    affine.Affine
    """
    from affine import Affine

    base = Affine(*transform[:6]) if transform is not None else Affine.identity()
    step = field.grid.step
    r0 = float(field.row[0, 0])
    c0 = float(field.col[0, 0])
    return base @ Affine.translation(c0 + 0.5 - step / 2.0, r0 + 0.5 - step / 2.0) @ Affine.scale(step)


def write_geotiff(path: str, result: PairResult) -> None:
    """Write the vector grid as a float32 GeoTIFF, one described band per quantity, atomically.

    Bands follow :data:`GEOTIFF_BANDS`; NoData is NaN; tiled and deflate-compressed; the
    CRS is copied from the input WKT; times go to ``TIME_A``/``TIME_B`` tags.
    """
    import rasterio

    f, g = result.field, result.geo
    arrays = {
        "dx": f.dx, "dy": f.dy, "u": g.u, "v": g.v, "speed": g.speed, "direction": g.direction,
        "corr": f.corr, "quality": f.quality, "flag": f.flag,
    }
    ny, nx = f.grid.shape
    stack = np.stack([np.asarray(arrays[k], dtype=np.float32).reshape(ny, nx) for k in GEOTIFF_BANDS])
    block = 256 if max(ny, nx) > 256 else 16 * max(1, int(np.ceil(max(ny, nx) / 16)))
    profile = {
        "driver": "GTiff", "width": nx, "height": ny, "count": len(GEOTIFF_BANDS), "dtype": "float32", "nodata": np.nan,
        "transform": grid_transform(f, result.transform), "crs": result.crs_wkt or None, "tiled": True,
        "blockxsize": block, "blockysize": block, "compress": "deflate", "predictor": 3,
    }
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as ds:
        ds.write(stack)
        for i, (name, desc) in enumerate(GEOTIFF_BANDS.items(), start=1):
            ds.set_band_description(i, name)
            ds.update_tags(i, description=desc)
        ds.update_tags(TIME_A=_iso(result.time_a), TIME_B=_iso(result.time_b),
                       WINDOW=str(f.grid.window), STEP=str(f.grid.step), SOFTWARE="cloudmotion")
