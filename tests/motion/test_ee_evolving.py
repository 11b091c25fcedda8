"""Expected error on evolving scenes: growth and decay on real texture, radar-like echoes, the
residual-correlation terms (compiled against numpy, FFT against direct sums) and the
forward-backward consistency check."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage
from support import ROOT

from cloudmotion import Flag, track_pair
from cloudmotion.motion.ee_terms import binned_noise, template_terms
from cloudmotion.motion.expected_error import prefilter_noise_factors
from cloudmotion.motion.kernels.backend import reference_kernels
from cloudmotion.motion.prefilter import filter_kernels
from cloudmotion.motion.references.ee import lag_sums
from cloudmotion.settings.config import resolve_settings
from cloudmotion.tools.consistency import CALIBRATED_MEDIAN, consistency
from cloudmotion.tools.known_motion import add_noise, evolve, radar_echoes, vortex_shear_field, warp

GROSS = Flag.NODATA | Flag.PEAK_AT_BORDER | Flag.REFINE_FAILED | Flag.MEDIAN_OUTLIER | Flag.STATIC
RADAR_PRESET = os.path.join(ROOT, "configs", "radar.toml")


def _errors(mf, fx, fy):
    c = [mf.row.ravel(), mf.col.ravel()]
    return np.hypot(
        mf.dx.ravel() - ndimage.map_coordinates(fx, c, order=1),
        mf.dy.ravel() - ndimage.map_coordinates(fy, c, order=1),
    )


def _decile_ratios(ee, err):
    return np.array([np.sqrt(np.mean(err[d] ** 2)) / np.mean(ee[d]) for d in np.array_split(np.argsort(ee), 10)])


# Growth and decay of 20 % of the frame's standard deviation, correlated over 16 px, plus 1 %
# noise: before the smooth residual counted, ee was 1.5-1.9 times too small in every decile.
# The target is 0.67-1.5 per decile (benchmarks/evolving.py, RESULTS.md); on this one 500 x 500
# frame (about 75 vectors a decile) a decile's RMS scatters by about 12 %, hence 0.6-1.7 per
# decile and 0.8-1.35 for the median decile.
def test_ee_is_calibrated_under_growth_and_decay(radiance):
    fx, fy = vortex_shear_field(radiance.shape, strength=3.0, radius=125.0, shear=1.5, drift=(2.3, -1.2))
    a, b = add_noise(radiance, evolve(warp(radiance, fx, fy), 16.0, 0.2, seed=3), 0.01, seed=5)
    mf = track_pair(a, b, max_error=0.0)
    err, ee = _errors(mf, fx, fy), mf.ee.ravel()
    ok = ((mf.flag.ravel() & GROSS) == 0) & np.isfinite(ee) & (ee <= 1.0) & np.isfinite(err)
    assert ok.sum() >= 600
    r = _decile_ratios(ee[ok], err[ok])
    assert np.all((r >= 0.6) & (r <= 1.7)), r.round(2)
    assert 0.8 <= np.median(r) <= 1.35, r.round(2)


def test_clean_warp_gets_no_smooth_share(radiance):
    """Without evolution the residual holds interpolation error and the flow's deformation only."""
    fx, fy = vortex_shear_field(radiance.shape, strength=3.0, radius=125.0, shear=1.5, drift=(2.3, -1.2))
    b = warp(radiance, fx, fy)
    mf = track_pair(radiance, b, max_error=0.0)
    ok = ((mf.flag.ravel() & GROSS) == 0) & np.isfinite(mf.ee.ravel())
    r = _decile_ratios(mf.ee.ravel()[ok], _errors(mf, fx, fy)[ok])
    assert np.all((r >= 0.6) & (r <= 1.7)), r.round(2)


def _radar_run(growth, seed=11, step=None):
    p = resolve_settings({} if step is None else {"step": step}, RADAR_PRESET).params
    a, b, (fx, fy) = radar_echoes((640, 640), (18.0, -9.0), growth=growth, seed=seed)
    mf = track_pair(a, b, params=p, px_per_mps=300.0 / 250.0)
    echo = ndimage.uniform_filter((a > 0).astype(float), p.window, mode="constant")
    share = echo[mf.row.astype(int), mf.col.astype(int)].ravel() >= 0.25
    return mf, _errors(mf, fx, fy), share


# Radar-like echoes (0.5 dBZ steps, zero background, 20 px per frame) with 2 dBZ of growth
# and decay over 16 px, tracked with the radar preset. Targets: >= 30 % of echo templates
# good, <= 5 % of the good ones off by more than 1 px (benchmark: 81 % and 1.2 %).
def test_radar_preset_keeps_echo_templates_and_few_large_errors():
    mf, err, echo = _radar_run(2.0)
    good = echo & (mf.flag.ravel() == 0) & np.isfinite(err)
    assert echo.sum() >= 100
    assert good.sum() / echo.sum() >= 0.30
    assert np.mean(err[good] > 1.0) <= 0.05


# Calibration on the radar-like frames misses the 0.67-1.5 target (RESULTS.md: ee is still
# 1.7-2.5 times too small per decile at 64 px windows; before the smooth residual counted,
# 4.6-6.7 times): pinned here at 4, which the model without the smooth share fails.
def test_radar_ee_is_within_a_factor_four():
    mf, err, echo = _radar_run(2.0, step=16)  # the preset's window on a denser grid: more vectors a decile
    ee = mf.ee.ravel()
    ok = echo & ((mf.flag.ravel() & GROSS) == 0) & np.isfinite(ee) & (ee <= 1.0) & np.isfinite(err)
    assert ok.sum() >= 100
    r = _decile_ratios(ee[ok], err[ok])
    assert np.all(r <= 4.0), r.round(2)


def _brute_lag_sums(e, gx, gy, lags, rho):
    k, w = e.shape[0], e.shape[1]
    half = rho.shape[0] // 2
    cov, noise = np.zeros((k, 3)), np.zeros((k, 3))
    for ry in range(-(w - 1), w):
        for rx in range(-(w - 1), w):
            a = (slice(None), slice(max(0, -ry), min(w, w - ry)), slice(max(0, -rx), min(w, w - rx)))
            b = (slice(None), slice(max(0, ry), min(w, w + ry)), slice(max(0, rx), min(w, w + rx)))
            c = (e[a] * e[b]).sum(axis=(1, 2))
            g = np.stack(
                [
                    (gx[a] * gx[b]).sum(axis=(1, 2)),
                    0.5 * ((gx[a] * gy[b]).sum(axis=(1, 2)) + (gy[a] * gx[b]).sum(axis=(1, 2))),
                    (gy[a] * gy[b]).sum(axis=(1, 2)),
                ],
                axis=1,
            )
            if abs(ry) <= lags and abs(rx) <= lags:
                cov += g * c[:, None]
            if abs(ry) <= half and abs(rx) <= half:
                noise += g * rho[half + ry, half + rx]
    return cov, noise


# (16, 15), (16, 6): full and partial lag ranges; (2, 1), (3, 2): windows of 2 and 3 blocks
# (a 4 or 6 px template on 2 x 2 blocks), smaller than the noise autocorrelation's reach
@pytest.mark.parametrize(("w", "lags"), [(16, 15), (16, 6), (2, 1), (3, 2)])
def test_lag_sums_by_fft_equal_the_direct_sums(w, lags):
    rng = np.random.default_rng(4)
    e, gx, gy = (rng.standard_normal((6, w, w)) for _ in range(3))
    rho = prefilter_noise_factors(0.7)[0]
    got = lag_sums(e, gx, gy, lags, rho)
    want = _brute_lag_sums(e, gx, gy, lags, rho)
    for g, ref in zip(got, want, strict=True):
        np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("sigma, bandpass", [(1.0, None), (0.0, (1.0, 4.0))])
def test_binned_noise_is_the_covariance_of_block_sums(sigma, bandpass):
    """Filtered white noise summed over 2 x 2 blocks: its lag covariances, measured, against the formula."""
    rng = np.random.default_rng(8)
    noise = rng.standard_normal((1024, 1024))
    filtered = sum(
        wt * ndimage.correlate1d(ndimage.correlate1d(noise, k, axis=0, mode="wrap"), k, axis=1, mode="wrap")
        for wt, k in filter_kernels(sigma, bandpass)
    )
    blocks = filtered.reshape(512, 2, 512, 2).sum(axis=(1, 3))
    # the filtered noise's autocorrelation at every lag it reaches (the 2-D kernel's own)
    size = max(k.size for _, k in filter_kernels(sigma, bandpass))
    kern = sum(wt * np.pad(np.outer(k, k), (size - k.size) // 2) for wt, k in filter_kernels(sigma, bandpass))
    rho = ndimage.correlate(np.pad(kern, size // 2), kern, mode="constant") / (kern**2).sum()
    want = binned_noise(rho, 2) * filtered.var()
    m = want.shape[0] // 2
    for ry, rx in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]:
        got = np.mean(blocks * np.roll(blocks, (-ry, -rx), axis=(0, 1)))
        assert got == pytest.approx(want[m + ry, m + rx], abs=0.03 * want[m, m])


def test_windows_the_blocks_do_not_tile_are_summed_pixel_by_pixel(radiance, monkeypatch):
    """An odd window gets the full-resolution sums (a partial block would count short); an even one the blocks'."""
    import cloudmotion.motion.ee_terms as terms

    a = radiance[:160, :160]
    b = evolve(warp(a, *vortex_shear_field(a.shape, strength=1.0, drift=(1.3, 0.4))), 8.0, 0.1, seed=2)
    valid = np.ones(a.shape, bool)
    rows, cols = (x.ravel() for x in np.meshgrid(np.arange(0, 120, 24), np.arange(0, 120, 24), indexing="ij"))
    dx, dy = np.full(rows.size, 1.3), np.full(rows.size, 0.4)
    rho = prefilter_noise_factors(0.7)[0]

    def sums(w):
        t = template_terms(a, valid, b, valid, rows, cols, w, dx, dy, rho=rho)
        return np.concatenate([t.lag_cov, t.lag_noise], axis=1)

    binned = {w: sums(w) for w in (32, 33)}
    monkeypatch.setattr(terms, "LAG_BIN", 1)
    full = {w: sums(w) for w in (32, 33)}
    np.testing.assert_array_equal(binned[33], full[33])
    assert not np.allclose(binned[32], full[32], rtol=1e-3)


def test_binned_lag_sums_keep_a_smooth_residual():
    """A residual smooth over 2 px (growth, decay) gives the same lag sums on 2 x 2 blocks."""
    rng = np.random.default_rng(6)
    w = 32
    e = ndimage.gaussian_filter(rng.standard_normal((8, w, w)), (0, 5.0, 5.0))
    texture = ndimage.gaussian_filter(rng.standard_normal((8, w + 2, w + 2)), (0, 1.0, 1.0))
    gy, gx = (g[:, 1:-1, 1:-1] for g in np.gradient(texture, axis=(1, 2)))
    rho = np.ones((1, 1))
    full = lag_sums(e, gx, gy, w - 1, rho)[0]
    blocks = [v.reshape(8, w // 2, 2, w // 2, 2).sum(axis=(2, 4)) for v in (e, gx, gy)]
    binned = lag_sums(*blocks, w // 2 - 1, binned_noise(rho, 2) / 16)[0] / 4
    np.testing.assert_allclose(binned, full, rtol=0.05, atol=0.02 * np.abs(full).max())


def test_compiled_and_numpy_residual_terms_agree(radiance):
    a = radiance[:160, :160]
    b = evolve(warp(a, *vortex_shear_field(a.shape, strength=1.0, drift=(1.3, 0.4))), 8.0, 0.1, seed=2)
    va = vb = np.ones(a.shape, bool)
    rows, cols = np.meshgrid(np.arange(0, 128, 16), np.arange(0, 128, 16), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    dx, dy = np.full(rows.size, 1.3), np.full(rows.size, 0.4)
    rho = prefilter_noise_factors(0.7)[0]
    with reference_kernels():
        ref = template_terms(a, va, b, vb, rows, cols, 32, dx, dy, rho=rho)
    got = template_terms(a, va, b, vb, rows, cols, 32, dx, dy, threads=2, rho=rho)
    for name in ("lag_cov", "lag_noise"):
        np.testing.assert_allclose(getattr(got, name), getattr(ref, name), rtol=2e-3, err_msg=name)
    assert np.all(ref.lag_cov[:, 0] > 0) and np.all(ref.lag_noise[:, 2] > 0)


def _grid_vectors(dx, dy, ee, flag=None):
    r, c = np.meshgrid(np.arange(16.0, 200.0, 16.0), np.arange(16.0, 200.0, 16.0), indexing="ij")
    f = np.zeros(r.size, int) if flag is None else flag
    return SimpleNamespace(
        row=r.ravel(), col=c.ravel(), dx=np.full(r.size, dx), dy=np.full(r.size, dy), ee=np.full(r.size, ee), flag=f
    )


def test_consistency_measures_the_forward_backward_miss_against_ee():
    fwd = _grid_vectors(3.0, -2.0, 0.1)
    bwd = _grid_vectors(-3.0 + 0.3, 2.0, 0.1)  # misses the origin by 0.3 px along columns
    res = consistency(fwd, bwd)
    assert res["n_good"] == fwd.row.size
    assert 0 < res["n_checked"] < res["n_good"]  # end points beyond the backward grid are not checked
    assert res["median_ratio"] == pytest.approx(0.3 / np.sqrt(2) / 0.1)
    assert res["median_fb"] == pytest.approx(0.3)
    assert len(res["deciles"]) == 10
    flagged = _grid_vectors(-3.0 + 0.3, 2.0, 0.1, flag=np.ones(fwd.row.size, int))
    assert consistency(fwd, flagged)["n_checked"] == 0  # only good backward vectors are used
    assert CALIBRATED_MEDIAN == pytest.approx(0.8326, abs=1e-4)


def test_score_consistency_cli(run, tmp_path, radiance):
    from datetime import UTC, datetime, timedelta

    from support import write_frame

    t0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    b = warp(radiance, *vortex_shear_field(radiance.shape, strength=2.0, drift=(1.5, -0.5)))
    fa = write_frame(tmp_path / "a.tif", radiance, time=t0)
    fb = write_frame(tmp_path / "b.tif", b, time=t0 + timedelta(minutes=5))
    fwd, bwd = tmp_path / "fwd.csv", tmp_path / "bwd.csv"
    assert run("track", fa, fb, "-o", fwd)[0] == 0
    assert run("track", fb, fa, "--dt", "300", "-o", bwd)[0] == 0
    code, out, err = run("score", "--consistency", fwd, bwd)
    assert code == 0, err
    assert "fb/sqrt(2)/ee: median" in out and "ee decile | vectors" in out
    code, out, _ = run("score", "--consistency", fwd, bwd, "--json")
    import json

    data = json.loads(out)
    pair = data["pairs"][0]
    assert pair["n_checked"] > 500 and len(pair["deciles"]) == 10
    assert 0 < pair["median_ratio"] < 2
    code, _, err = run("score", "--consistency", fwd, tmp_path / "missing.csv")
    assert code == 1 and "missing.csv" in err
