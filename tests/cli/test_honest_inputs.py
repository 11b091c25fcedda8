"""Inputs are checked against each other: a cloud mask's grid and values, sounding rows,
nowcast's --max-gap, --pairs, --lead and --flow-smoothing, and one-line errors where
there were internal errors."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from affine import Affine
from support import PIXEL, SAMPLE, SAMPLE_NC, goes_copy, one_line_error, write_frame
from test_honest_steps import moving_frames

SIZE = 128


@pytest.fixture(scope="module")
def frames(tmp_path_factory, radiance):
    """Three 128 px frames 5 min apart (GOES-17 M1 band 13 names), moving (1.5, -0.5) px per frame."""
    names = [f"G17_M1_C13_s2019300{hhmm}275.tif" for hhmm in ("2000", "2005", "2010")]
    return moving_frames(tmp_path_factory.mktemp("frames"), radiance, size=SIZE, names=names)


def _frame_transform():
    return Affine(PIXEL, 0, -SIZE / 2 * PIXEL, 0, -PIXEL, SIZE / 2 * PIXEL)  # as write_frame places frames


def _cloud_fraction(out):
    rows = list(csv.DictReader(io.StringIO(out)))
    col = np.array([float(r["col"]) for r in rows])
    cf = np.array([float(r["cloud_fraction"]) if r["cloud_fraction"] else np.nan for r in rows])
    return col, cf


# --- cloud masks ---------------------------------------------------------------------------


def test_cloud_mask_on_another_grid_is_refused_or_reprojected(frames, tmp_path, run):
    cols = np.broadcast_to(np.arange(SIZE), (SIZE, SIZE))
    mask = write_frame(  # the frame's shape and CRS, 64 px further east: cloud under frame columns 64-95
        tmp_path / "m.tif", (cols < 32).astype(float), transform=_frame_transform() @ Affine.translation(64, 0)
    )
    code, _, err = run("track", *frames[:2], "--targets", "clouds", "--cloud-mask", mask, "-o", tmp_path / "v.csv")
    assert code == 1
    line = one_line_error(err, f"--cloud-mask {mask}: its grid (128x128 px", f"is not the grid of {frames[0]}")
    assert line.count("origin (") == 2  # both grids named
    assert "--align reprojects it" in line and not (tmp_path / "v.csv").exists()
    code, out, err = run("track", *frames[:2], "--targets", "clouds", "--cloud-mask", mask, "--align")
    assert code == 0, err
    col, cf = _cloud_fraction(out)
    assert np.all(np.isnan(cf[col < 48]))  # west of the mask: not covered, unknown
    assert np.all(cf[(col > 64) & (col < 95)] > 0.99)  # templates of columns 64-95 (window 32): under the cloud
    assert np.all(cf[col > 111] < 0.01)


def test_a_file_that_is_not_a_mask_is_refused(frames, tmp_path, run):
    temperature = write_frame(tmp_path / "bt.tif", np.linspace(230, 300, SIZE * SIZE).reshape(SIZE, SIZE))
    percent = write_frame(tmp_path / "pct.tif", np.linspace(0, 100, SIZE * SIZE).reshape(SIZE, SIZE))
    for path, values in ((temperature, "230 to 300"), (percent, "0 to 100")):
        code, _, err = run("track", *frames[:2], "--targets", "clouds", "--cloud-mask", path)
        assert code == 1
        one_line_error(err, f"--cloud-mask {path}: values {values} are not a cloud mask", "ACM codes 0-3")
    cols = np.broadcast_to(np.arange(SIZE), (SIZE, SIZE))
    codes = write_frame(tmp_path / "acm.tif", np.where(cols < 64, 3.0, 1.0))  # cloudy | probably clear
    code, out, err = run("track", *frames[:2], "--targets", "clouds", "--cloud-mask", codes)
    assert code == 0, err
    col, cf = _cloud_fraction(out)
    assert np.all(cf[col < 47] == 1.0) and np.all(cf[col > 80] == 0.0)


# --- sounding files ------------------------------------------------------------------------

SOUNDING = (
    "pressure_hPa,temperature_K,height_m\n1000,288.1,111\n{row}\n500,252.0,5574\n250,221.0,10363\n100,206.0,16180\n"
)


@pytest.mark.parametrize("row, cells", [("850,281.6", 2), ("850,281.6,1457,7", 4)])
def test_a_sounding_row_with_the_wrong_cell_count_is_refused(tmp_path, run, row, cells):
    path = tmp_path / "s.csv"
    path.write_text(SOUNDING.format(row=row))
    code, _, err = run("track", *SAMPLE[:2], "--profile", path, "-o", tmp_path / "v.csv")
    assert code == 1
    one_line_error(err, f"--profile {path}: line 3: {cells} column(s), but the header has 3")


def test_sounding_levels_with_an_empty_cell_are_counted_at_v(tmp_path, run):
    path = tmp_path / "s.csv"
    path.write_text(SOUNDING.format(row="850,,1457"))
    later = goes_copy(tmp_path, start="20193002005275")
    code, _, err = run("track", SAMPLE_NC, later, "--profile", path, "-v", "-o", tmp_path / "v.csv")
    assert code == 0, err
    assert f"cloudmotion: --profile {path}: 1 level(s) with an empty cell left out" in err.splitlines()
    code, _, err = run("track", SAMPLE_NC, later, "--profile", path, "-o", tmp_path / "v.csv", "--overwrite")
    assert code == 0 and err == ""


# --- nowcast -------------------------------------------------------------------------------


def test_nowcast_honours_max_gap(frames, tmp_path, run):
    code, _, err = run("nowcast", *frames, "--max-gap", "60", "-o", tmp_path / "n_{lead}.tif")
    assert code == 1
    one_line_error(err, f"{frames[-1]}: 300 s after {frames[-2]}, more than --max-gap 60 s")
    assert os.listdir(tmp_path) == []


def test_pairs_larger_than_the_frames_allow_are_refused(frames, tmp_path, run):
    code, _, err = run("nowcast", *frames, "--pairs", "3", "-o", tmp_path / "n_{lead}.tif")
    assert code == 2
    one_line_error(err, "--pairs 3: needs 4 frames, got 3; give more frames or --pairs 2")
    config = tmp_path / "p.toml"
    config.write_text("pairs = 3\n")
    out = tmp_path / "out"
    code, _, err = run("batch", *frames, "-o", out, "--nowcast", "20min/10min", "--config", config)
    assert code == 2
    one_line_error(err, "--nowcast with pairs = 3: needs 4 frames per sequence, but G17_M1_C13 has 3")
    assert not [f for _, _, fs in os.walk(out) for f in fs if not f.startswith(".")]


def test_a_lead_that_is_not_a_multiple_of_every_is_refused(frames, tmp_path, run):
    code, _, err = run("nowcast", *frames, "--lead", "25min", "--every", "10min", "-o", tmp_path / "n_{lead}.tif")
    assert code == 2
    one_line_error(err, "--lead 25min: not a multiple of --every 10min (the last lead time would be 20min)")
    code, _, err = run("batch", *frames, "-o", tmp_path / "out", "--nowcast", "25min/10min")
    assert code == 2
    one_line_error(err, "--nowcast 25min/10min: --lead 25min: not a multiple of --every 10min")
    assert os.listdir(tmp_path) == []


def test_flow_smoothing_is_bounded_like_sigma(frames, tmp_path, run):
    from cloudmotion.settings.params import SettingError, build_settings, spec_of

    assert spec_of("flow_smoothing").rule(1e9) and spec_of("flow_smoothing").rule(1000.0) is None
    with pytest.raises(SettingError, match="flow_smoothing"):
        build_settings({"flow_smoothing": 1e9})
    code, _, err = run("nowcast", *frames, "--flow-smoothing", "1e9", "-o", tmp_path / "n_{lead}.tif")
    assert code == 2
    one_line_error(err, "--flow-smoothing: must be a finite number > 0 and <= 1000, got 1000000000.0")


# --- one-line errors instead of internal errors --------------------------------------------


def test_batch_nowcast_into_a_file_is_one_line(frames, tmp_path, run):
    out = tmp_path / "out"
    (out / "G17_M1_C13").mkdir(parents=True)
    (out / "G17_M1_C13" / "nowcast").write_text("not a folder")
    code, _, err = run("-q", "batch", *frames, "-o", out, "--nowcast", "20min/10min")
    assert code == 1
    one_line_error(err, f"{out / 'G17_M1_C13' / 'nowcast'}: is a file, not a folder")
    assert "internal error" not in err


def test_a_deeply_nested_cloud_model_is_one_line(frames, tmp_path, run):
    model = tmp_path / "deep.toml"
    model.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = run("track", *frames[:2], "--cloud-model", model)
    assert code == 2
    one_line_error(err, f"--cloud-model {model}: invalid TOML (nested too deeply)")
    code, _, err = run("track", *frames[:2], "--config", model)
    assert code == 2
    one_line_error(err, f"--config {model}: invalid TOML (nested too deeply)")


def test_an_unknown_key_in_a_cloud_model_component_is_refused(frames, tmp_path, run):
    model = tmp_path / "m.toml"
    model.write_text(
        "[[component]]\nweight = 0.5\nmean = [60.0]\nvariance = [30.0]\ncloud = true\ncolour = 'white'\n"
        "[[component]]\nweight = 0.5\nmean = [100.0]\nvariance = [30.0]\ncloud = false\n"
    )
    code, _, err = run("track", *frames[:2], "--cloud-model", model)
    assert code == 2
    one_line_error(err, f"--cloud-model {model}: component 1: unknown key colour")


def test_numba_num_threads_zero_is_one_line(frames):
    import cloudmotion

    package_root = os.path.dirname(os.path.dirname(os.path.abspath(cloudmotion.__file__)))
    env = {**os.environ, "NUMBA_NUM_THREADS": "0", "PYTHONPATH": package_root}
    done = subprocess.run(
        [sys.executable, "-m", "cloudmotion.cli.main", "track", *frames[:2]],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    one_line_error(done.stderr, "NUMBA_NUM_THREADS=0: must be a whole number >= 1")


def test_a_folder_is_named_a_folder(frames, tmp_path, run):
    folder = tmp_path / "v.csv"
    folder.mkdir()
    code, _, err = run("plot", folder, frames[0], "-o", tmp_path / "x.png")
    assert code == 1
    one_line_error(err, f"{folder}: is a folder")
    code, _, err = run("score", tmp_path / "x.csv", folder)  # TRUTH, read first
    assert code == 1
    one_line_error(err, f"{folder}: is a folder")
    code, _, err = run("track", *frames[:2], "--profile", folder)
    assert code == 1
    one_line_error(err, f"--profile {folder}: is a folder")


def test_a_planck_constant_of_zero_is_named(tmp_path, run):
    netCDF4 = pytest.importorskip("netCDF4")
    path = tmp_path / os.path.basename(SAMPLE_NC)
    shutil.copy(SAMPLE_NC, path)
    os.chmod(path, 0o644)
    with netCDF4.Dataset(path, "a") as ds:
        ds.variables["planck_fk1"][...] = 0.0
    code, _, err = run("info", path)
    assert code == 1
    one_line_error(err, f"{path}: calibration constant planck_fk1 = 0 must be > 0")
    tif = write_frame(tmp_path / "g.tif", np.ones((40, 40)))
    import rasterio

    with rasterio.open(tif, "r+") as ds:
        ds.update_tags(planck_fk1="0", planck_fk2="1000", planck_bc1="0.1", planck_bc2="0.99")
    code, _, err = run("info", tif)
    assert code == 1
    one_line_error(err, f"{tif}: calibration constant planck_fk1 = 0 must be > 0")
