"""The search follows the physics: ``search = "auto"`` from max_speed, the time step and the
frame's smallest ground pixel; as many pyramid levels as the range needs; a warning when the
peaks sit at the search border; an explicit --search wins."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from support import SAMPLE, one_line_error, t0, write_frame

from cloudmotion.motion.search import AUTO_MAX, auto_search, pyramid_levels, search_peaks
from cloudmotion.qc.checks import Flag
from cloudmotion.tools.known_motion import correlated_noise, warp

UTM33 = rasterio.crs.CRS.from_epsg(32633).to_wkt()
N = 320
PIX = 250.0  # m


def test_auto_search_formula():
    assert auto_search(120.0, 300.0, 250.0) == 144  # radar composite, 5 min
    assert auto_search(120.0, 300.0, 2004.0) == 18  # GOES infrared at the sub-satellite point
    assert auto_search(120.0, 600.0, 500.0) == 144  # 0.5 km visible, 10 min
    assert auto_search(120.0, None, 250.0) == 16 and auto_search(120.0, 300.0, None) == 16
    assert auto_search(120.0, 3600.0, 250.0) == AUTO_MAX
    assert auto_search(120.0, 300.0, 250.0, (200, 500)) == 100  # half the shorter side


def test_levels_follow_the_range():
    assert [pyramid_levels(64, s) for s in (3, 16, 63, 64, 127, 128, 256)] == [0, 1, 1, 2, 2, 3, 3]
    assert pyramid_levels(32, 256) == 2  # the coarsest template stays >= 8 px


def _radar_frames(folder, *, speed=(22.0, -6.0)):
    """A radar-like pair at 250 m and 5 min: echoes in 0.5 dBZ steps over an exact no-echo 0,
    moving about 20-25 px (a shear of +-3 px across the frame around ``speed``)."""
    with rasterio.open(SAMPLE[0]) as ds:
        r = ds.read(1).astype(float)[:N, :N]
    field = (r - r.mean()) / r.std() + 0.6 * correlated_noise((N, N), 2.0, seed=4)
    cols = np.broadcast_to(np.arange(N, dtype=float), (N, N))
    dx = speed[0] + 3.0 * (cols - N / 2) / (N / 2)
    dy = np.full((N, N), speed[1])
    moved = warp(field, dx, dy)

    def dbz(x):
        z = np.round((25.0 + 12.0 * x) * 2) / 2
        return np.where(z > 20.0, z, 0.0).astype(np.float32)

    transform = Affine(PIX, 0, 500000.0, 0, -PIX, 5500000.0)
    fa = write_frame(folder / "a.tif", dbz(field), crs=UTM33, transform=transform, time=t0(0))
    fb = write_frame(folder / "b.tif", dbz(moved), crs=UTM33, transform=transform, time=t0(5))
    return fa, fb, dx, dy


def _read(out):
    rows = list(csv.DictReader(io.StringIO(out)))
    get = lambda k: np.array([float(r[k]) if r[k] else np.nan for r in rows])
    return get("row"), get("col"), get("dx"), get("dy"), np.array([int(r["flag"]) for r in rows])


@pytest.fixture(scope="module")
def radar(tmp_path_factory):
    return _radar_frames(tmp_path_factory.mktemp("radar"))


def test_radar_pair_tracked_with_defaults(radar, run):
    fa, fb, dx, dy = radar
    code, out, err = run("track", fa, fb, "-v")
    assert code == 0, err
    assert "search 144 px" in err  # the resolved value, at -v
    assert "peak at the search border" not in err
    row, col, mdx, mdy, flag = _read(out)
    good = flag == 0
    assert good.sum() >= 100
    r, c = row.astype(int), col.astype(int)
    err_px = np.hypot(mdx - dx[r, c], mdy - dy[r, c])
    assert np.median(err_px[good]) < 0.15 and np.mean(err_px[good] < 0.5) > 0.97
    ex, ey = dx[r, c], dy[r, c]
    inside = (c - 16 + ex >= 0) & (c + 16 + ex < N) & (r - 16 + ey >= 0) & (r + 16 + ey < N)  # end in frame B
    assert np.mean((flag[inside] & Flag.PEAK_AT_BORDER) != 0) < 0.02


def test_radar_pair_with_search_16_warns_once(radar, run):
    fa, fb, _, _ = radar
    code, out, err = run("track", fa, fb, "--search", "16")
    assert code == 0
    line = one_line_error(err, "peak at the search border", "(--search 16)", "--search 32")
    assert line.startswith(f"cloudmotion: warning: {fa} -> {fb}: ")
    _, _, _, _, flag = _read(out)
    assert np.mean((flag & Flag.PEAK_AT_BORDER) != 0) > 0.3


def test_resolved_search_in_the_outputs_settings(radar, tmp_path, run):
    fa, fb, _, _ = radar
    code, _, err = run("track", fa, fb, "-o", tmp_path / "v.geojson")
    assert code == 0, err
    with open(tmp_path / "v.geojson") as fh:
        assert json.load(fh)["properties"]["settings"]["search"] == 144
    code, _, err = run("track", fa, fb, "--search", "40", "-o", tmp_path / "w.geojson")
    with open(tmp_path / "w.geojson") as fh:
        assert json.load(fh)["properties"]["settings"]["search"] == 40  # an explicit --search wins


def test_untimed_frames_search_16(tmp_path, radiance, run):
    a = write_frame(tmp_path / "a.tif", radiance[:128, :128], crs=None)
    b = write_frame(tmp_path / "b.tif", radiance[1:129, :128], crs=None)
    code, _, err = run("track", a, b, "-v")
    assert code == 0 and "search 16 px" in err


def test_bad_search_value(radar, run):
    fa, fb, _, _ = radar
    code, _, err = run("track", fa, fb, "--search", "far")
    assert code == 2
    one_line_error(err, "--search", "must be an integer or auto, got 'far'")


@pytest.mark.parametrize("window", [32, 64])
def test_c2f_agrees_with_the_exhaustive_search_at_the_largest_auto_range(window):
    """At search = AUTO_MAX (two pyramid levels with a 32 px window, three with 64 px), the
    coarse-to-fine peaks equal the exhaustive ones on a textured pair moved by (150, -110) px."""
    n = 2 * AUTO_MAX + 192
    a = correlated_noise((n, n), 3.0, seed=11).astype(np.float32)
    b = np.roll(a, (-110, 150), axis=(0, 1)) + np.float32(0.05) * correlated_noise((n, n), 1.0, seed=12).astype(
        np.float32
    )
    valid = np.ones((n, n), bool)
    centre = np.arange(AUTO_MAX, n - AUTO_MAX - window, 24)
    rows, cols = (x.ravel() for x in np.meshgrid(centre, centre, indexing="ij"))
    kw = {"frame_std": float(a.std())}
    fast = search_peaks(a, valid, b, valid, rows, cols, window, AUTO_MAX, mode="c2f", **kw)
    full = search_peaks(a, valid, b, valid, rows, cols, window, AUTO_MAX, mode="full", **kw)
    same = (np.round(fast.dx) == np.round(full.dx)) & (np.round(fast.dy) == np.round(full.dy))
    assert same.mean() >= 0.99
    assert np.all(np.round(full.dx) == 150) and np.all(np.round(full.dy) == -110)
