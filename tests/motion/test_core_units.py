"""Unit checks of the numeric building blocks against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from cloudmotion.grid import make_grid
from cloudmotion.motion.correlate import ncc_surfaces
from cloudmotion.motion.prefilter import normalized_gaussian
from cloudmotion.motion.subpixel import FITTERS, fit_subpixel, locate_peaks
from cloudmotion.qc.field_stats import median_test
from cloudmotion.tools.known_motion import correlated_noise


def brute_ncc(t, mt, s, ms, min_overlap):
    w = t.shape[0]
    k = s.shape[0] - w + 1
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            m = mt & ms[i : i + w, j : j + w]
            if m.sum() < max(min_overlap * mt.sum(), 2):
                continue
            a, b = t[m], s[i : i + w, j : j + w][m]
            if a.std() > 0 and b.std() > 0:
                out[i, j] = np.corrcoef(a, b)[0, 1]
    return out


@pytest.mark.parametrize("masked", [False, True])
def test_ncc_matches_direct_pearson_at_every_lag(masked):
    rng = np.random.default_rng(1)
    img = correlated_noise((80, 80), 2.0, seed=2) * 3 + 50
    w, r = 12, 5
    t = img[20 : 20 + w, 30 : 30 + w].copy()
    s = img[20 - r + 2 : 20 + w + r + 2, 30 - r - 1 : 30 + w + r - 1].copy()
    mt = np.ones_like(t, bool)
    ms = np.ones_like(s, bool)
    if masked:
        mt[rng.random(t.shape) < 0.2] = False
        ms[:, :4] = False
        t[~mt] = 1e9  # garbage under the mask must not matter
        s[~ms] = -1e9
    got = ncc_surfaces(t[None].astype(np.float32), mt[None], s[None].astype(np.float32), ms[None], min_overlap=0.75)[0]
    want = brute_ncc(t, mt, s, ms, 0.75)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], atol=2e-4)


def test_peak_index_maps_to_signed_displacement():
    img = correlated_noise((100, 100), 2.0, seed=4)
    w, r = 16, 6
    dy, dx = 3, -5  # feature moves down 3 rows and left 5 columns
    t = img[40 : 40 + w, 40 : 40 + w]
    b = np.roll(img, (dy, dx), axis=(0, 1))
    s = b[40 - r : 40 + w + r, 40 - r : 40 + w + r]
    surf = ncc_surfaces(
        t[None].astype(np.float32),
        np.ones((1, w, w), bool),
        s[None].astype(np.float32),
        np.ones((1, w + 2 * r, w + 2 * r), bool),
    )
    p = locate_peaks(surf)
    assert (p.iy[0] - r, p.ix[0] - r) == (dy, dx)
    assert p.value[0] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("method", sorted(FITTERS))
def test_three_point_fitters_find_the_vertex_direction(method):
    x0, y0 = 0.3, -0.2
    k = np.arange(7) - 3
    yy, xx = np.meshgrid(k, k, indexing="ij")
    surf = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * 1.2**2))[None].astype(np.float32)
    p = locate_peaks(surf)
    row, col = fit_subpixel(surf, p, method)
    exact = method == "gaussian"
    tol = 1e-4 if exact else 0.2
    assert row[0] - 3 == pytest.approx(y0, abs=tol)
    assert col[0] - 3 == pytest.approx(x0, abs=tol)
    assert np.sign(row[0] - 3) == np.sign(y0) and np.sign(col[0] - 3) == np.sign(x0)


def test_border_peak_is_flagged_and_not_fitted():
    surf = np.zeros((1, 5, 5), np.float32)
    surf[0, 2, 4] = 1.0
    p = locate_peaks(surf)
    assert p.on_border[0]
    row, col = fit_subpixel(surf, p)
    assert np.isnan(row[0]) and np.isnan(col[0])


def test_normalised_convolution_keeps_nodata_out():
    img = np.full((40, 40), 10.0)
    mask = np.ones_like(img, bool)
    mask[:, 20:] = False
    img[~mask] = 1e6
    out = normalized_gaussian(img, mask, 2.0)
    np.testing.assert_allclose(out[mask], 10.0, rtol=1e-12)
    assert np.all(out[~mask] == 0)


def test_median_test_flags_single_outlier():
    dx = np.full((7, 7), 2.0) + np.random.default_rng(0).normal(0, 0.02, (7, 7))
    dy = np.full((7, 7), -1.0)
    dx[3, 3] = 5.0
    r = median_test(dx, dy, np.ones((7, 7), bool))
    assert r[3, 3] > 2
    assert np.sum(r > 2) == 1


def test_grid_is_centred_and_fits():
    g = make_grid((100, 90), 32, 16)
    rows, cols = g.top_left()
    assert rows.min() >= 0 and rows.max() + 32 <= 100
    assert cols.min() >= 0 and cols.max() + 32 <= 90
    assert rows.min() == 100 - 32 - rows.max()
    with pytest.raises(ValueError, match="smaller than one 32 px window"):
        make_grid((20, 90), 32, 16)
