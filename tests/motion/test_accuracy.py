"""Known displacements recovered from real GOES texture warped by known fields."""

from __future__ import annotations

import numpy as np
import pytest

from cloudmotion import Flag, track_pair
from cloudmotion.tools.known_motion import (
    correlated_noise,
    uniform_field,
    vortex_shear_field,
    warp,
)


def truth_at(field, mf):
    """Sample a dense displacement field at the vector origins (bilinear)."""
    from scipy import ndimage

    dx, dy = field
    coords = [mf.row.ravel(), mf.col.ravel()]
    return (
        ndimage.map_coordinates(dx, coords, order=1).reshape(mf.row.shape),
        ndimage.map_coordinates(dy, coords, order=1).reshape(mf.row.shape),
    )


def errors(mf, tx, ty):
    e = np.hypot(mf.dx - tx, mf.dy - ty)
    return e, mf.good


SHIFTS = [(0.1, 0.0), (0.25, -0.5), (-0.7, 0.35), (1.5, -2.25), (3.3, 4.8), (-5.45, 6.1), (7.9, -7.6), (-8.0, 8.0)]


@pytest.mark.parametrize(("dx", "dy"), SHIFTS)
def test_uniform_subpixel_shift_rms_below_005(radiance, dx, dy):
    b = warp(radiance, *uniform_field(radiance.shape, dx, dy))
    mf = track_pair(radiance, b)
    e, good = errors(mf, dx, dy)
    assert good.mean() > 0.85
    rms = np.sqrt(np.mean(e[good] ** 2))
    assert rms <= 0.05, rms


def test_vortex_plus_shear_rms_below_008(radiance):
    field = vortex_shear_field(radiance.shape, strength=4.0, radius=120.0, shear=1.5, drift=(1.0, -0.5))
    assert np.hypot(*field).max() <= 6.0
    b = warp(radiance, *field)
    mf = track_pair(radiance, b)
    tx, ty = truth_at(field, mf)
    e, good = errors(mf, tx, ty)
    assert good.mean() > 0.85
    assert np.sqrt(np.mean(e[good] ** 2)) <= 0.08


def test_zero_motion_is_zero(radiance):
    # two scans of a still scene differ by their noise; a bit-identical copy is UNCHANGED, no measurement
    rng = np.random.default_rng(5)
    mf = track_pair(radiance + rng.normal(0, 0.002, radiance.shape), radiance + rng.normal(0, 0.002, radiance.shape))
    good = mf.good
    assert good.mean() > 0.9
    assert np.abs(mf.dx[good]).max() < 0.01
    assert np.abs(mf.dy[good]).max() < 0.01


def test_nodata_stripe_never_gives_a_bad_good_vector(radiance):
    dx, dy = 2.3, -1.6
    b = warp(radiance, *uniform_field(radiance.shape, dx, dy))
    a = radiance.copy()
    a[200:260, :] = np.nan  # a missing scan band in both frames
    b[200:260, :] = np.nan
    mf = track_pair(a, b)
    e, good = errors(mf, dx, dy)
    assert good.sum() > 500
    assert np.nanmax(e[good]) <= 1.0
    inside = (mf.row - 15.5 >= 200) & (mf.row + 15.5 < 260)  # templates entirely NoData
    assert inside.any()
    assert not good[inside].any()
    assert np.all(mf.flag[inside] & Flag.NODATA)
    assert np.all(np.isnan(mf.dx[inside]))


def test_nodata_mask_argument_equals_nan(radiance):
    b = warp(radiance, *uniform_field(radiance.shape, 1.2, 0.7))
    mask = np.ones(radiance.shape, bool)
    mask[:, 100:140] = False
    a_garbage = radiance.copy()
    a_garbage[~mask] = 1e6  # a fill value that must never enter the sums
    m1 = track_pair(a_garbage, b, mask_a=mask, mask_b=mask)
    a_nan = radiance.copy()
    a_nan[~mask] = np.nan
    b_nan = b.copy()
    b_nan[~mask] = np.nan
    m2 = track_pair(a_nan, b_nan)
    np.testing.assert_array_equal(m1.flag, m2.flag)
    np.testing.assert_allclose(m1.dx, m2.dx, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("method", ["gaussian", "parabolic", "centroid"])
def test_subpixel_methods_without_refinement(radiance, method):
    dx, dy = 1.3, -0.4
    b = warp(radiance, *uniform_field(radiance.shape, dx, dy))
    mf = track_pair(radiance, b, subpixel=method, refine=False)
    e, good = errors(mf, dx, dy)
    assert np.sqrt(np.mean(e[good] ** 2)) < 0.35  # correlation alone: peak-locked, sub-pixel still informative
    refined = track_pair(radiance, b, subpixel=method, refine=True)
    e2, good2 = errors(refined, dx, dy)
    assert np.sqrt(np.mean(e2[good2] ** 2)) < 0.5 * np.sqrt(np.mean(e[good] ** 2))


def test_correlated_noise_fourier_shift():
    a = correlated_noise((384, 384), 3.0, seed=3)
    dx, dy = -2.62, 1.37
    k_r = np.fft.fftfreq(a.shape[0])[:, None]
    k_c = np.fft.fftfreq(a.shape[1])[None, :]
    b = np.fft.ifft2(np.fft.fft2(a) * np.exp(-2j * np.pi * (k_r * dy + k_c * dx))).real
    mf = track_pair(a, b)
    e, good = errors(mf, dx, dy)
    assert good.mean() > 0.95
    assert np.sqrt(np.mean(e[good] ** 2)) < 0.02
    assert abs(np.mean(mf.dx[good]) - dx) < 0.01  # no bias toward zero


def test_motion_beyond_search_is_flagged_not_clipped(radiance):
    b = warp(radiance, *uniform_field(radiance.shape, 11.0, 0.0))
    mf = track_pair(radiance, b, search=8)
    good = mf.good
    assert good.mean() < 0.05
    border = (mf.flag & Flag.PEAK_AT_BORDER).astype(bool)
    assert border.mean() > 0.5
    assert np.all(np.isnan(mf.dx[border]))  # no vector clipped to the search edge
