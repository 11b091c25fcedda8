"""Read motion vectors written by ``cloudmotion track`` (CSV or GeoTIFF grid) back into arrays.

The inverse of :mod:`cloudmotion.writers`: one :class:`VectorPair` per tracked pair, with
flat arrays in the conventions of DESIGN.md (``row``/``col`` pixel index of the origin in
frame A, ``dx`` along columns, ``dy`` along rows, pixels).
"""

from __future__ import annotations

import csv
import os
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..errors import DataError
from .writers import CSV_COLUMNS, GEOTIFF_BANDS

__all__ = ["VectorPair", "read_vectors"]

_REQUIRED = ("row", "col", "dx", "dy", "flag")


@dataclass(frozen=True)
class VectorPair:
    """The vectors of one pair, as flat float64 arrays of equal length ``n``.

    Attributes
    ----------
    time_a, time_b : datetime or None
        Frame times (UTC).
    row, col : ndarray
        Vector origin in frame A, pixel index coordinates (integer = pixel centre).
    dx, dy : ndarray
        Displacement A -> B, px, along columns and rows (NaN = none measured).
    u, v, speed : ndarray
        Eastward, northward and total wind, m/s (NaN when unknown).
    lon, lat : ndarray
        Origin in degrees (NaN when unknown).
    flag : ndarray of int64
        Quality bitmask, 0 = good.
    """

    time_a: datetime | None
    time_b: datetime | None
    row: np.ndarray
    col: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    speed: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    flag: np.ndarray

    @property
    def dt(self) -> float | None:
        """Seconds from frame A to frame B, or None when a time is unknown."""
        if self.time_a is None or self.time_b is None:
            return None
        return (self.time_b - self.time_a).total_seconds()

    @property
    def good(self) -> np.ndarray:
        """Boolean array, True where ``flag == 0``."""
        return self.flag == 0


def _parse_time(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _floats(values: list[str], path: str, name: str) -> np.ndarray:
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: column {name}: {exc}") from None


def _read_csv(path: str) -> list[VectorPair]:
    try:
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if not header:
        raise DataError(f"{path}: empty file, not a cloudmotion CSV")
    header = [h.strip() for h in header]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}: not a cloudmotion vector CSV (missing column {', '.join(missing)})")
    rows = [r for r in rows if r]
    if any(len(r) < len(header) for r in rows):
        raise DataError(f"{path}: a line has fewer cells than the header")
    cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    n = len(rows)
    for name in CSV_COLUMNS:
        cols.setdefault(name, [""] * n)
    # a new pair starts where the times change or the row-major grid starts over
    keys = list(zip(cols["time_a"], cols["time_b"], strict=True))
    origin = list(zip(cols["row"], cols["col"], strict=True))
    starts = [0]
    for i in range(1, n):
        if keys[i] != keys[i - 1] or origin[i] == origin[starts[-1]]:
            starts.append(i)
    bounds = list(zip(starts, [*starts[1:], n], strict=True)) if n else []
    arrays = {name: _floats(cols[name], path, name) for name in
              ("row", "col", "dx", "dy", "u", "v", "speed", "lon", "lat", "flag")}
    if np.isnan(arrays["flag"]).any():
        raise DataError(f"{path}: empty flag cell")
    pairs = []
    for s, e in bounds:
        pairs.append(VectorPair(
            time_a=_parse_time(keys[s][0]), time_b=_parse_time(keys[s][1]),
            flag=arrays["flag"][s:e].astype(np.int64),
            **{k: v[s:e] for k, v in arrays.items() if k != "flag"},
        ))
    return pairs


def _read_geotiff(path: str, frame_transform: tuple[float, ...] | None) -> list[VectorPair]:
    import rasterio
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                names = list(ds.descriptions)
                missing = [b for b in ("dx", "dy", "flag") if b not in names]
                if missing:
                    raise DataError(f"{path}: not a cloudmotion vector grid (no band {', '.join(missing)}; "
                                    f"expected bands {', '.join(GEOTIFF_BANDS)})")
                bands = {name: ds.read(names.index(name) + 1).astype(np.float64)
                         for name in ("dx", "dy", "u", "v", "speed", "flag") if name in names}
                grid = ds.transform
                tags = ds.tags()
                ny, nx = ds.height, ds.width
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({exc})") from exc
    base = Affine(*frame_transform[:6]) if frame_transform is not None else Affine.identity()
    jj, ii = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    x, y = grid * (jj.ravel(), ii.ravel())
    cc, rr = ~base * (np.asarray(x), np.asarray(y))
    row = np.round(np.asarray(rr) - 0.5, 6)
    col = np.round(np.asarray(cc) - 0.5, 6)
    flag = bands["flag"].ravel()
    flag = np.where(np.isfinite(flag), flag, 1).astype(np.int64)
    nan = np.full(row.shape, np.nan)
    lon, lat = nan.copy(), nan.copy()
    return [VectorPair(
        time_a=_parse_time(tags.get("TIME_A", "")), time_b=_parse_time(tags.get("TIME_B", "")),
        row=row, col=col, dx=bands["dx"].ravel(), dy=bands["dy"].ravel(),
        u=bands.get("u", nan).ravel(), v=bands.get("v", nan).ravel(), speed=bands.get("speed", nan).ravel(),
        lon=lon, lat=lat, flag=flag,
    )]


def read_vectors(path: str, *, frame_transform: tuple[float, ...] | None = None) -> list[VectorPair]:
    """Read a vector CSV (one or more pairs) or a vector-grid GeoTIFF (one pair).

    Parameters
    ----------
    path : str
        ``.csv`` written by ``cloudmotion track``, or a ``.tif``/``.tiff`` vector grid.
    frame_transform : tuple of 6 floats, optional
        Pixel-corner affine transform of the *frames* the vectors were tracked on. A
        GeoTIFF grid stores its cells in CRS coordinates; this transform maps them back to
        frame pixel indices (``row``, ``col``). ``None`` means the frames had no
        georeference (identity). Ignored for CSV, which stores ``row``/``col`` directly.

    Returns
    -------
    list of VectorPair
        In file order. A CSV is split into pairs where ``time_a``/``time_b`` change or
        the row-major grid starts over.

    Raises
    ------
    DataError
        Missing, unreadable or not a cloudmotion vector file.
    """
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    low = path.lower()
    if low.endswith(".csv"):
        pairs = _read_csv(path)
    elif low.endswith((".tif", ".tiff")):
        pairs = _read_geotiff(path, frame_transform)
    else:
        raise DataError(f"{path}: unknown vector format; expected .csv, .tif or .tiff")
    if not pairs or all(p.row.size == 0 for p in pairs):
        raise DataError(f"{path}: no vectors")
    return pairs
