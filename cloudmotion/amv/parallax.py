"""Parallax correction: from where a cloud appears on the Earth to the point under it.

A geostationary imager sees a cloud at height ``h`` along the line of sight to the point
where that line meets the ellipsoid, further from the sub-satellite point than the cloud.
The point under the cloud is where the line of sight crosses the surface at height ``h``
above the ellipsoid: the line from the satellite (Earth-centred, Earth-fixed coordinates,
from the geostationary CRS) through the apparent point, intersected with the ellipsoid
inflated by ``h`` (one Newton step corrects the small difference between that and a
geodetic height of ``h``), then taken back to geodetic longitude and latitude.

References
----------
Vicente, G. A., Davenport, J. C. and Scofield, R. A. (2002). The role of orographic and
parallax corrections on real time high resolution satellite rainfall rate distribution.
Int. J. Remote Sens. 23, 221-230.
Bowring, B. R. (1976). Transformation from spatial to geographical coordinates. Survey
Review 23, 323-327.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Satellite", "correct_parallax", "satellite_from_crs"]


@dataclass(frozen=True)
class Satellite:
    """A geostationary satellite and its ellipsoid.

    Attributes
    ----------
    lon : float
        Sub-satellite longitude, degrees east.
    height : float
        Height above the ellipsoid (the CRS's perspective point height), m.
    a, b : float
        Semi-major and semi-minor axes of the ellipsoid, m.
    """

    lon: float
    height: float
    a: float = 6378137.0
    b: float = 6356752.31414


def satellite_from_crs(crs_wkt: str | None) -> Satellite | None:
    """The satellite of a geostationary CRS (``+proj=geos``), or None for any other CRS."""
    if not crs_wkt:
        return None
    from pyproj import CRS

    cf = CRS.from_wkt(crs_wkt).to_cf()
    if cf.get("grid_mapping_name") != "geostationary":
        return None
    return Satellite(
        lon=float(cf.get("longitude_of_projection_origin", 0.0)),
        height=float(cf["perspective_point_height"]),
        a=float(cf["semi_major_axis"]),
        b=float(cf.get("semi_minor_axis") or cf["semi_major_axis"]),
    )


def _to_ecef(lon, lat, h, a, b):
    e2 = 1.0 - (b / a) ** 2
    phi, lam = np.radians(lat), np.radians(lon)
    n = a / np.sqrt(1.0 - e2 * np.sin(phi) ** 2)
    return (
        (n + h) * np.cos(phi) * np.cos(lam),
        (n + h) * np.cos(phi) * np.sin(lam),
        (n * (1.0 - e2) + h) * np.sin(phi),
    )


def _to_geodetic(x, y, z, a, b):
    """Geodetic lon, lat (degrees) and height (m) from ECEF, Bowring's method with two iterations."""
    e2 = 1.0 - (b / a) ** 2
    ep2 = (a / b) ** 2 - 1.0
    p = np.hypot(x, y)
    beta = np.arctan2(a * z, b * p)
    for _ in range(2):
        phi = np.arctan2(z + ep2 * b * np.sin(beta) ** 3, p - e2 * a * np.cos(beta) ** 3)
        beta = np.arctan2(b * np.tan(phi), a)
    n = a / np.sqrt(1.0 - e2 * np.sin(phi) ** 2)
    h = p / np.cos(phi) - n
    return np.degrees(np.arctan2(y, x)), np.degrees(phi), h


def _hit(sx, sy, ux, uy, uz, big, small):
    """Nearest parameter t >= 0 where s + t u meets the ellipsoid of axes (big, big, small); NaN if none."""
    qa = (ux**2 + uy**2) / big**2 + uz**2 / small**2
    qb = 2.0 * (sx * ux + sy * uy) / big**2
    qc = (sx**2 + sy**2) / big**2 - 1.0
    disc = qb**2 - 4.0 * qa * qc
    with np.errstate(invalid="ignore"):
        return np.where(disc >= 0, (-qb - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * qa), np.nan)


def correct_parallax(
    lon: np.ndarray,
    lat: np.ndarray,
    height: np.ndarray,
    sat: Satellite,
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude under a cloud seen at (``lon``, ``lat``) at ``height``.

    Parameters
    ----------
    lon, lat : ndarray
        Apparent position on the ellipsoid, degrees (same shape).
    height : ndarray
        Cloud height above the ellipsoid, m (mean sea level is used as is; the geoid's
        +-100 m are negligible here). NaN gives NaN.
    sat : Satellite
        The viewing satellite (:func:`satellite_from_crs`).

    Returns
    -------
    lon, lat : ndarray of float64
        Corrected position, degrees; NaN where the height or position is unknown, or the
        line of sight does not reach that height.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    a, b = sat.a, sat.b
    r = a + sat.height
    sx, sy = r * np.cos(np.radians(sat.lon)), r * np.sin(np.radians(sat.lon))
    gx, gy, gz = _to_ecef(lon, lat, 0.0, a, b)
    ux, uy, uz = gx - sx, gy - sy, gz
    norm = np.sqrt(ux**2 + uy**2 + uz**2)
    ux, uy, uz = ux / norm, uy / norm, uz / norm
    target = h
    for _ in range(2):  # the second pass corrects the inflated ellipsoid to a geodetic height of h
        t = _hit(sx, sy, ux, uy, uz, a + target, b + target)
        clon, clat, ch = _to_geodetic(sx + t * ux, sy + t * uy, t * uz, a, b)
        target = target + (h - ch)
    return np.where(np.isfinite(h), clon, np.nan), np.where(np.isfinite(h), clat, np.nan)
