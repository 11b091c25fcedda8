"""Geolocation and physical winds: pixel -> CRS -> lon/lat, geodesic speed, direction.

Never a constant km-per-pixel: on the GOES fixed grid the pixel size changes by a factor
of about 3 across CONUS. Both ends of every vector are geolocated with pyproj from the
CRS WKT (the proj4 string of a GOES CRS drops ``+sweep=x``) and the speed is the geodesic
distance between them on the CRS's own ellipsoid divided by the time step.

Conventions: ``u`` eastward and ``v`` northward in m/s; ``direction`` is meteorological,
the direction the wind blows *from*, in degrees clockwise from north (a wind towards the
east has direction 270).
"""

from __future__ import annotations

import numpy as np
from pyproj import CRS, Geod, Transformer

from cloudmotion.model import GeoVectors

__all__ = ["GeoVectors", "geolocate", "ground_scale", "lonlat_to_pixel", "pixel_to_crs", "smallest_pixel"]


def pixel_to_crs(rows: np.ndarray, cols: np.ndarray, transform: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Map pixel index coordinates (integer = pixel centre) to CRS coordinates.

    Parameters
    ----------
    rows, cols : ndarray
        Pixel index coordinates along rows and columns.
    transform : tuple of 6 floats
        Affine coefficients ``(a, b, c, d, e, f)`` as in rasterio/affine, mapping the
        pixel *corner* grid: ``x = a * col + b * row + c``, ``y = d * col + e * row + f``.

    Returns
    -------
    x, y : ndarray of float64
    """
    a, b, c, d, e, f = (float(v) for v in transform[:6])
    cc = np.asarray(cols, dtype=np.float64) + 0.5
    rr = np.asarray(rows, dtype=np.float64) + 0.5
    return a * cc + b * rr + c, d * cc + e * rr + f


def _lonlat(x: np.ndarray, y: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    tr = Transformer.from_crs(crs, CRS.from_epsg(4326), always_xy=True)
    lon, lat = tr.transform(x, y, errcheck=False)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    bad = ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90)
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat


def geolocate(
    rows: np.ndarray,
    cols: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    *,
    transform: tuple[float, ...] | None,
    crs_wkt: str | None,
    dt: float | None,
    pixel_size: float | None = None,
) -> GeoVectors:
    """Geolocate vector origins and convert pixel displacements to winds.

    Parameters
    ----------
    rows, cols : ndarray
        Vector origins, pixel index coordinates (integer = pixel centre).
    dx, dy : ndarray
        Displacements in pixels along columns and rows (+ = increasing index).
    transform : tuple of 6 floats or None
        Affine pixel-corner transform (see :func:`pixel_to_crs`).
    crs_wkt : str or None
        The frame's CRS as WKT. ``None`` gives NaN lon/lat.
    dt : float or None
        Time from frame A to frame B in seconds; ``None`` gives NaN winds.
    pixel_size : float, optional
        For frames without a CRS: pixel size in metres, north up, used for ``u``/``v``.

    Returns
    -------
    GeoVectors

    References
    ----------
    Karney, C. F. F. (2013). Algorithms for geodesics. J. Geodesy 87, 43-55 (pyproj.Geod).
    """
    rows = np.asarray(rows, dtype=np.float64)
    shape = rows.shape
    nan = np.full(shape, np.nan)
    if transform is not None:
        x, y = pixel_to_crs(rows, cols, transform)
    else:
        x, y = nan.copy(), nan.copy()
    lon, lat = nan.copy(), nan.copy()
    u, v, speed, direction = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    if dt is not None and not dt > 0:
        raise ValueError(f"time step must be > 0 s, got {dt}")
    if crs_wkt and transform is not None:
        crs = CRS.from_wkt(crs_wkt)
        lon, lat = _lonlat(x, y, crs)
        if dt is not None:
            x2, y2 = pixel_to_crs(rows + dy, np.asarray(cols) + dx, transform)
            lon2, lat2 = _lonlat(x2, y2, crs)
            geod = crs.get_geod() or Geod(ellps="WGS84")
            ok = np.isfinite(lon) & np.isfinite(lon2)
            az, _, dist = geod.inv(
                np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), np.where(ok, lon2, 0.0), np.where(ok, lat2, 0.0)
            )
            az = np.radians(np.asarray(az, dtype=np.float64))
            speed = np.where(ok, np.asarray(dist, dtype=np.float64) / dt, np.nan)
            u = speed * np.sin(az)
            v = speed * np.cos(az)
    elif pixel_size is not None and dt is not None:
        u = np.asarray(dx, dtype=np.float64) * pixel_size / dt
        v = -np.asarray(dy, dtype=np.float64) * pixel_size / dt
        speed = np.hypot(u, v)
    if dt is not None:
        direction = np.where(speed > 0, np.degrees(np.arctan2(-u, -v)) % 360.0, np.nan)
    return GeoVectors(x=x, y=y, lon=lon, lat=lat, u=u, v=v, speed=speed, direction=direction)


def pixel_size(
    rows: np.ndarray, cols: np.ndarray, *, transform: tuple[float, ...], crs_wkt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Ground size of a pixel, along columns and along rows, at pixel index positions.

    The geodesic length (on the CRS's ellipsoid) between the two points half a pixel
    either side of the position, along each image axis.

    Parameters
    ----------
    rows, cols : ndarray
        Pixel index coordinates (integer = pixel centre).
    transform : tuple of 6 floats
        Affine pixel-corner transform.
    crs_wkt : str
        The frame's CRS as WKT.

    Returns
    -------
    along_cols, along_rows : ndarray of float64
        Metres per pixel; NaN off the Earth's disk.
    """
    crs = CRS.from_wkt(crs_wkt)
    geod = crs.get_geod() or Geod(ellps="WGS84")
    rows = np.asarray(rows, dtype=np.float64)
    cols = np.asarray(cols, dtype=np.float64)
    out = []
    for dr, dc in ((0.0, 0.5), (0.5, 0.0)):
        lon1, lat1 = _lonlat(*pixel_to_crs(rows - dr, cols - dc, transform), crs)
        lon2, lat2 = _lonlat(*pixel_to_crs(rows + dr, cols + dc, transform), crs)
        ok = np.isfinite(lon1) & np.isfinite(lon2)
        _, _, dist = geod.inv(
            np.where(ok, lon1, 0), np.where(ok, lat1, 0), np.where(ok, lon2, 0), np.where(ok, lat2, 0)
        )
        out.append(np.where(ok, np.asarray(dist, dtype=np.float64), np.nan))
    return out[0], out[1]


pixel_size_of = pixel_size  # ground_scale's keyword ``pixel_size`` shadows the function's name


def ground_scale(
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    transform: tuple[float, ...] | None,
    crs_wkt: str | None,
    pixel_size: float | None = None,
) -> np.ndarray | None:
    """Ground size of a pixel at pixel index positions, m: the geometric mean of its sizes along
    columns and rows (:func:`pixel_size`) with a CRS, else ``pixel_size`` (frames without a CRS,
    ``--pixel-size``), else None (unknown).

    Returns
    -------
    ndarray of float64 or None
        Metres per pixel, the shape of ``rows``; NaN off the Earth's disk.
    """
    if crs_wkt and transform is not None:
        along_c, along_r = pixel_size_of(rows, cols, transform=transform, crs_wkt=crs_wkt)
        return np.sqrt(along_c * along_r)
    if pixel_size is not None:
        return np.full(np.shape(rows), float(pixel_size))
    return None


def speed_error(
    ee: np.ndarray,
    row: np.ndarray,
    col: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    speed: np.ndarray,
    *,
    transform: tuple[float, ...] | None,
    crs_wkt: str | None,
    dt: float | None,
) -> np.ndarray:
    """Expected error of the speed, m/s: ``ee`` (px) times the ground scale over Δt.

    The ground scale is the geometric mean of the pixel's sizes along columns and rows
    (:func:`pixel_size`) with a CRS, else the measured speed per pixel of displacement
    (frames with ``--pixel-size``). NaN without a time step.

    Parameters
    ----------
    ee : ndarray
        Expected error, px.
    row, col, dx, dy, speed : ndarray
        Vector origins (pixel index), displacements (px) and speeds (m/s), same shape.
    transform, crs_wkt : optional
        The frame's georeference.
    dt : float or None
        Seconds from frame A to frame B.
    """
    ee = np.asarray(ee, dtype=np.float64)
    if not dt or dt <= 0:
        return np.full(ee.shape, np.nan)
    if crs_wkt and transform is not None:
        along_c, along_r = pixel_size(row, col, transform=transform, crs_wkt=crs_wkt)
        return ee * np.sqrt(along_c * along_r) / dt
    with np.errstate(invalid="ignore", divide="ignore"):
        per_px = np.asarray(speed, dtype=np.float64) / np.hypot(dx, dy)
    return np.where(np.isfinite(per_px), ee * per_px, np.nan)


def lonlat_to_pixel(
    lon: np.ndarray, lat: np.ndarray, *, transform: tuple[float, ...], crs_wkt: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel index coordinates (integer = pixel centre) of points given in degrees.

    The inverse of :func:`pixel_to_crs` after projecting WGS 84 longitude and latitude into
    the frame's CRS with pyproj.

    Parameters
    ----------
    lon, lat : ndarray
        Degrees east and north.
    transform : tuple of 6 floats
        Affine pixel-corner transform.
    crs_wkt : str
        The frame's CRS as WKT.

    Returns
    -------
    rows, cols : ndarray of float64
        NaN where the point does not project (off a geostationary disk, say).
    """
    tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)
    x, y = tr.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64), errcheck=False)
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    a, b, c, d, e, f = (float(v) for v in transform[:6])
    det = a * e - b * d
    with np.errstate(invalid="ignore", over="ignore"):  # points off the disk project to inf
        col = (e * (x - c) - b * (y - f)) / det - 0.5
        row = (-d * (x - c) + a * (y - f)) / det - 0.5
    bad = ~(np.isfinite(row) & np.isfinite(col))
    return np.where(bad, np.nan, row), np.where(bad, np.nan, col)


def smallest_pixel(
    shape: tuple[int, int], *, transform: tuple[float, ...], crs_wkt: str, samples: int = 17
) -> float | None:
    """The smallest ground size of a pixel over a frame, m.

    The geodesic sizes (:func:`pixel_size`) on a ``samples`` x ``samples`` lattice of
    positions over the frame, and for a projected CRS in metres the nominal pixel size too
    (on the GOES fixed grid that is the sub-satellite resolution, where ground pixels are
    smallest).

    Parameters
    ----------
    shape : (int, int)
        Rows and columns.
    transform : tuple of 6 floats
        Affine pixel-corner transform.
    crs_wkt : str
        The frame's CRS as WKT.
    samples : int
        Lattice positions along each axis.

    Returns
    -------
    float or None
        Metres; None when no position is on the Earth.
    """
    rows, cols = shape
    r, c = np.meshgrid(np.linspace(0, rows - 1, samples), np.linspace(0, cols - 1, samples), indexing="ij")
    along_c, along_r = pixel_size(r.ravel(), c.ravel(), transform=transform, crs_wkt=crs_wkt)
    sizes = [float(np.nanmin(x)) for x in (along_c, along_r) if np.isfinite(x).any()]
    crs = CRS.from_wkt(crs_wkt)
    if crs.is_projected and crs.axis_info and crs.axis_info[0].unit_name in ("metre", "meter"):
        a, b, _, d, e, _ = (float(v) for v in transform[:6])
        sizes.append(min(np.hypot(a, d), np.hypot(b, e)))
    positive = [x for x in sizes if x > 0]
    return min(positive) if positive else None
