"""Track clouds, not the ground: cloud_fraction, CLEAR_SKY, SURFACE, the cloud
sources (auto, a model file, a GOES ACM mask), the amv preset, and no change by default."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os

import numpy as np
import pytest
import rasterio
from support import SAMPLE, one_line_error, t0, write_frame

from cloudmotion.grid import make_grid
from cloudmotion.qc.checks import Flag, assess
from cloudmotion.settings.params import TrackParams
from cloudmotion.tools.known_motion import warp
from cloudmotion.track import track_pair

N = 288  # frame side, px
EDGE = 150  # the cloud covers columns < EDGE (+ its drift) of frame A


def _std(x):
    return (x - x.mean()) / x.std()


def scene(folder, speed, *, band=13, ground_k=292.0, cloud_k=230.0, seed=0):
    """Static warm ground texture, and a cold cloud texture drifting ``speed`` px per frame
    along columns over its left part; both textures from the real sample frame, 0.1 K noise."""
    with rasterio.open(SAMPLE[0]) as ds:
        r = ds.read(1).astype(float)
    ground = ground_k + 3.0 * _std(r[:N, :N])
    cloud = cloud_k + 6.0 * _std(r[-N:, -N:][::-1].T)
    cols = np.broadcast_to(np.arange(N, dtype=float), (N, N))
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    paths = []
    for k in range(2):
        d = speed * k
        moved = warp(cloud, np.full((N, N), d), np.zeros((N, N)))
        img = np.where(cols < EDGE + d, moved, ground) + rng.normal(0.0, 0.1, (N, N))
        name = f"G17_M1_C{band:02d}_s{t0(5 * k):%Y%j%H%M%S}0.tif"
        paths.append(write_frame(os.path.join(folder, name), img))
    return paths


def table(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    col = np.array([float(r["col"]) for r in rows])
    flag = np.array([int(r["flag"]) for r in rows], dtype=np.int64)
    cf = np.array([float(r["cloud_fraction"]) if r["cloud_fraction"] else np.nan for r in rows])
    return rows, col, flag, cf


def regions(col, speed, window=32):
    """Templates wholly over the ground in both frames, and wholly in the cloud of frame A."""
    half = (window - 1) / 2
    return col - half > EDGE + speed + 2, col + half < EDGE - 2


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    return scene(tmp_path_factory.mktemp("moving"), 2.0)


def test_clouds_flags_the_ground_and_keeps_the_cloud(moving, run):
    code, out, err = run("track", *moving)
    assert code == 0, err
    _, col, flag_all, cf_all = table(out)
    assert np.isnan(cf_all).all()  # no cloud source: the column stays empty
    assert not (flag_all & (Flag.CLEAR_SKY | Flag.SURFACE)).any()
    code, out, err = run("track", *moving, "--targets", "clouds")
    assert code == 0 and err == "", err
    _, col, flag, cf = table(out)
    ground, cloud = regions(col, 2.0)
    assert ground.sum() > 80 and cloud.sum() > 80
    assert np.all(cf[ground] < 0.05) and np.all(cf[cloud] > 0.95)
    assert np.mean((flag[ground] & Flag.CLEAR_SKY) != 0) >= 0.95  # ground: flagged
    assert np.mean((flag[ground] & Flag.SURFACE) != 0) >= 0.85  # and mostly recognised as surface-locked
    was_good = cloud & (flag_all == 0)
    assert was_good.sum() > 0.9 * cloud.sum()
    assert np.mean(flag[was_good] == 0) >= 0.95  # good cloud vectors: still good
    code, out_preset, err = run("track", *moving, "--config", "amv")
    assert code == 0 and out_preset == out


def test_slow_cloud_is_not_surface_locked(tmp_path, run):
    frames = scene(tmp_path, 0.3)
    code, out_all, _ = run("track", *frames)
    code, out, err = run("track", *frames, "--targets", "clouds")
    assert code == 0, err
    _, col, flag, _ = table(out)
    _, _, flag_all, _ = table(out_all)
    _, cloud = regions(col, 0.3)
    assert not (flag[cloud] & Flag.CLEAR_SKY).any()
    was_good = cloud & (flag_all == 0)
    assert was_good.sum() > 0.9 * cloud.sum()
    assert np.mean(flag[was_good] == 0) >= 0.95  # about 2 m/s at 2 km and 5 min: still a wind
    # SURFACE no longer asks for a mostly clear template: it is told apart by the motion alone,
    # so it may only fire where the 0.3 px drift is within the vector's own expected error
    rows, _, _, _ = table(out)
    d = np.array([np.hypot(float(r["dx"] or "nan"), float(r["dy"] or "nan")) for r in rows])
    ee = np.array([float(r["ee"] or "nan") for r in rows])
    surface = cloud & ((flag & Flag.SURFACE) != 0)
    assert np.all(d[surface] < np.fmax(0.1, ee[surface]))


def test_surface_test_needs_a_still_clear_template_at_its_lag0_peak():
    shape = (1, 5)
    p = TrackParams(targets="clouds")
    grid = make_grid((32, 160), 32, 32)
    row, col = grid.centres()
    z = np.zeros(shape)
    field = track_pair(np.zeros((32, 160)) + np.arange(160), np.zeros((32, 160)) + np.arange(160), params=p)
    field = dataclasses.replace(
        field,
        row=row,
        col=col,
        dx=np.array([[0.02, 0.3, 0.02, 0.02, 0.05]]),
        dy=z,
        corr=np.full(shape, 0.99),
        peak_ratio=np.full(shape, 2.0),
        valid_fraction=np.ones(shape),
        ee=np.array([[0.01, 0.02, 0.01, 0.01, 0.2]]),
        corr0=np.array([[0.989, 0.989, 0.95, 0.989, 0.989]]),
        cloud_fraction=np.array([[0.1, 0.1, 0.1, 0.9, 0.1]]),
        refine_failed=None,
        peak_at_border=np.zeros(shape, bool),
        static=None,
        unchanged=None,
        fb_error=None,
        temporal=None,
        median_residual=np.zeros(shape),
    )
    surface = (assess(field, p).flag & Flag.SURFACE) != 0
    # still, clear, lag-0 peak | moving 0.3 px | lag 0 is not the peak | still and cloudy | |d| < ee
    assert surface.tolist() == [[True, False, False, True, True]]  # static cloud texture is no wind either
    assert (assess(field, TrackParams()).flag & (Flag.SURFACE | Flag.CLEAR_SKY) == 0).all()  # targets all


@pytest.mark.parametrize("mode", ["c2f", "full"])
def test_lag0_coefficient_is_pearson_over_pixels_valid_in_both(radiance, mode):
    from cloudmotion.motion.search import search_peaks

    a = radiance[:96, :96].astype(np.float32)
    b = (0.5 * a + 3.0 + np.random.default_rng(0).normal(0, 5, a.shape)).astype(np.float32)
    va = np.ones(a.shape, bool)
    vb = va.copy()
    vb[8:12, 8:12] = False
    rows, cols = np.array([8, 40]), np.array([8, 24])
    got = search_peaks(a, va, b, vb, rows, cols, 32, 8, mode=mode).corr0
    for k, (r, c) in enumerate(zip(rows, cols, strict=True)):
        m = (va & vb)[r : r + 32, c : c + 32]
        want = np.corrcoef(a[r : r + 32, c : c + 32][m], b[r : r + 32, c : c + 32][m])[0, 1]
        assert got[k] == pytest.approx(want, abs=2e-4)


def test_defaults_on_a_water_vapour_band_change_nothing(tmp_path, run):
    frames = scene(tmp_path, 2.0, band=9, ground_k=250.0, cloud_k=235.0)
    code, out, err = run("track", *frames)
    assert code == 0 and err == ""
    _, _, flag, cf = table(out)
    assert np.isnan(cf).all() and not (flag & (Flag.CLEAR_SKY | Flag.SURFACE)).any()
    code, out_cf, err = run("track", *frames, "--cloud-model", "auto")  # the column, never a flag
    assert code == 0 and err == ""
    rows, rows_cf = list(csv.DictReader(io.StringIO(out))), list(csv.DictReader(io.StringIO(out_cf)))
    assert [{k: v for k, v in r.items() if k != "cloud_fraction"} for r in rows_cf] == [
        {k: v for k, v in r.items() if k != "cloud_fraction"} for r in rows
    ]
    assert all(r["cloud_fraction"] != "" for r in rows_cf)
    code, _, err = run("track", *frames, "--config", "amv")
    assert code == 0 and "water-vapour band 9" in err and "--targets all" in err


def test_cloud_model_file(moving, tmp_path, run):
    model = tmp_path / "ir.toml"
    model.write_text(
        "[[component]]\nweight = 0.5\nmean = [292.0]\nvariance = [9.0]\ncloud = false\n"
        "[[component]]\nweight = 0.5\nmean = [230.0]\nvariance = [0.0]\ncloud = true\n"
    )
    code, out, err = run("track", *moving, "--targets", "clouds", "--cloud-model", model)
    assert code == 0, err  # a zero variance is floored, as documented
    _, col, flag, _cf = table(out)
    ground, _ = regions(col, 2.0)
    assert np.mean((flag[ground] & Flag.CLEAR_SKY) != 0) >= 0.95
    model.write_text("[[component]]\nweight = 1.0\nmean = [292.0, 1.0]\nvariance = [9.0, 1.0]\ncloud = true\n")
    code, _, err = run("track", *moving, "--cloud-model", model)
    assert code == 2
    one_line_error(err, "--cloud-model", "2 channel(s)", "read as 1")
    model.write_text("[[component]]\nweight = 1.0\nmean = [292.0]\nvariance = [-1.0]\ncloud = true\n")
    code, _, err = run("track", *moving, "--cloud-model", model)
    assert code == 2
    one_line_error(err, "ir.toml", "variances must be finite and >= 0")
    code, _, err = run("track", *moving, "--cloud-model", "nowhere")
    assert code == 2
    one_line_error(err, "--cloud-model", "must be auto, auto-cold, auto-bright or a .toml file")


def test_auto_needs_to_know_cold_or_bright(moving, tmp_path, run):
    plain = [tmp_path / "a.tif", tmp_path / "b.tif"]
    for src, dst in zip(moving, plain, strict=True):
        os.link(src, dst)
    code, _, err = run("track", *plain, "--dt", "300", "--targets", "clouds")
    assert code == 2
    one_line_error(err, "--cloud-model auto", "names no GOES band", "auto-cold")
    code, out, err = run("track", *plain, "--dt", "300", "--targets", "clouds", "--cloud-model", "auto-cold")
    assert code == 0, err
    _, col, flag, _ = table(out)
    ground, _ = regions(col, 2.0)
    assert np.mean((flag[ground] & Flag.CLEAR_SKY) != 0) >= 0.95


def _acm(path, cloudy):
    netCDF4 = pytest.importorskip("netCDF4")
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", N)
        ds.createDimension("x", N)
        v = ds.createVariable("BCM", "u1", ("y", "x"), fill_value=255)
        v[:] = cloudy.astype(np.uint8)
        ds.createVariable("DQF", "u1", ("y", "x"))[:] = np.zeros((N, N), np.uint8)


def test_goes_clear_sky_mask(moving, tmp_path, run):
    cols = np.broadcast_to(np.arange(N), (N, N))
    folder = tmp_path / "acm"
    folder.mkdir()
    name = f"OR_ABI-L2-ACMM1-M6_G17_s{t0(0):%Y%j%H%M%S}0_e{t0(1):%Y%j%H%M%S}0_c{t0(2):%Y%j%H%M%S}0.nc"
    _acm(folder / name, cols < EDGE)
    for mask in (folder / name, folder):  # a file, or a folder searched by scan start
        code, out, err = run("track", *moving, "--targets", "clouds", "--cloud-mask", mask)
        assert code == 0, err
        _, col, flag, cf = table(out)
        ground, cloud = regions(col, 2.0)
        assert np.all(cf[ground] == 0) and np.all(cf[cloud] == 1)
        assert np.mean((flag[ground] & Flag.CLEAR_SKY) != 0) >= 0.95
    small = tmp_path / "small.tif"
    write_frame(small, np.zeros((40, 40)))
    code, _, err = run("track", *moving, "--cloud-mask", small)
    assert code == 1
    one_line_error(err, "--cloud-mask", "40x40 px", "the frames' grid")
    code, _, err = run("track", *moving, "--cloud-mask", folder, "--cloud-model", "auto")
    assert code == 2
    one_line_error(err, "give one or the other")


def test_batch_fills_cloud_fraction(moving, tmp_path, run):
    out = tmp_path / "out"
    code, _, err = run("batch", os.path.dirname(moving[0]), "-o", out, "--targets", "clouds", "--format", "csv")
    assert code == 0, err
    (csv_path,) = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if f.endswith(".csv")]
    with open(csv_path) as fh:
        _, col, flag, cf = table(fh.read())
    ground, cloud = regions(col, 2.0)
    assert np.all(cf[cloud] > 0.95) and np.mean((flag[ground] & Flag.CLEAR_SKY) != 0) >= 0.95


def test_info_reports_the_fitted_model_and_cloud_share(moving, run):
    code, out, err = run("info", moving[0], "--cloud-model", "auto")
    assert code == 0, err
    assert "cold means cloud" in out and "chosen by BIC" in out
    comps = [ln for ln in out.splitlines() if ln.strip().startswith("component ")]
    assert (
        len(comps) in (2, 3) and any(ln.endswith("cloud") for ln in comps) and any(ln.endswith("clear") for ln in comps)
    )
    share = float(out.split("cloud share:")[1].split("%")[0])
    assert abs(share - 100 * EDGE / N) < 3  # the cloud covers EDGE of N columns
    code, out, err = run("info", moving[0], "--cloud-model", "auto", "--json")
    assert code == 0 and '"cloud_share"' in out
    code, _, err = run("info", moving[0], "--cloud-model", "bogus")
    assert code == 2
    one_line_error(err, "--cloud-model", "must be auto")


def test_plot_shades_the_cloud_probability(moving, tmp_path, run):
    pytest.importorskip("matplotlib")
    vec = tmp_path / "v.csv"
    assert run("track", *moving, "--targets", "clouds", "-o", vec)[0] == 0
    plain, shaded = tmp_path / "plain.png", tmp_path / "cloud.png"
    assert run("plot", vec, moving[0], "-o", plain)[0] == 0
    code, _, err = run("plot", vec, moving[0], "-o", shaded, "--cloud")
    assert code == 0, err
    import matplotlib.image as mpimg

    a, b = mpimg.imread(plain)[..., :3], mpimg.imread(shaded)[..., :3]
    assert a.shape == b.shape
    bluer = (b[..., 2] - b[..., 0]) - (a[..., 2] - a[..., 0])
    h, w = bluer.shape
    assert bluer[h // 3 : 2 * h // 3, w // 6 : w // 3].mean() > 0.2  # over the cloud: shaded blue
    assert abs(bluer[h // 3 : 2 * h // 3, int(0.65 * w) : int(0.8 * w)].mean()) < 0.05  # over the ground: not


def test_info_fits_the_cloud_model_on_the_values_track_uses(run):
    from support import SAMPLE_NC

    code, out, err = run("info", SAMPLE_NC, "--cloud-model", "auto", "--json")
    assert code == 0, err
    facts = json.loads(out)["frames"][0]
    assert facts["unit"] == "K"
    means = [k["mean"][0] for k in facts["cloud"]["components"]]
    assert all(150 < m < 350 for m in means), means  # brightness temperatures, not radiances (~60-110)
