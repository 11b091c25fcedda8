"""NoData-safe band-pass and float CLAHE pre-filters, their ee, settings and preset."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from support import one_line_error, t0, write_frame

from cloudmotion import track_pair
from cloudmotion.motion.equalize import clahe
from cloudmotion.motion.expected_error import prefilter_noise_factors
from cloudmotion.motion.prefilter import normalized_bandpass, prepare_frame
from cloudmotion.settings.config import load_config
from cloudmotion.settings.params import SettingError, TrackParams
from cloudmotion.tools.known_motion import vortex_shear_field, warp

FILTERS = [
    {"sigma": 0.7},
    {"sigma": 0.7, "bandpass": (0.7, 8.0)},
    {"sigma": 0.7, "equalize": "clahe"},
    {"sigma": 0.0, "bandpass": (0.7, 8.0), "equalize": "clahe"},
]


def _holes(shape):
    mask = np.ones(shape, bool)
    mask[100:220, 40:300] = False  # a large gap
    mask[::7, ::13] = False  # scattered dead pixels
    mask[:, -30:] = False  # off-disk edge
    return mask


@pytest.mark.parametrize("kw", FILTERS, ids=["gaussian", "bandpass", "clahe", "clahe+bandpass"])
def test_filtered_valid_pixels_ignore_what_nodata_holds(radiance, kw):
    mask = _holes(radiance.shape)
    a, valid = prepare_frame(radiance, mask, **kw)
    other = radiance.copy()
    rng = np.random.default_rng(5)
    other[~mask] = rng.uniform(-1e7, 1e7, int((~mask).sum()))
    other[150, 100], other[0, -1] = np.nan, np.inf
    b, _ = prepare_frame(other, mask, **kw)
    np.testing.assert_allclose(b[valid], a[valid], rtol=0, atol=1e-6 * max(1.0, float(np.abs(a[valid]).max())))
    assert np.all(a[~valid] == 0) and np.all(b[~valid] == 0)
    assert np.isfinite(a).all()


def test_bandpass_removes_ramp_and_makes_no_edge_at_nodata():
    rows, cols = np.mgrid[0:120, 0:160].astype(np.float64)
    ramp = 50.0 + 0.3 * cols - 0.2 * rows  # any plane passes the wide Gaussian unchanged inside
    mask = np.ones(ramp.shape, bool)
    mask[:, 80:] = False
    ramp[~mask] = 1e6
    out = normalized_bandpass(ramp, mask, 0.7, 8.0)
    inner = ndimage.binary_erosion(mask, iterations=33, border_value=0)
    assert np.abs(out[inner]).max() < 1e-3
    # beside the gap (and the frame's border) the wide Gaussian is a one-sided mean of the plane,
    # off by at most the slopes times its centroid's shift (sigma sqrt(2 / pi) per axis) ...
    assert np.abs(out[mask]).max() < (0.3 + 0.2) * 8.0 * 0.8
    # ... where a filter that saw the gap as zeros would make a step of about half the level
    naive = ndimage.gaussian_filter(np.where(mask, ramp, 0), 0.7) - ndimage.gaussian_filter(np.where(mask, ramp, 0), 8)
    assert np.abs(naive[mask]).max() > 10


def test_bandpass_noise_factors_match_filtered_white_noise():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((600, 600))
    out = normalized_bandpass(noise, np.ones(noise.shape, bool), 0.7, 8.0)[40:-40, 40:-40].astype(np.float64)
    rho, share = prefilter_noise_factors(0.0, (0.7, 8.0))
    c0 = np.mean(out * out)
    for lag in (1, 2, 3):
        measured = np.mean(out[:, lag:] * out[:, :-lag]) / c0
        assert measured == pytest.approx(rho[4, 4 + lag], abs=0.01)
    grad = 0.5 * (out[:, 2:] - out[:, :-2])
    assert np.mean(grad**2) / c0 == pytest.approx(share, rel=0.02)
    gauss, _ = prefilter_noise_factors(0.7)
    assert rho.sum() < gauss.sum()  # the band-pass takes away the correlated low frequencies


def test_clahe_is_float_monotone_and_robust_to_extremes(radiance):
    mask = np.ones(radiance.shape, bool)
    out = clahe(radiance, mask)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    assert np.unique(out).size > 0.5 * np.unique(radiance).size  # not quantised to 256 levels
    order = np.argsort(radiance[:250, :250], axis=None)  # one tile: a monotone mapping
    assert np.all(np.diff(clahe(radiance[:250, :250], mask[:250, :250], tile=250).ravel()[order]) >= -1e-6)
    hot = radiance.copy()
    hot.flat[::997] = 1e9  # 0.1 % hot pixels do not set the range
    changed = np.abs(clahe(hot, mask) - out)
    keep = hot != 1e9
    assert np.median(changed[keep]) < 0.01


def _ramp_case(radiance, theta):
    h, w = radiance.shape
    dxf, dyf = vortex_shear_field(radiance.shape, strength=3.0, radius=h / 4, shear=1.5, drift=(2.3, -1.2))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)

    def gain(deg, amount):
        t = np.deg2rad(deg)
        proj = (cols - w / 2) * np.cos(t) + (rows - h / 2) * np.sin(t)
        return 1.0 + amount * proj / (w * abs(np.cos(t)) + h * abs(np.sin(t)))

    b = warp(radiance, dxf, dyf)
    if theta is None:
        return radiance, b, dxf, dyf
    return radiance * gain(0, 0.2), b * gain(theta, 0.2), dxf, dyf


def _rms_good(mf, dxf, dyf):
    coords = [mf.row.ravel(), mf.col.ravel()]
    err = np.hypot(
        mf.dx.ravel() - ndimage.map_coordinates(dxf, coords, order=1),
        mf.dy.ravel() - ndimage.map_coordinates(dyf, coords, order=1),
    )
    good = mf.flag.ravel() == 0
    assert good.mean() > 0.95
    return float(np.sqrt(np.mean(err[good] ** 2))), mf.ee.ravel()[good]


def test_bandpass_gains_on_changing_ramp_and_costs_nothing_clean(radiance):
    a, b, dxf, dyf = _ramp_case(radiance, 10.0)
    plain, _ = _rms_good(track_pair(a, b), dxf, dyf)
    band, ee = _rms_good(track_pair(a, b, bandpass=(0.7, 8.0)), dxf, dyf)
    assert band < 0.6 * plain  # measured 0.025 against 0.063 px
    assert 0.67 < band / float(np.sqrt(np.mean(ee**2))) < 1.5  # ee stays calibrated with the band-pass
    a, b, dxf, dyf = _ramp_case(radiance, None)
    clean_plain, _ = _rms_good(track_pair(a, b), dxf, dyf)
    clean_band, _ = _rms_good(track_pair(a, b, bandpass=(0.7, 8.0)), dxf, dyf)
    assert clean_band <= clean_plain + 0.003


def test_settings_rules_and_visible_preset():
    assert TrackParams(bandpass=(0.7, 8.0)).bandpass == (0.7, 8.0)
    for bad in ((8.0, 0.7), (-1.0, 4.0), (0.7, float("nan")), (1.0, 200.0)):
        with pytest.raises(SettingError, match="bandpass needs 0 <= LOW < HIGH"):
            TrackParams(bandpass=bad)
    with pytest.raises(SettingError, match="equalize must be one of none, clahe"):
        TrackParams(equalize="histeq")
    visible = load_config("visible")
    assert visible["bandpass"] == (0.7, 8.0) or list(visible["bandpass"]) == [0.7, 8.0]


def test_track_and_batch_take_the_options(tmp_path, radiance, run):
    a, b, _, _ = _ramp_case(radiance, 10.0)
    fa = write_frame(tmp_path / f"{t0(0):%Y%m%d%H%M}_vis.tif", a, time=t0(0))
    fb = write_frame(tmp_path / f"{t0(10):%Y%m%d%H%M}_vis.tif", b, time=t0(10))
    code, out, err = run("track", fa, fb, "--bandpass", "0.7,8", "--equalize", "clahe", "-q")
    assert code == 0, err
    assert len(out.splitlines()) > 100
    code, _, err = run("track", fa, fb, "--bandpass", "8,0.7")
    assert code == 2
    one_line_error(err, "bandpass", "LOW < HIGH")
    code, _, err = run("track", fa, fb, "--bandpass", "0.7")
    assert code == 2
    one_line_error(err, "--bandpass", "must be a pair")
    code, _, err = run("track", fa, fb, "--equalize", "histeq")
    assert code == 2 and "equalize" in err
    code, _, err = run(
        "batch",
        fa,
        fb,
        "-o",
        tmp_path / "out",
        "--config",
        "visible",
        "--name-pattern",
        "%Y%m%d%H%M_vis.tif",
        "--no-progress",
        "-q",
    )
    assert code == 0, err
    assert list((tmp_path / "out").rglob("*.csv"))
