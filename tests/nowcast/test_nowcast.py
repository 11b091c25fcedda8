"""Nowcast: dense flow, semi-Lagrangian extrapolation, the nowcast, verify and
plot commands and batch --nowcast, on real sample texture moved by known fields."""

from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
import rasterio
from scipy import ndimage
from support import SAMPLE, one_line_error, t0, write_frame

from cloudmotion.nowcast.dense_flow import dense_flow, vector_weights
from cloudmotion.nowcast.extrapolate import extrapolate, trace_back
from cloudmotion.nowcast.skill import fractions_skill_score


def fourier_shift(a: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The exact shift of a band-limited image: content moves by (+dx, +dy)."""
    ky = np.fft.fftfreq(a.shape[0])[:, None]
    kx = np.fft.fftfreq(a.shape[1])[None, :]
    return np.real(np.fft.ifft2(np.fft.fft2(a) * np.exp(-2j * np.pi * (kx * dx + ky * dy))))


@pytest.fixture(scope="module")
def smooth(radiance_module):
    return ndimage.gaussian_filter(radiance_module, 1.0)


@pytest.fixture(scope="module")
def radiance_module():
    with rasterio.open(SAMPLE[0]) as ds:
        return ds.read(1).astype(np.float64)


@pytest.mark.parametrize("spacing", [1, 4])
def test_uniform_subpixel_motion_matches_the_exact_shift_within_1_percent(smooth, spacing):
    dx, dy = 0.37, -0.61
    leads = [1, 2, 6]
    fx, fy = (np.full(smooth.shape, v, np.float32) for v in (dx, dy))
    outs = list(extrapolate(smooth, np.ones(smooth.shape, bool), fx, fy, leads, spacing=spacing))
    for lead, out in zip(leads, outs, strict=True):
        ref = fourier_shift(smooth, dx * lead, dy * lead)
        m = 24  # away from the borders (the Fourier shift wraps around)
        err = (out - ref)[m:-m, m:-m]
        assert np.isfinite(err).all()
        assert np.sqrt(np.mean(err**2)) <= 0.01 * smooth.std(), lead
    # sampled once per lead: lead 6 is no blurrier than lead 1 (no accumulated interpolation)
    assert np.std(outs[2][30:-30, 30:-30]) >= 0.995 * np.std(outs[0][30:-30, 30:-30])


def test_trace_back_uses_sub_steps_of_at_most_one_pixel_on_a_rotation():
    # solid-body rotation: 0.2 rad per interval, |v| = 0.2 r; after 1 interval a point at
    # r = 40 px must come back along the circle (an Euler step would spiral outwards)
    n = 121
    rr, cc = np.mgrid[0:n, 0:n].astype(np.float64) - 60
    omega = 0.2
    dx, dy = (-omega * rr).astype(np.float32), (omega * cc).astype(np.float32)
    ((r, c),) = trace_back(dx, dy, [1.0])
    radius_in = np.hypot(60 - 60, 100 - 60)
    radius_out = np.hypot(r[60, 100] - 60, c[60, 100] - 60)
    assert abs(radius_out - radius_in) < 0.02
    angle = np.arctan2(r[60, 100] - 60, c[60, 100] - 60)
    assert abs(angle - (-omega)) < 2e-3


def test_nodata_and_outside_become_nodata_never_zero(smooth):
    data = smooth.copy()
    valid = np.ones(data.shape, bool)
    valid[200:240, 300:330] = False
    data[~valid] = 0.0  # whatever NoData holds, it must not show
    fx, fy = np.full(data.shape, 5.25, np.float32), np.full(data.shape, -3.0, np.float32)
    (out,) = extrapolate(data, valid, fx, fy, [2.0])
    # the hole moved by (+10.5, -6): rows 194..233, cols 310.5..339.5, plus its 1 px footprint
    assert np.isnan(out[196:232, 312:338]).all()
    assert np.isfinite(out[180:190, 312:338]).all() and np.isfinite(out[196:232, 345:360]).all()
    # pixels whose source lies left of the frame (content came from outside) are NoData
    assert np.isnan(out[50:60, 0:10]).all() and np.isfinite(out[50:60, 12:20]).all()
    # rows near the bottom trace back below the frame
    assert np.isnan(out[-5:, 100]).all()
    assert np.nanmin(out) > 0.5 * smooth.min()  # no zeros bled in


def test_dense_flow_follows_good_vectors_weighted_by_ee_and_relaxes_to_the_median():
    shape = (300, 300)
    rows = np.array([50.0, 50.0, 60.0, 250.0, 255.0, 240.0])
    cols = np.array([50.0, 50.0, 45.0, 250.0, 240.0, 255.0])
    dx = np.array([2.0, 8.0, 2.0, 1.0, 1.0, 1.0])
    dy = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    ee = np.array([0.02, 0.5, 0.02, 0.05, 0.05, 0.05])
    good = np.array([True, True, True, True, True, True])
    w = vector_weights(ee, good)
    fx, fy, med = dense_flow(rows, cols, dx, dy, w, shape, length=10.0)
    assert fx.shape == shape and fx.dtype == np.float32
    assert abs(fx[50, 50] - 2.0) < 0.1  # the low-ee vectors win over the 8 px one (ee 0.5)
    assert abs(fx[250, 250] - 1.0) < 0.05 and abs(fy[250, 250] - 1.0) < 0.05
    assert med == (2.0, 0.0)  # the ee-weighted median: the two ee 0.02 vectors outweigh the rest
    assert abs(fx[150, 280] - 2.0) < 1e-3 and abs(fy[150, 280]) < 1e-3  # far from every vector: the median
    none = dense_flow(rows, cols, dx, dy, np.zeros(6), shape, length=10.0)
    assert not none[0].any() and none[2] == (0.0, 0.0)


def test_fss_is_one_for_identical_fields_and_drops_with_displacement(smooth):
    valid = np.ones(smooth.shape, bool)
    thr = float(np.percentile(smooth, 70))
    assert fractions_skill_score(smooth, smooth, valid, threshold=thr, scale=9) == pytest.approx(1.0)
    moved = fourier_shift(smooth, 6, 0)
    small = fractions_skill_score(moved, smooth, valid, threshold=thr, scale=3)
    large = fractions_skill_score(moved, smooth, valid, threshold=thr, scale=31)
    assert small < large < 1.0


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    """Nine frames 5 min apart: real texture advected by a vortex plus a drift, with 1 % noise."""
    from cloudmotion.cli.main import main

    out = tmp_path_factory.mktemp("steady")
    assert (
        main(
            [
                "synth",
                str(out),
                "--from",
                SAMPLE[0],
                "--motion",
                "vortex:3,100+uniform:1.5,-0.7",
                "--frames",
                "9",
                "--noise",
                "1",
                "-q",
            ]
        )
        == 0
    )
    return out, sorted(glob.glob(str(out / "synth_*_s*.tif")))


def test_nowcast_beats_persistence_on_a_steady_flow_2_and_6_steps_ahead(steady, run):
    out, frames = steady
    code, _, err = run(
        "nowcast",
        *frames[:3],
        "--lead",
        "30min",
        "--every",
        "10min",
        "-o",
        str(out / "nc_{lead:03d}.tif"),
        "--flow",
        str(out / "flow.tif"),
        "--overwrite",
    )
    assert code == 0, err
    with rasterio.open(frames[2]) as ds:
        cold = float(np.nanpercentile(ds.read(1), 70))  # the brightest 30 %
    for lead, observed in ((10, frames[4]), (30, frames[8])):  # 2 and 6 frame steps
        code, text, err = run("verify", str(out / f"nc_{lead:03d}.tif"), observed, "--json", "--fss", f"{cold},9")
        assert code == 0, err
        s = json.loads(text)
        assert s["lead_minutes"] == lead and s["pixels"] > 200_000
        assert s["rmse"] <= 0.35 * s["rmse_persistence"], s
        assert s["skill"] == pytest.approx(1 - s["rmse"] / s["rmse_persistence"], abs=1e-5)
        assert s["fss"] >= s["fss_persistence"]
    with rasterio.open(out / "flow.tif") as ds:
        assert ds.descriptions == ("dx", "dy", "u", "v")
        dx = ds.read(1)
        truth = rasterio.open(out / "truth.tif").read(1)
        assert np.median(np.abs(dx - truth)[50:-50, 50:-50]) < 0.1


def test_nowcast_names_tags_and_times(tmp_path, run, smooth):
    a = write_frame(tmp_path / "a.tif", smooth, time=t0(0))
    b = write_frame(tmp_path / "b.tif", ndimage.shift(smooth, (0.0, 1.5), order=3, mode="nearest"), time=t0(10))
    code, _, err = run(
        "nowcast", a, b, "--lead", "30min", "--every", "15min", "-o", str(tmp_path / "n_{valid_time:%Y%m%dT%H%M}.tif")
    )
    assert code == 0, err
    names = sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "n_*.tif")))
    assert names == ["n_20200104T0325.tif", "n_20200104T0340.tif"]
    with rasterio.open(tmp_path / "n_20200104T0340.tif") as ds:
        tags = ds.tags()
        assert tags["TIFFTAG_DATETIME"] == "2020:01:04 03:40:00"
        assert tags["LEAD_MINUTES"] == "30" and tags["SOURCE_TIME"] == "2020-01-04T03:10:00Z"
        assert tags["SOURCE_FRAME"] == os.path.abspath(b)
        assert ds.crs is not None and ds.transform == rasterio.open(b).transform and ds.dtypes == ("float32",)
        img = ds.read(1)
    # 30 min = 3 intervals of 1.5 px: the content moved 4.5 px further along the columns
    ref = ndimage.shift(smooth, (0.0, 6.0), order=3, mode="nearest")
    assert np.sqrt(np.nanmean((img - ref)[30:-30, 30:-30] ** 2)) < 0.03 * smooth.std()
    assert np.isnan(img[:, :3]).all()
    assert not glob.glob(str(tmp_path / ".*.part"))


@pytest.mark.parametrize(
    ("args", "status", "needles"),
    [
        (["-o", "n.tif"], 2, ["-o n.tif", "lead times need {lead}"]),
        (["-o", "n_{pair}.tif"], 2, ["unknown field {pair}"]),
        (["-o", "n_{lead.real}.tif"], 2, ["attribute or index access"]),
        (["-o", "b.tif", "--lead", "10min", "--overwrite"], 2, ["is the input"]),
        (["-o", "n{lead}.tif", "--every", "2h"], 2, ["--every", "longer than --lead"]),
        (["-o", "n{lead}.tif", "--lead", "soon"], 2, ["--lead soon", "not a duration"]),
        (["-o", "n{lead}.tif", "--pairs", "0"], 2, ["--pairs", ">= 1"]),
        (["-o", "n{lead}.tif", "--flow", "f.png"], 2, ["--flow f.png"]),
    ],
)
def test_nowcast_refuses_bad_names_and_options_in_one_line(tmp_path, monkeypatch, run, smooth, args, status, needles):
    monkeypatch.chdir(tmp_path)
    a = write_frame(tmp_path / "a.tif", smooth, time=t0(0))
    b = write_frame("b.tif", smooth, time=t0(10))
    code, _, err = run("nowcast", a, b, *args)
    assert code == status
    one_line_error(err, *needles)
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.tif"]


def test_nowcast_without_times_is_a_data_error_and_existing_outputs_are_kept(tmp_path, run, smooth):
    a = write_frame(tmp_path / "a.tif", smooth)
    b = write_frame(tmp_path / "b.tif", smooth)
    code, _, err = run("nowcast", a, b, "-o", str(tmp_path / "n{lead}.tif"))
    assert code == 1
    one_line_error(err, "no time", "--dt")
    (tmp_path / "n10.tif").write_text("old")
    code, _, err = run("nowcast", a, b, "--dt", "600", "-o", str(tmp_path / "n{lead}.tif"))
    assert code == 2
    one_line_error(err, "n10.tif", "--overwrite")
    assert (tmp_path / "n10.tif").read_text() == "old"


def test_verify_text_and_errors(tmp_path, run, smooth):
    a = write_frame(tmp_path / "a.tif", smooth)
    b = write_frame(tmp_path / "b.tif", smooth + 1.0)
    code, text, err = run("verify", a, b, "--persistence", a)
    assert code == 0, err
    lines = dict(ln.split(None, 1) for ln in text.splitlines())
    assert float(lines["rmse"]) == pytest.approx(1.0, rel=1e-5)
    assert float(lines["mean_error"]) == pytest.approx(-1.0, rel=1e-5)
    code, _, err = run("verify", a, b)
    assert code == 1
    one_line_error(err, "no SOURCE_FRAME tag", "--persistence")
    code, _, err = run("verify", a, b, "--persistence", a, "--fss", "x")
    assert code == 2
    one_line_error(err, "--fss x", "THRESHOLD,SCALE_PX")
    c = write_frame(tmp_path / "c.tif", smooth[:100, :100])
    code, _, err = run("verify", a, c, "--persistence", a)
    assert code == 1
    one_line_error(err, "c.tif")


def test_plot_draws_a_nowcast_beside_its_observed_frame_with_streamlines(steady, run):
    out, frames = steady
    if not (out / "nc_030.tif").exists():
        assert (
            run(
                "nowcast",
                *frames[:3],
                "--lead",
                "30min",
                "-o",
                str(out / "nc_{lead:03d}.tif"),
                "--flow",
                str(out / "flow.tif"),
                "--overwrite",
            )[0]
            == 0
        )
    code, _, err = run(
        "plot",
        out / "nc_030.tif",
        "-o",
        out / "q.png",
        "--observed",
        frames[8],
        "--flow",
        out / "flow.tif",
        "--dpi",
        "40",
    )
    assert code == 0, err
    with open(out / "q.png", "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    code, _, err = run("plot", frames[0], "-o", out / "r.png")
    assert code == 2
    one_line_error(err, "not a nowcast")


def test_batch_keeps_a_rolling_nowcast_per_sequence(steady, tmp_path, run):
    _, frames = steady
    outdir = tmp_path / "winds"
    code, _, err = run("batch", *frames[:3], "-o", outdir, "--nowcast", "20min/10min", "-q")
    assert code == 0, err
    made = sorted(glob.glob(str(outdir / "*" / "nowcast" / "*.tif")))
    assert [os.path.basename(p) for p in made] == ["nowcast_010min.tif", "nowcast_020min.tif"]
    with rasterio.open(made[0]) as ds:
        assert ds.tags()["SOURCE_FRAME"] == os.path.abspath(frames[2])
    code, _, err = run("batch", *frames[:4], "-o", outdir, "--nowcast", "20min/10min", "-q")
    assert code == 0, err
    with rasterio.open(made[0]) as ds:  # replaced: now from the newest frame
        assert ds.tags()["SOURCE_FRAME"] == os.path.abspath(frames[3])
    code, _, err = run("batch", *frames[:3], "-o", outdir, "--nowcast", "20min")
    assert code == 2
    one_line_error(err, "--nowcast 20min", "LEAD/EVERY")
