"""From motion vectors to atmospheric motion vectors: cloud-top temperature, pressure, height, parallax.

Pure: arrays in, arrays out. :func:`amv_columns` gives the ``ctt``, ``pressure``, ``height``,
``height_flag``, ``lon_corrected`` and ``lat_corrected`` columns of one tracked pair, from
frame A in brightness temperature (:mod:`cloudmotion.amv.cloudtop`, :mod:`cloudmotion.amv.height`,
:mod:`cloudmotion.amv.parallax`), and with parallax correction the winds from the corrected
end points.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cloudmotion.amv.cloudtop import cold_share_mean
from cloudmotion.amv.height import Profile, assign_height
from cloudmotion.amv.parallax import Satellite, correct_parallax
from cloudmotion.model import GeoVectors, MotionField

__all__ = ["amv_columns", "corrected_winds"]


def corrected_winds(
    lon: np.ndarray, lat: np.ndarray, lon2: np.ndarray, lat2: np.ndarray, dt: float, crs_wkt: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """u, v, speed (m/s) and meteorological direction (degrees) from start and end points.

    The geodesic on the CRS's ellipsoid between (``lon``, ``lat``) and (``lon2``, ``lat2``),
    degrees, over ``dt`` seconds, as :func:`cloudmotion.geo.geolocate` computes them. NaN
    where a point is unknown.
    """
    from pyproj import CRS, Geod

    geod = CRS.from_wkt(crs_wkt).get_geod() or Geod(ellps="WGS84")
    ok = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(lon2) & np.isfinite(lat2)
    z = lambda v: np.where(ok, v, 0.0)
    az, _, dist = geod.inv(z(lon), z(lat), z(lon2), z(lat2))
    az = np.radians(np.asarray(az, dtype=np.float64))
    speed = np.where(ok, np.asarray(dist, dtype=np.float64) / dt, np.nan)
    u, v = speed * np.sin(az), speed * np.cos(az)
    direction = np.where(speed > 0, np.degrees(np.arctan2(-u, -v)) % 360.0, np.nan)
    return u, v, speed, direction


def amv_columns(
    field: MotionField,
    geo: GeoVectors,
    bt: np.ndarray,
    valid: np.ndarray,
    *,
    profile: Profile,
    share: float = 0.25,
    max_ctt: float = 273.0,
    satellite: Satellite | None = None,
    transform: tuple[float, ...] | None = None,
    crs_wkt: str | None = None,
    dt: float | None = None,
) -> tuple[dict[str, np.ndarray], GeoVectors]:
    """The AMV columns of one pair, and its winds (from the corrected end points with a satellite).

    Parameters
    ----------
    field : MotionField
        The tracked pair (grid, origins, displacements), arrays (nrows, ncols).
    geo : GeoVectors
        Its geolocation (apparent positions and winds).
    bt, valid : ndarray, shape (rows, cols)
        Frame A in brightness temperature, K, and its validity mask.
    profile : Profile
        Temperature profile for the height (:mod:`cloudmotion.amv.height`).
    share : float
        Coldest share of a template's valid pixels averaged into ``ctt``.
    max_ctt : float
        Warmer ``ctt`` is clear sky: no pressure or height, K.
    satellite : Satellite, optional
        With one, origins and end points are moved under the cloud (``lon_corrected``,
        ``lat_corrected``) and, with ``dt``, the winds of vectors with a height are taken
        from the corrected end points; vectors without a height keep the apparent ones.
    transform, crs_wkt, dt : optional
        The frames' georeference and the time step, s (for the end points).

    Returns
    -------
    columns : dict of str to ndarray (nrows, ncols)
        ``ctt`` K, ``pressure`` hPa, ``height`` m, ``height_flag``, ``lon_corrected``,
        ``lat_corrected`` degrees.
    geo : GeoVectors
        ``geo`` with corrected winds where there are corrected end points.
    """
    g = field.grid
    top, left = g.top_left()
    ctt = cold_share_mean(bt, valid, top, left, g.window, share).reshape(g.shape)
    pressure, height, flag = assign_height(ctt, profile, max_ctt=max_ctt)
    cols = {"ctt": ctt, "pressure": pressure, "height": height, "height_flag": flag}
    if satellite is None:
        return cols, geo
    lon_c, lat_c = correct_parallax(geo.lon, geo.lat, height, satellite)
    cols.update(lon_corrected=lon_c, lat_corrected=lat_c)
    if dt is None or transform is None or not crs_wkt:
        return cols, geo
    from pyproj import CRS

    from cloudmotion.geo import _lonlat, pixel_to_crs

    lon2, lat2 = _lonlat(*pixel_to_crs(field.row + field.dy, field.col + field.dx, transform), CRS.from_wkt(crs_wkt))
    lon2_c, lat2_c = correct_parallax(lon2, lat2, height, satellite)
    u, v, speed, direction = corrected_winds(lon_c, lat_c, lon2_c, lat2_c, dt, crs_wkt)
    ok = np.isfinite(speed)

    def pick(new: np.ndarray, old: np.ndarray) -> np.ndarray:
        return np.where(ok, new, old)

    geo = dataclasses.replace(
        geo, u=pick(u, geo.u), v=pick(v, geo.v), speed=pick(speed, geo.speed), direction=pick(direction, geo.direction)
    )
    return cols, geo
