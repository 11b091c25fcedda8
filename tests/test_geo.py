"""Physics: geolocation, geodesic speed and meteorological direction on the GOES grid."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS, Geod, Transformer
from support import GOES16_WKT, PIXEL

from cloudmotion.geo import geolocate, pixel_to_crs

NADIR = (PIXEL, 0.0, -100 * PIXEL, 0.0, -PIXEL, 100 * PIXEL)  # 200x200 px around the sub-satellite point


def hand_speed(row, col, dx, dy, transform, dt):
    t = Affine(*transform)
    x1, y1 = t @ (col + 0.5, row + 0.5)
    x2, y2 = t @ (col + dx + 0.5, row + dy + 0.5)
    tr = Transformer.from_crs(CRS.from_wkt(GOES16_WKT), "EPSG:4326", always_xy=True)
    lon1, lat1 = tr.transform(x1, y1)
    lon2, lat2 = tr.transform(x2, y2)
    _, _, dist = Geod(ellps="GRS80").inv(lon1, lat1, lon2, lat2)
    return dist / dt


def test_eastward_near_nadir_is_from_270_and_speed_matches_pyproj():
    row, col = np.array([99.5]), np.array([99.5])
    g = geolocate(row, col, np.array([3.0]), np.array([0.0]), transform=NADIR, crs_wkt=GOES16_WKT, dt=600.0)
    assert abs(g.lon[0] - -75.0) < 0.05 and abs(g.lat[0]) < 0.05
    assert g.direction[0] == pytest.approx(270.0, abs=1.0)
    assert g.u[0] > 0 and abs(g.v[0]) < 0.01 * g.speed[0]
    want = hand_speed(99.5, 99.5, 3.0, 0.0, NADIR, 600.0)
    assert g.speed[0] == pytest.approx(want, rel=0.01)
    assert g.speed[0] == pytest.approx(3 * 2004.0 * 0.9 / 600.0, rel=0.15)  # ~2 km pixels at nadir


def test_northward_motion_is_from_south():
    g = geolocate(
        np.array([99.5]),
        np.array([99.5]),
        np.array([0.0]),
        np.array([-2.0]),
        transform=NADIR,
        crs_wkt=GOES16_WKT,
        dt=300.0,
    )
    assert g.direction[0] == pytest.approx(180.0, abs=1.0)
    assert g.v[0] > 0


def test_pixel_size_grows_away_from_nadir():
    # the same 1 px eastward step is longer on the ground at 45 N than at nadir
    t = (PIXEL, 0.0, 0.0, 0.0, -PIXEL, 0.0)
    x, y = Transformer.from_crs("EPSG:4326", CRS.from_wkt(GOES16_WKT), always_xy=True).transform(-75.0, 45.0)
    col, row = x / PIXEL - 0.5, -y / PIXEL - 0.5
    far = geolocate(
        np.array([row]), np.array([col]), np.array([1.0]), np.array([0.0]), transform=t, crs_wkt=GOES16_WKT, dt=1.0
    )
    near = geolocate(
        np.array([-0.5]), np.array([-0.5]), np.array([1.0]), np.array([0.0]), transform=t, crs_wkt=GOES16_WKT, dt=1.0
    )
    assert far.lat[0] == pytest.approx(45.0, abs=0.01)
    assert far.speed[0] == pytest.approx(hand_speed(row, col, 1.0, 0.0, t, 1.0), rel=0.005)
    assert far.speed[0] > 1.02 * near.speed[0]


def test_no_time_gives_empty_winds_and_no_crs_gives_empty_lonlat():
    g = geolocate(
        np.array([5.0]), np.array([5.0]), np.array([1.0]), np.array([1.0]), transform=NADIR, crs_wkt=GOES16_WKT, dt=None
    )
    assert np.isfinite(g.lon[0]) and np.isnan(g.speed[0]) and np.isnan(g.direction[0])
    g = geolocate(
        np.array([5.0]),
        np.array([5.0]),
        np.array([1.0]),
        np.array([0.0]),
        transform=None,
        crs_wkt=None,
        dt=60.0,
        pixel_size=1000.0,
    )
    assert np.isnan(g.lon[0])
    assert g.speed[0] == pytest.approx(1000.0 / 60.0)
    assert g.direction[0] == pytest.approx(270.0)


def test_pixel_centre_convention():
    x, y = pixel_to_crs(np.array([0.0]), np.array([0.0]), (10.0, 0, 100.0, 0, -10.0, 500.0))
    assert (x[0], y[0]) == (105.0, 495.0)


POINTS = {"nadir": (-75.0, 0.0), "35N 100W": (-100.0, 35.0), "45N 75W": (-75.0, 45.0), "40N 120W": (-120.0, 40.0)}


def grid_at(crs_wkt, lon, lat, size):
    """A transform whose pixel (100, 100) centre sits on (lon, lat), pixels of ``size`` CRS units."""
    x, y = Transformer.from_crs("EPSG:4326", CRS.from_wkt(crs_wkt), always_xy=True).transform(lon, lat)
    return (size, 0.0, x - 100.5 * size, 0.0, -size, y + 100.5 * size)


def ground_step(crs_wkt, transform, lon, lat, azimuth, metres):
    """Pixel displacement of a step of ``metres`` along ``azimuth`` on the ground from (lon, lat)."""
    lon2, lat2, _ = Geod(ellps="GRS80").fwd(lon, lat, azimuth, metres)
    x, y = Transformer.from_crs("EPSG:4326", CRS.from_wkt(crs_wkt), always_xy=True).transform(lon2, lat2)
    col, row = ~Affine(*transform) @ (x, y)
    return col - 0.5 - 100.0, row - 0.5 - 100.0


UTM18 = CRS.from_epsg(32618).to_wkt()
WGS84 = CRS.from_epsg(4326).to_wkt()


@pytest.mark.parametrize("where", list(POINTS))
def test_pixel_size_matches_pyproj(where):
    from cloudmotion.geo import pixel_size

    lon, lat = POINTS[where]
    t = grid_at(GOES16_WKT, lon, lat, PIXEL)
    along_cols, along_rows = pixel_size(np.array([100.0]), np.array([100.0]), transform=t, crs_wkt=GOES16_WKT)
    # independent: the local derivative from a 1/100 px step, with the WGS 84 ellipsoid
    tr = Transformer.from_crs(CRS.from_wkt(GOES16_WKT), "EPSG:4326", always_xy=True)
    geod = Geod(ellps="WGS84")
    for got, (dc, dr) in ((along_cols[0], (0.01, 0)), (along_rows[0], (0, 0.01))):
        p1 = tr.transform(*(Affine(*t) @ (100.5, 100.5)))
        p2 = tr.transform(*(Affine(*t) @ (100.5 + dc, 100.5 + dr)))
        want = geod.inv(*p1, *p2)[2] * 100
        assert got == pytest.approx(want, rel=0.005)
    if where != "nadir":
        assert max(along_cols[0], along_rows[0]) > 1.1 * PIXEL  # never a constant km per pixel


CASES = [(where, crs) for where in POINTS for crs in ("goes", "wgs84")] + [("45N 75W", "utm")]  # UTM 18 is 75W


@pytest.mark.parametrize(("where", "crs_name"), CASES)
def test_known_east_and_north_motion(where, crs_name):
    lon, lat = POINTS[where]
    wkt, size = {"goes": (GOES16_WKT, PIXEL), "utm": (UTM18, 2000.0), "wgs84": (WGS84, 0.02)}[crs_name]
    t = grid_at(wkt, lon, lat, size)
    dt, metres = 600.0, 6000.0
    for azimuth, direction in ((90.0, 270.0), (0.0, 180.0)):
        dx, dy = ground_step(wkt, t, lon, lat, azimuth, metres)
        g = geolocate(
            np.array([100.0]), np.array([100.0]), np.array([dx]), np.array([dy]), transform=t, crs_wkt=wkt, dt=dt
        )
        assert g.lon[0] == pytest.approx(lon, abs=1e-6) and g.lat[0] == pytest.approx(lat, abs=1e-6)
        assert abs((g.direction[0] - direction + 180) % 360 - 180) < 1.0
        assert g.speed[0] == pytest.approx(metres / dt, rel=0.01)
        if azimuth == 90.0:
            assert g.u[0] == pytest.approx(metres / dt, rel=0.01) and abs(g.v[0]) < 0.02 * metres / dt
        else:
            assert g.v[0] == pytest.approx(metres / dt, rel=0.01) and abs(g.u[0]) < 0.02 * metres / dt
