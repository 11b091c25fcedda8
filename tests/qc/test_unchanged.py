"""Unchanged data is not motion: stale tiles and repeated frames are UNCHANGED; STATIC needs a
plateau whose boundary stands still (space, out of range), never a particle image's background."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from support import t0, write_frame

from cloudmotion import Flag, track_pair
from cloudmotion.motion.plateau import standing_plateau
from cloudmotion.motion.unchanged import background_value
from cloudmotion.tools.known_motion import uniform_field, warp

N = 240


def particles(shift: float, *, n: int = 1400, seed: int = 3) -> np.ndarray:
    """A PIV recording: Gaussian particles (sigma 1.2 px) on an exact-zero background, 8-bit
    counts, every particle moved by ``shift`` px along columns."""
    rng = np.random.default_rng(seed)
    yc, xc = rng.uniform(-4, N + 4, n), rng.uniform(-4, N + 4, n) + shift
    peak = rng.uniform(80, 250, n)
    yy, xx = np.mgrid[0:N, 0:N]
    img = np.zeros((N, N))
    for y, x, p in zip(yc, xc, peak, strict=True):  # test data only: a few hundred splats
        r0, r1, c0, c1 = int(max(y - 5, 0)), int(min(y + 6, N)), int(max(x - 5, 0)), int(min(x + 6, N))
        if r0 < r1 and c0 < c1:
            sub = (slice(r0, r1), slice(c0, c1))
            img[sub] += p * np.exp(-((yy[sub] - y) ** 2 + (xx[sub] - x) ** 2) / (2 * 1.2**2))
    return np.clip(np.floor(img), 0, 255).astype(np.uint8)


def test_particle_image_on_zero_background_is_motion_not_static():
    a, b = particles(0.0), particles(3.0)
    assert background_value(a, np.ones(a.shape, bool)) == 0.0  # the background is found ...
    mf = track_pair(a, b)
    assert not (mf.flag & (Flag.STATIC | Flag.UNCHANGED)).any()  # ... and never taken for a static plateau
    good = mf.good
    assert good.mean() > 0.9
    assert np.abs(mf.dx[good] - 3.0).max() < 0.05 and np.abs(mf.dy[good]).max() < 0.05


def test_standing_boundary_only():
    space = np.zeros((60, 60), bool)
    space[:, :20] = True
    assert standing_plateau(space, space)[:, :20].all()  # space: the same boundary in both frames
    a, b = particles(0.0) == 0, particles(3.0) == 0
    assert not standing_plateau(a, b).any()  # particles' outlines move


@pytest.fixture(scope="module")
def moving(radiance):
    """Real GOES radiance moving 2 px east, with 0.05 noise, stored as float32."""
    rng = np.random.default_rng(1)
    a = radiance[:N, :N].astype(np.float32)
    b = warp(radiance, *uniform_field(radiance.shape, 2.0, 0.0), iterations=1)[:N, :N]
    return a, (b + rng.normal(0, 0.05, b.shape)).astype(np.float32)


def test_stale_tile_is_unchanged(moving):
    a, b = moving
    b = b.copy()
    b[:128, :128] = a[:128, :128]  # a tile that was not refreshed between the scans
    mf = track_pair(a, b)
    inside = (mf.row + 16 <= 128) & (mf.col + 16 <= 128)
    outside = (mf.row - 16 >= 128) | (mf.col - 16 >= 128)
    unchanged = (mf.flag & Flag.UNCHANGED) != 0
    assert unchanged[inside].all() and not unchanged[outside].any()
    assert not mf.good[inside].any()  # d = 0 and correlation 1.00 there, but no measurement
    assert np.abs(mf.dx[mf.good & outside] - 2.0).max() < 0.05 and mf.good[outside].mean() > 0.9


def test_repeated_frame_is_unchanged(moving):
    a, _ = moving
    mf = track_pair(a, a.copy())
    assert ((mf.flag & Flag.UNCHANGED) != 0).all()
    assert not mf.good.any()


def test_raw_values_decide_not_the_calibrated_ones(moving):
    a, b = moving
    # identical physical values from different stored counts are no repeat ...
    mf = track_pair(a, a.copy(), raw_a=np.zeros(a.shape, np.uint16), raw_b=np.ones(a.shape, np.uint16))
    assert not (mf.flag & Flag.UNCHANGED).any()
    # ... and the same stored counts are, whatever the pre-filter does
    counts = np.arange(a.size, dtype=np.uint32).reshape(a.shape)
    mf = track_pair(a, b, raw_a=counts, raw_b=counts.copy())
    assert ((mf.flag & Flag.UNCHANGED) != 0).all()


def test_radar_no_echo_background_does_not_count(moving):
    """Echoes moving over a no-echo value of 0 that covers most of the frame: not unchanged."""
    a, b = moving
    lo = np.percentile(a, 60)
    ra = np.where(a > lo, np.round(a * 10), 0).astype(np.int16)
    rb = np.where(b > lo, np.round(b * 10), 0).astype(np.int16)
    assert background_value(ra, np.ones(ra.shape, bool)) == 0.0
    mf = track_pair(ra.astype(np.float32), rb.astype(np.float32), raw_a=ra, raw_b=rb)
    assert not (mf.flag & Flag.UNCHANGED).any()


def _flags(out):
    return np.array([int(r["flag"]) for r in csv.DictReader(io.StringIO(out))])


def test_cli_stale_tile_and_repeated_frame(tmp_path, moving, run):
    a, b = moving
    b = b.copy()
    b[:, :120] = a[:, :120]  # the west half of the mosaic was not refreshed
    fa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    fb = write_frame(tmp_path / "b.tif", b, time=t0(2))
    code, out, err = run("track", fa, fb)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    col = np.array([float(r["col"]) for r in rows])
    flag = _flags(out)
    assert ((flag[col + 16 <= 120] & Flag.UNCHANGED) != 0).all()
    assert not (flag[col - 16 >= 120] & Flag.UNCHANGED).any()
    code, out, err = run("track", fa, write_frame(tmp_path / "again.tif", a, time=t0(2)))
    assert code == 0, err
    assert ((_flags(out) & Flag.UNCHANGED) != 0).all()


def test_no_static_check(radiance):
    """The STATIC rule on a standing out-of-range area, and --no-static-check turning it off."""
    b = warp(radiance, *uniform_field(radiance.shape, 2.3, -1.4), iterations=1)
    a = radiance.copy()
    a[:, :200] = 255.0
    b[:, :200] = 255.0
    assert np.count_nonzero(track_pair(a, b).flag & Flag.STATIC) > 0
    assert not (track_pair(a, b, static_check=False).flag & Flag.STATIC).any()


def test_cli_particle_pair_gives_no_nodata_advice(tmp_path, run):
    fa = write_frame(tmp_path / "p0.tif", particles(0.0), crs=None, nodata=None, dtype="uint8")
    fb = write_frame(tmp_path / "p1.tif", particles(3.0), crs=None, nodata=None, dtype="uint8")
    code, out, err = run("track", fa, fb, "--dt", "1")
    assert code == 0
    assert "--nodata" not in err  # the zero background moves with the particles: it is data
    flag = _flags(out)
    assert not (flag & (Flag.STATIC | Flag.UNCHANGED)).any() and np.mean(flag == 0) > 0.9
