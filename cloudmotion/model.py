"""The vector model every edge shares: what the core measures, and the table writers write.

- :class:`MotionField` is the numeric core's result on the template grid (pixels only).
- :class:`GeoVectors` is what geolocation adds (CRS and lon/lat positions, m/s winds).
- :class:`Vectors` is one tracked pair as a table of the output columns (:data:`COLUMNS`),
  with its times and georeference. Every writer takes it, :func:`read_vectors` returns it,
  and ``plot``, ``score`` and the benchmarks use it.

Conventions (docs/design.md): ``row``/``col`` are 0-based pixel indices of the template centre
in frame A (an integer is a pixel centre); ``dx`` is along columns, ``dy`` along rows,
pixels from frame A to frame B; ``u`` eastward, ``v`` northward, m/s; ``direction`` is
where the wind blows from, degrees clockwise from north. NaN means unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from cloudmotion.grid import Grid

if TYPE_CHECKING:
    from cloudmotion.settings.params import TrackParams

__all__ = ["COLUMNS", "CSV_COLUMNS", "Column", "GeoVectors", "MotionField", "Vectors"]


@dataclass(frozen=True)
class Column:
    """One output quantity: CSV column, GeoJSON property, and band or variable of the grids.

    Attributes
    ----------
    name : str
        Column name (the CSV header and the band description).
    fmt : str
        printf format of a CSV cell (``%.4f``); ``%d`` for integers.
    description : str
        Meaning and unit, for band descriptions and variable attributes.
    grid : bool
        Whether the gridded formats (GeoTIFF, netCDF) carry it as a band.
    """

    name: str
    fmt: str
    description: str
    grid: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("time_a", "", "frame A time, ISO 8601 UTC"),
    Column("time_b", "", "frame B time, ISO 8601 UTC"),
    Column("row", "%.1f", "vector origin, row index in frame A (integer = pixel centre)"),
    Column("col", "%.1f", "vector origin, column index in frame A"),
    Column("x", "%.2f", "origin x in CRS units"),
    Column("y", "%.2f", "origin y in CRS units"),
    Column("lon", "%.6f", "origin longitude, degrees east"),
    Column("lat", "%.6f", "origin latitude, degrees north"),
    Column("dx", "%.4f", "displacement along columns, px (+ = increasing column)", grid=True),
    Column("dy", "%.4f", "displacement along rows, px (+ = increasing row)", grid=True),
    Column("u", "%.3f", "eastward wind, m/s", grid=True),
    Column("v", "%.3f", "northward wind, m/s", grid=True),
    Column("speed", "%.3f", "wind speed, m/s", grid=True),
    Column("direction", "%.2f", "meteorological wind direction (from), degrees clockwise from north", grid=True),
    Column("corr", "%.4f", "peak normalised correlation coefficient", grid=True),
    Column("peak_ratio", "%.3f", "first over second correlation peak"),
    Column("quality", "%.1f", "quality index, 0-100", grid=True),
    Column("flag", "%d", "flag bitmask, 0 = good (bits: docs/design.md of the manual)", grid=True),
    Column("ee", "%.4f", "expected error of the displacement, px", grid=True),
    Column("ee_speed", "%.3f", "expected error of the speed, m/s", grid=True),
    Column("cloud_fraction", "%.3f", "cloudy share of the template (mean cloud probability), 0-1", grid=True),
    Column("ctt", "%.2f", "cloud-top temperature, K"),
    Column("pressure", "%.1f", "cloud-top pressure, hPa"),
    Column("height", "%.1f", "cloud-top height, m"),
    Column("height_flag", "%d", "height assignment flag"),
    Column("lon_corrected", "%.6f", "parallax-corrected origin longitude, degrees east"),
    Column("lat_corrected", "%.6f", "parallax-corrected origin latitude, degrees north"),
)
"""The output columns in the contract's order (docs/design.md); a new column goes at the end."""

CSV_COLUMNS = tuple(c.name for c in COLUMNS)
"""CSV header, in order."""

NUMERIC = tuple(c.name for c in COLUMNS if c.fmt)
"""Columns held as arrays in :class:`Vectors` (all but the times)."""


@dataclass
class MotionField:
    """Motion vectors on a regular grid, from frame A to frame B (the core's result).

    All arrays have the grid's shape (nrows, ncols), axis 0 along image rows.

    Attributes
    ----------
    grid : Grid
        Template geometry.
    row, col : ndarray of float64
        Vector origin (template centre in frame A), pixel index coordinates.
    dx, dy : ndarray of float64
        Displacement in pixels along columns (+ = increasing col) and rows
        (+ = increasing row). NaN where no displacement could be measured.
    corr : ndarray of float64
        Peak normalised correlation coefficient, in [-1, 1].
    peak_ratio : ndarray of float64
        First over second correlation peak (>= 1; inf when there is no second peak).
    quality : ndarray of float64
        Quality index from 0 to 100 (:func:`cloudmotion.qc.checks.quality_score`).
    flag : ndarray of int32
        Bitmask of :class:`cloudmotion.qc.checks.Flag`; 0 = good.
    valid_fraction, texture, median_residual : ndarray of float64
        Valid fraction of the template, template standard deviation relative to the
        frame's, and normalised median residual.
    fb_error : ndarray of float64
        Forward-backward miss in px (NaN unless ``fb_check``).
    temporal : ndarray of float64
        Temporal consistency in [0, 1] against the neighbouring pair of a sequence of
        three or more frames (NaN otherwise).
    peak_at_border : ndarray of bool or None
        The correlation peak lies on the edge of the search region.
    refine_failed : ndarray of bool or None
        Lucas-Kanade refinement failed (None when it did not run).
    predicted_error : ndarray of float64 or None
        Lucas-Kanade predicted standard error along the worst direction, px.
    temporal_diff : ndarray of float64 or None
        Difference from the neighbouring pair's vector along the trajectory, px per
        frame step (None without a neighbouring pair).
    speed : ndarray of float64 or None
        Geodesic speed in m/s, once geolocated with a time step.
    filled : ndarray of bool or None
        Interpolated by :func:`cloudmotion.qc.fill.fill_flagged`, not measured.
    ee : ndarray of float64 or None
        Expected error in px, the RMS of ``|d - d_true|`` over vectors of the same ``ee``
        (:func:`cloudmotion.motion.expected_error.expected_error`); NaN where not measured.
    static : ndarray of bool or None
        The template's texture comes from a static plateau and its edge
        (:func:`cloudmotion.motion.plateau.static_templates`).
    off_earth : ndarray of bool or None
        The origin has no longitude and latitude although the frame has a CRS: beyond
        the Earth's edge on a geostationary disk, or past a pole.
    cloud_fraction : ndarray of float64 or None
        Mean cloud probability over the template in frame A, 0-1 (None when no
        cloud model or mask was given).
    corr0 : ndarray of float64 or None
        Correlation coefficient at lag 0 (from the peak search), for
        the surface-locked test; None unless ``targets == "clouds"``.
    unchanged : ndarray of bool or None
        At least 90 % of the template's informative pixels hold bit-identical stored values
        in both frames (:mod:`cloudmotion.motion.unchanged`): no motion was measured.
    at_search_limit : ndarray of bool or None
        The correlation peak lies on the edge of the search range (``|lag| == search``):
        the motion may be larger than the search.

    ee_limit : ndarray of float64 or None
        The ``max_error`` threshold of each vector in px (a speed converted with the
        vector's pixel size and the pair's time step; 0 = no test); None: ``params``'
        value in px.
    """

    grid: Grid
    row: np.ndarray
    col: np.ndarray
    dx: np.ndarray
    dy: np.ndarray
    corr: np.ndarray
    peak_ratio: np.ndarray
    quality: np.ndarray
    flag: np.ndarray
    valid_fraction: np.ndarray
    texture: np.ndarray
    median_residual: np.ndarray
    fb_error: np.ndarray | None = None
    temporal: np.ndarray | None = None
    params: TrackParams | None = None
    peak_at_border: np.ndarray | None = None
    refine_failed: np.ndarray | None = None
    predicted_error: np.ndarray | None = None
    temporal_diff: np.ndarray | None = None
    speed: np.ndarray | None = None
    filled: np.ndarray | None = None
    ee: np.ndarray | None = None
    static: np.ndarray | None = None
    off_earth: np.ndarray | None = None
    cloud_fraction: np.ndarray | None = None  # --targets clouds
    corr0: np.ndarray | None = None
    unchanged: np.ndarray | None = None
    at_search_limit: np.ndarray | None = None

    ee_limit: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("fb_error", "temporal"):
            if getattr(self, name) is None:
                setattr(self, name, np.full(self.dx.shape, np.nan))

    @property
    def good(self) -> np.ndarray:
        """Boolean grid, True where ``flag == 0``."""
        return self.flag == 0


@dataclass(frozen=True)
class GeoVectors:
    """Geolocated vectors; every array has the shape of the input origins.

    Attributes
    ----------
    x, y : ndarray
        Origin in CRS units (NaN without a transform).
    lon, lat : ndarray
        Origin in degrees (NaN without a CRS or off the Earth's disk).
    u, v, speed : ndarray
        Eastward, northward and total speed in m/s (NaN without a time step).
    direction : ndarray
        Meteorological direction in degrees [0, 360) (NaN where the speed is 0 or unknown).
    """

    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    speed: np.ndarray
    direction: np.ndarray


@dataclass(frozen=True)
class Vectors:
    """One tracked pair as a table of :data:`COLUMNS`, row-major over the vector grid.

    Attributes
    ----------
    values : dict of str to ndarray, each shape (n,)
        Every numeric column (float64, NaN = unknown; ``flag`` int64).
    time_a, time_b : datetime or None
        Frame times, UTC.
    transform : tuple of 6 floats or None
        Pixel-corner affine transform of the frames (not of the vector grid).
    crs_wkt : str or None
        The frames' CRS.
    shape : (int, int) or None
        Vector grid shape (nrows, ncols) when the vectors lie on a full grid.
    window, step : int or None
        Template size and grid spacing in frame pixels, when known.
    """

    values: dict[str, np.ndarray]
    time_a: datetime | None = None
    time_b: datetime | None = None
    transform: tuple[float, ...] | None = None
    crs_wkt: str | None = None
    shape: tuple[int, int] | None = None
    window: int | None = None
    step: int | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = int(np.size(self.values["row"]))
        for name in NUMERIC:
            v = self.values.get(name)
            if v is None:
                v = np.zeros(n, dtype=np.int64) if name == "flag" else np.full(n, np.nan)
            v = np.asarray(v).ravel()
            self.values[name] = v.astype(np.int64) if name == "flag" else v.astype(np.float64)
            if self.values[name].size != n:
                raise ValueError(f"column {name} has {self.values[name].size} values, row has {n}")

    def __getattr__(self, name: str) -> np.ndarray:
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    @property
    def n(self) -> int:
        """Number of vectors."""
        return int(self.values["row"].size)

    @property
    def good(self) -> np.ndarray:
        """Boolean (n,), True where ``flag == 0``."""
        return self.values["flag"] == 0

    @property
    def dt(self) -> float | None:
        """Seconds from frame A to frame B, or None when a time is unknown."""
        if self.time_a is None or self.time_b is None:
            return None
        return (self.time_b - self.time_a).total_seconds()

    def gridded(self, name: str) -> np.ndarray:
        """Column ``name`` on the vector grid, shape :attr:`shape` (ValueError without one)."""
        if self.shape is None:
            raise ValueError("these vectors are not on a full grid")
        return self.values[name].reshape(self.shape)

    @classmethod
    def from_tracking(
        cls,
        field: MotionField,
        geo: GeoVectors,
        *,
        time_a: datetime | None = None,
        time_b: datetime | None = None,
        transform: tuple[float, ...] | None = None,
        crs_wkt: str | None = None,
        **extra: np.ndarray,
    ) -> Vectors:
        """The table of a tracked, geolocated pair; ``extra`` fills later columns (``ee=...``)."""
        f, g = field, geo
        values = {
            "row": f.row,
            "col": f.col,
            "x": g.x,
            "y": g.y,
            "lon": g.lon,
            "lat": g.lat,
            "dx": f.dx,
            "dy": f.dy,
            "u": g.u,
            "v": g.v,
            "speed": g.speed,
            "direction": g.direction,
            "corr": f.corr,
            "peak_ratio": np.where(np.isinf(f.peak_ratio), np.nan, f.peak_ratio),
            "quality": f.quality,
            "flag": f.flag,
            **extra,
        }
        return cls(
            values=values,
            time_a=time_a,
            time_b=time_b,
            transform=transform,
            crs_wkt=crs_wkt,
            shape=(int(f.grid.shape[0]), int(f.grid.shape[1])),
            window=f.grid.window,
            step=f.grid.step,
        )
