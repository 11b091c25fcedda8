"""Cloud-top temperature, pressure and height per vector; parallax correction."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from l1b import goes_name
from pyproj import Geod, Transformer
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from support import GOES16_WKT, one_line_error

from cloudmotion.amv.cloudtop import cold_share_mean
from cloudmotion.amv.height import (
    assign_height,
    profile_from_table,
    tropical,
    us_standard_1976,
)
from cloudmotion.amv.parallax import Satellite, correct_parallax, satellite_from_crs

netCDF4 = pytest.importorskip("netCDF4")


# ---- EBBT cloud-top temperature --------------------------------------------------------------


def test_cold_share_mean_against_a_per_template_sort():
    rng = np.random.default_rng(0)
    data = rng.uniform(200, 300, (60, 70))
    valid = rng.random((60, 70)) > 0.3
    valid[:16, :16] = False  # one template with no valid pixel
    top, left = np.meshgrid(np.arange(0, 44, 8), np.arange(0, 54, 9), indexing="ij")
    top, left = top.ravel(), left.ravel()
    got = cold_share_mean(data, valid, top, left, 16, 0.25, chunk=7)
    for i, (r, c) in enumerate(zip(top, left, strict=True)):  # the definition, one template at a time
        v = np.sort(data[r : r + 16, c : c + 16][valid[r : r + 16, c : c + 16]])
        want = v[: max(1, int(np.ceil(0.25 * v.size)))].mean() if v.size else np.nan
        np.testing.assert_allclose(got[i], want, rtol=1e-6, equal_nan=True)
    assert np.isnan(got[0])


# ---- pressure and height ---------------------------------------------------------------------


def _standard_by_integration(t_k: float) -> tuple[float, float]:
    """Pressure (hPa) and geometric height (m) of temperature ``t_k`` in the 1976 standard troposphere,
    integrating the hydrostatic equation in geometric height with gravity falling off as 1/r^2."""
    r0, g0, r_air = 6356766.0, 9.80665, 8.31432 / 0.0289644
    temp = lambda z: 288.15 - 6.5e-3 * (r0 * z / (r0 + z))
    z_target = brentq(lambda z: temp(z) - t_k, 0.0, 12000.0)
    sol = solve_ivp(
        lambda z, p: -p * g0 * (r0 / (r0 + z)) ** 2 / (r_air * temp(z)),
        (0.0, z_target),
        [1013.25],
        rtol=1e-10,
        atol=1e-8,
    )
    return float(sol.y[0, -1]), z_target


def test_pressure_of_five_temperatures_matches_an_independent_standard_atmosphere():
    temps = np.array([220.0, 236.0, 252.0, 268.0, 285.0])
    p, h, flag = assign_height(temps, us_standard_1976(), max_ctt=290.0)
    want = np.array([_standard_by_integration(t) for t in temps])
    assert np.all(np.abs(p - want[:, 0]) < 1.0), (p, want[:, 0])  # the issue: within 1 hPa
    assert np.all(np.abs(h - want[:, 1]) < 5.0)
    assert np.array_equal(flag, np.zeros(5))
    # the published table (NOAA-S/T 76-1562) at 1, 2, 5, 8 and 10 km geometric height
    table = {281.651: 898.76, 275.154: 795.01, 255.676: 540.48, 236.215: 356.51, 223.252: 265.00}
    p, h, _ = assign_height(np.array(list(table)), us_standard_1976(), max_ctt=290.0)
    np.testing.assert_allclose(p, list(table.values()), atol=0.1)
    np.testing.assert_allclose(h, [1000, 2000, 5000, 8000, 10000], atol=2.0)


def test_tropopause_clipping_clear_sky_and_the_tropical_profile():
    std = us_standard_1976()
    p, h, flag = assign_height(np.array([200.0, 216.65, 280.0, 274.0, np.nan]), std, max_ctt=273.0)
    assert flag[0] == 1 and abs(p[0] - 226.32) < 0.01 and abs(h[0] - 11019) < 1  # clipped at the tropopause
    assert flag[1] == 0 and abs(p[1] - 226.32) < 0.01  # the lowest pressure of the troposphere that matches
    assert np.isnan(p[2:]).all() and np.isnan(h[2:]).all() and np.isnan(flag[2:]).all()  # clear sky, no ctt
    p, h, flag = assign_height(np.array([200.0, 190.0]), tropical())
    assert flag[0] == 0 and 15_000 < h[0] < 16_500 and 110 < p[0] < 132  # AFGL tropical: 203.7 K at 15 km
    assert flag[1] == 1 and abs(p[1] - 93.7) < 1e-6 and abs(h[1] - 17_000) < 1


def test_inversion_takes_the_highest_crossing_and_a_sounding_without_heights():
    prof = profile_from_table([1000, 900, 850, 500, 250, 150], [285, 278, 281, 255, 222, 215])
    p, _, flag = assign_height(np.array([280.0, 270.0, 290.0]), prof, max_ctt=295)
    assert flag[0] == 3 and 500 < p[0] < 850  # 280 K crosses three times: the highest, above the inversion
    assert flag[1] == 0 and flag[2] == 2 and abs(p[2] - 1000) < 1e-9
    # hypsometric heights of the standard atmosphere's own levels match its geopotential heights
    std = us_standard_1976()
    sounding = profile_from_table(std.pressure[:2], std.temperature[:2])
    np.testing.assert_allclose(sounding.geopotential, std.geopotential[:2], atol=1.0)


# ---- parallax --------------------------------------------------------------------------------


def _independent_parallax(lon, lat, h, sat_lon, sat_h):
    """March along the line of sight with pyproj's geodetic <-> ECEF transforms until the geodetic height is h."""
    to_ecef = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    to_geo = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    sat = np.array(to_ecef.transform(sat_lon, 0.0, sat_h))
    ground = np.array(to_ecef.transform(lon, lat, 0.0))
    d = (ground - sat) / np.linalg.norm(ground - sat)
    height_at = lambda t: to_geo.transform(*(sat + t * d))[2] - h
    t = brentq(height_at, 0.0, np.linalg.norm(ground - sat))
    x, y, _ = to_geo.transform(*(sat + t * d))
    return x, y


@pytest.mark.parametrize(("lon", "lat"), [(-75.0, 45.0), (-120.0, 40.0)])
def test_parallax_matches_an_independent_geometric_computation(lon, lat):
    sat = Satellite(lon=-75.2, height=35786023.0)  # GOES-16
    got = correct_parallax(np.array([lon]), np.array([lat]), np.array([10_000.0]), sat)
    want = _independent_parallax(lon, lat, 10_000.0, -75.2, 35786023.0)
    _, _, miss = Geod(ellps="GRS80").inv(got[0][0], got[1][0], *want)
    _, _, shift = Geod(ellps="GRS80").inv(lon, lat, *want)
    assert miss < 100.0, miss  # the issue: within 0.1 km
    assert 8_000 < shift < 30_000  # a 10 km cloud moves 10-20 km towards the sub-satellite point
    assert got[1][0] < lat


def test_satellite_position_comes_from_the_crs():
    sat = satellite_from_crs(GOES16_WKT)
    assert sat is not None and sat.lon == -75.0 and sat.height == 35786023.0
    assert (
        satellite_from_crs(
            'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
            'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
        )
        is None
    )


# ---- end to end ------------------------------------------------------------------------------


def _column(path, name):
    with open(path, newline="") as fh:
        return np.array([float(r[name]) if r[name] else np.nan for r in csv.DictReader(fh)])


@pytest.fixture(scope="module")
def bt_pair(tmp_path_factory, radiance):
    """Two L1b-like band-13 frames: the real radiance, the second moved 2 px east and 1 px south."""
    from l1b import write_l1b

    from cloudmotion.tools.known_motion import warp

    d = tmp_path_factory.mktemp("bt")
    rad = radiance[100:260, 100:260]
    a = write_l1b(d / goes_name(13, 10), rad, lon0=-137.0, y0=0.1)
    b = write_l1b(
        d / goes_name(13, 15), warp(rad, np.full(rad.shape, 2.0), np.full(rad.shape, 1.0)), lon0=-137.0, y0=0.1
    )
    return a, b


def test_track_fills_the_height_columns_and_parallax_moves_the_winds(bt_pair, tmp_path, run):
    a, b = bt_pair
    plain, corrected = tmp_path / "plain.csv", tmp_path / "parallax.csv"
    code, _, err = run("track", a, b, "-o", plain, "--max-ctt", "300")
    assert code == 0, err
    ctt, p, h = (_column(plain, k) for k in ("ctt", "pressure", "height"))
    assert np.isfinite(ctt).all() and (ctt > 200).all() and (ctt < 300).all()
    ok = np.isfinite(p)
    np.testing.assert_allclose(p[ok], assign_height(ctt[ok], us_standard_1976(), max_ctt=300)[0], rtol=1e-3)
    assert np.isnan(_column(plain, "lon_corrected")).all()
    code, _, err = run("track", a, b, "-o", corrected, "--max-ctt", "300", "--parallax")
    assert code == 0, err
    lon_c, lat_c = _column(corrected, "lon_corrected"), _column(corrected, "lat_corrected")
    has = np.isfinite(h)
    assert np.isfinite(lon_c[has]).all() and np.isnan(lon_c[~has]).all()
    _, _, moved = Geod(ellps="GRS80").inv(
        _column(corrected, "lon")[has], _column(corrected, "lat")[has], lon_c[has], lat_c[has]
    )
    pos = h[has] > 100
    ratio = moved[pos] / h[has][pos]
    assert (ratio > 0.6).all() and (ratio < 1.2).all()  # h tan(zenith): zenith about 43 degrees at 36.6 N
    s0, s1 = _column(plain, "speed"), _column(corrected, "speed")
    assert np.array_equal(np.isfinite(s0), np.isfinite(s1))
    assert (np.abs(s1[has] - s0[has]) < 0.1 * s0[has]).all()  # same motion, slightly different ground scale
    assert np.nanmax(np.abs(s1[has] - s0[has])) > 0


def test_clear_sky_gets_no_height_and_radiance_gets_no_ctt(bt_pair, tmp_path, run):
    a, b = bt_pair
    out = tmp_path / "v.csv"
    assert run("track", a, b, "-o", out, "--max-ctt", "150")[0] == 0
    assert np.isfinite(_column(out, "ctt")).all() and np.isnan(_column(out, "pressure")).all()
    assert np.isnan(_column(out, "height_flag")).all()
    assert run("track", a, b, "-o", out, "--calibrate", "radiance", "--overwrite")[0] == 0
    assert np.isnan(_column(out, "ctt")).all()


def test_profile_file_and_its_errors(bt_pair, tmp_path, run):
    a, b = bt_pair
    sounding = tmp_path / "sounding.csv"
    sounding.write_text(
        "# a sounding\npressure_hPa,temperature_K,height_m\n1000,300,110\n500,260,5800\n200,215,12000\n100,200,16500\n"
    )
    out = tmp_path / "v.csv"
    code, _, err = run("track", a, b, "-o", out, "--profile", sounding, "--max-ctt", "300")
    assert code == 0, err
    assert np.nanmax(_column(out, "pressure")) <= 1000
    bad = tmp_path / "bad.csv"
    bad.write_text("p,t\n1000,300\n")
    code, _, err = run("track", a, b, "-o", tmp_path / "w.csv", "--profile", bad)
    assert code == 1
    one_line_error(err, "--profile", "bad.csv", "pressure_hpa")
    code, _, err = run("track", a, b, "--profile", "arctic")
    assert code == 2
    one_line_error(err, "--profile")


def test_parallax_needs_a_geostationary_crs(tmp_path, run, radiance):
    from support import write_frame

    wgs = (
        'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],PRIMEM["Greenwich",0],'
        'UNIT["degree",0.0174532925199433]]'
    )
    from affine import Affine
    from support import t0

    tr = Affine(0.02, 0, -100, 0, -0.02, 40)
    a = write_frame(tmp_path / "a.tif", radiance[:96, :96], crs=wgs, transform=tr, time=t0())
    b = write_frame(tmp_path / "b.tif", radiance[:96, :96], crs=wgs, transform=tr, time=t0(5))
    code, _, err = run("track", a, b, "--parallax")
    assert code == 2
    one_line_error(err, "--parallax", "geostationary")
