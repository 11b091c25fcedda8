"""Quality control: flags catch bad vectors and keep good ones; thresholds act as documented."""

from __future__ import annotations

import numpy as np
import pytest

from cloudmotion import Flag, track_pair, track_sequence
from cloudmotion.qc.fill import fill_flagged
from cloudmotion.tools.known_motion import uniform_field, warp

DX, DY = 2.3, -1.4


@pytest.fixture(scope="module")
def clean(radiance):
    return radiance, warp(radiance, *uniform_field(radiance.shape, DX, DY))


@pytest.fixture(scope="module")
def faulty(clean):
    """Warped real frames with unrelated texture, a NoData stripe, a flat region and 3 % noise."""
    a, b = clean[0].copy(), clean[1].copy()
    b[60:140, 300:380] = clean[0][300:380, 60:140][::-1, ::-1]  # cloud that is not there in frame A
    a[200:230, :] = np.nan  # missing scan band
    b[200:230, :] = np.nan
    a[360:440, 60:160] = 60.0  # flat region
    b[360:440, 60:160] = 60.0
    rng = np.random.default_rng(0)
    s = np.nanstd(clean[0])
    return a + 0.03 * s * rng.standard_normal(a.shape), b + 0.03 * s * rng.standard_normal(a.shape)


def error(mf):
    e = np.hypot(mf.dx - DX, mf.dy - DY)
    return np.where(np.isnan(e), np.inf, e)  # no vector counts as a wrong vector


def test_faults_flagged_and_good_vectors_kept(faulty):
    mf = track_pair(*faulty)
    e = error(mf)
    bad, fine = e > 1.0, e < 0.2
    assert bad.sum() > 50 and fine.sum() > 400
    assert (~mf.good[bad]).mean() >= 0.80
    assert mf.good[fine].mean() >= 0.90
    assert np.all(mf.quality[~np.isfinite(mf.dx)] == 0)


@pytest.mark.xfail(
    strict=True,
    reason="templates straddling the noisy static block (two motions in "
    "one template) get ee 0.07-0.18 px although they err by 1-2 px; 82 % of > 1 px errors flagged",
)
def test_faults_flagged_95_percent(faulty):
    mf = track_pair(*faulty)
    assert (~mf.good[error(mf) > 1.0]).mean() >= 0.95


def test_each_fault_gets_its_reason(faulty):
    mf = track_pair(*faulty)
    stripe = (mf.row - 15.5 >= 200) & (mf.row + 15.5 < 230)
    flat = (mf.row - 15.5 >= 360) & (mf.row + 15.5 < 440) & (mf.col - 15.5 >= 60) & (mf.col + 15.5 < 160)
    assert np.all(mf.flag[stripe] & Flag.NODATA)
    assert flat.any() and np.all(mf.flag[flat] != 0)
    assert np.all(mf.flag[flat] & (Flag.LOW_TEXTURE | Flag.LOW_CORRELATION))


def test_clean_warp_keeps_98_percent(clean):
    mf = track_pair(*clean)
    assert mf.good.mean() >= 0.98
    assert np.all(mf.quality[mf.good] > 50)


def test_forward_backward_flags_unrelated_patch(clean):
    a, b = clean[0], clean[1].copy()
    b[100:220, 250:370] = clean[0][300:420, 40:160]
    mf = track_pair(a, b, fb_check=True)
    patch = (mf.row > 120) & (mf.row < 200) & (mf.col > 270) & (mf.col < 350)
    assert np.all(mf.flag[patch] != 0)
    measured = patch & np.isfinite(mf.dx)  # the rest have no vector at all (peak on the border)
    assert measured.sum() >= 5
    assert (mf.flag[measured] & Flag.FORWARD_BACKWARD).astype(bool).mean() > 0.8
    outside = (mf.row > 300) & mf.good
    assert np.nanmax(mf.fb_error[outside]) < 0.1


def count_flagged(a, b, bit=None, **kw):
    mf = track_pair(a, b, **kw)
    flags = mf.flag if bit is None else mf.flag & bit
    return int(np.count_nonzero(flags))


@pytest.mark.parametrize(
    ("option", "loose", "strict", "bit"),
    [
        ("min_corr", 0.3, 0.97, Flag.LOW_CORRELATION),
        ("max_error", 2.0, 0.02, Flag.LOW_TEXTURE),
        ("min_valid", 0.1, 1.0, Flag.NODATA),
        ("min_peak_ratio", 1.0, 1.5, Flag.LOW_PEAK_RATIO),
        ("median_threshold", 5.0, 1.0, Flag.MEDIAN_OUTLIER),
        ("median_eps", 0.5, 0.01, Flag.MEDIAN_OUTLIER),
    ],
)
def test_threshold_options_move_the_outcome(faulty, option, loose, strict, bit):
    n_loose = count_flagged(*faulty, bit, **{option: loose})
    n_strict = count_flagged(*faulty, bit, **{option: strict})
    assert n_strict > n_loose


def test_fb_max_moves_the_outcome(faulty):
    assert count_flagged(*faulty, Flag.FORWARD_BACKWARD, fb_check=True, fb_max=0.02) > count_flagged(
        *faulty, Flag.FORWARD_BACKWARD, fb_check=True, fb_max=2.0
    )


def test_median_test_catches_an_isolated_outlier(clean):
    a, b = clean[0], clean[1].copy()
    b[240:272, 240:272] = warp(clean[0], *uniform_field(clean[0].shape, DX + 3, DY))[240:272, 240:272]
    mf = track_pair(a, b)
    centre = (np.abs(mf.row - 255.5) < 1) & (np.abs(mf.col - 255.5) < 1)
    assert np.all(mf.flag[centre] & Flag.MEDIAN_OUTLIER)


@pytest.fixture(scope="module")
def triplet(radiance):
    shape = radiance.shape
    b = warp(radiance, *uniform_field(shape, DX, DY))
    rr, cc = np.mgrid[0 : shape[0], 0 : shape[1]]
    bump = 3.0 * np.exp(-((rr - 250.0) ** 2 + (cc - 250.0) ** 2) / (2 * 40.0**2))
    c_dx = 2 * DX + bump  # the patch speeds up by up to 3 px in the second step
    c = warp(radiance, c_dx, np.full(shape, 2 * DY))
    return radiance, b, c


def test_triplet_constant_velocity_is_consistent(triplet, radiance):
    a, b, _ = triplet
    c = warp(radiance, *uniform_field(radiance.shape, 2 * DX, 2 * DY))
    first, second = track_sequence([a, b, c])
    for mf in (first, second):
        t = mf.temporal[mf.good]
        assert np.isfinite(t).mean() > 0.9
        assert np.nanmedian(t) > 0.95
        assert not np.any(mf.flag & Flag.TEMPORAL)


def test_triplet_acceleration_patch_is_flagged(triplet):
    first, second = track_sequence(list(triplet))
    centre = np.hypot(first.row - 250, first.col - 250) < 25
    assert (first.flag[centre] & Flag.TEMPORAL).astype(bool).mean() > 0.8
    far = np.hypot(first.row - 250, first.col - 250) > 150
    assert (first.flag[far] & Flag.TEMPORAL).astype(bool).mean() < 0.05
    assert np.nanmedian(first.temporal[centre]) < np.nanmedian(first.temporal[far])
    assert first.quality[centre].mean() < first.quality[far].mean()
    assert count_temporal(track_sequence(list(triplet), max_accel=5.0)) < count_temporal([first, second])


def count_temporal(fields):
    return sum(int(np.count_nonzero(f.flag & Flag.TEMPORAL)) for f in fields)


def test_fill_replaces_flagged_vectors_and_marks_them(faulty):
    mf = track_pair(*faulty)
    filled = fill_flagged(mf)
    was_bad = ~mf.good
    assert was_bad.any()
    assert np.all(np.isfinite(filled.dx)) and np.all(np.isfinite(filled.dy))
    assert np.all(filled.flag[was_bad] & Flag.FILLED)
    assert not np.any(filled.flag[mf.good] & Flag.FILLED)
    assert np.all(filled.quality[was_bad] == 0)
    np.testing.assert_array_equal(filled.dx[mf.good], mf.dx[mf.good])
    stripe = (mf.row - 15.5 >= 200) & (mf.row + 15.5 < 230)
    assert np.all(np.abs(filled.dx[stripe] - DX) < 0.3)  # interpolated across the gap


def test_cli_speed_limit_fill_and_flags_in_outputs(tmp_path, run, clean):
    import csv
    import io

    import rasterio
    from support import t0, write_frame

    a, b = clean
    fa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    fb = write_frame(tmp_path / "b.tif", b, time=t0(10))
    code, out, err = run("track", fa, fb, "-q")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    speeds = np.array([float(r["speed"]) for r in rows if r["flag"] == "0"])
    limit = float(np.median(speeds))  # about half the vectors are faster than this
    code, out, err = run("track", fa, fb, "--max-speed", limit, "-o", tmp_path / "v.tif", "-o", tmp_path / "v.csv")
    assert code == 0, err
    with open(tmp_path / "v.csv") as fh:
        rows = list(csv.DictReader(fh))
    fast = [r for r in rows if int(r["flag"]) & Flag.SPEED_LIMIT]
    assert 0.3 * len(rows) < len(fast) < 0.7 * len(rows)
    assert all(float(r["speed"]) >= limit - 1e-3 for r in fast)  # the CSV rounds to 1 mm/s
    assert all(float(r["speed"]) <= limit + 1e-3 for r in rows if r not in fast and r["speed"])
    with rasterio.open(tmp_path / "v.tif") as ds:
        flags = ds.read(ds.descriptions.index("flag") + 1)
    assert int(np.count_nonzero(flags.astype(int) & Flag.SPEED_LIMIT)) == len(fast)
    code, out, err = run("track", fa, fb, "--max-speed", limit, "--fill")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    filled = [r for r in rows if int(r["flag"]) & Flag.FILLED]
    assert len(filled) == sum(int(r["flag"]) != 0 for r in rows)  # every vector that is not good
    assert len(filled) >= len(fast) and all(r["dx"] != "" and r["quality"] == "0.0" for r in filled)
    code, _, err = run("track", fa, fb, "--max-speed", "-3")
    assert code == 2 and "--max-speed" in err
