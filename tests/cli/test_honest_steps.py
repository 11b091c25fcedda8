"""A requested step runs, or the command says why: netCDF4 is a core dependency, heights need
brightness temperature (and missing ones are counted), every output has the format its name
says, untimed frames write GeoTIFFs, and plot without FRAME is a usage error."""

from __future__ import annotations

import csv
import io
import os
import tomllib

import numpy as np
import rasterio
from support import ROOT, SAMPLE, SAMPLE_NC, goes_copy, one_line_error, t0, write_frame

from cloudmotion.tools.known_motion import warp

SHIFT = (1.5, -0.5)  # dx, dy of the moving frames, px per frame


def moving_frames(folder, radiance, *, n=3, size=96, timed=True, names=None, shift=SHIFT, **kw):
    """``n`` frames cut from the real radiance, each moved by ``shift`` px from the last, with
    0.05 noise; GOES fixed-grid CRS, and 5 min apart when ``timed``."""
    os.makedirs(folder, exist_ok=True)
    base = radiance[100 : 100 + size, 150 : 150 + size]
    rng = np.random.default_rng(1)
    paths = []
    for k in range(n):
        img = warp(base, np.full(base.shape, shift[0] * k), np.full(base.shape, shift[1] * k))
        img = img + rng.normal(0.0, 0.05, img.shape)
        name = names[k] if names else f"f{k}.tif"
        paths.append(write_frame(os.path.join(folder, name), img, time=t0(5 * k) if timed else None, **kw))
    return paths


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


# --- netCDF4 -------------------------------------------------------------------------------


def test_netcdf4_is_a_core_dependency_and_the_extra_stays():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    assert any(d.replace(" ", "").startswith("netCDF4>=") for d in project["dependencies"])
    assert project["optional-dependencies"]["netcdf"] == []  # old install lines keep working


def test_calibrate_without_netcdf4_blames_the_library_not_the_file(tmp_path, run, hide_module):
    later = goes_copy(tmp_path, start="20193002005275")
    hide_module("netCDF4")
    code, _, err = run("track", SAMPLE_NC, later, "--calibrate", "bt", "-o", tmp_path / "v.csv")
    assert code == 2
    line = one_line_error(err, "--calibrate bt", "calibration constants not read", "netCDF4", "not installed")
    assert "has no planck" not in line
    assert not (tmp_path / "v.csv").exists()


# --- heights need brightness temperature -----------------------------------------------------


def test_parallax_on_radiance_frames_stops_naming_the_quantity(tmp_path, run):
    code, _, err = run("track", *SAMPLE[:2], "--parallax", "-o", tmp_path / "v.csv")
    assert code == 1
    one_line_error(
        err,
        f"--parallax: {SAMPLE[0]} holds values of unknown quantity (as stored), not brightness temperature",
        "--calibrate bt on a GOES ABI L1b netCDF",
    )
    later = goes_copy(tmp_path, start="20193002005275")
    code, _, err = run("track", SAMPLE_NC, later, "--calibrate", "radiance", "--parallax", "-o", tmp_path / "v.csv")
    assert code == 1
    one_line_error(err, f"--parallax: {SAMPLE_NC} holds radiance, not brightness temperature")
    code, _, err = run("track", *SAMPLE[:2], "--profile", "tropical", "-o", tmp_path / "v.csv")
    assert code == 1
    one_line_error(err, "--profile tropical:", "not brightness temperature")
    assert not (tmp_path / "v.csv").exists()


def test_vectors_without_a_height_are_counted_at_v(tmp_path, run):
    later = goes_copy(tmp_path, start="20193002005275")
    code, out, err = run("track", SAMPLE_NC, later, "--parallax", "-v")
    assert code == 0, err
    rows = _csv(out)
    ctt = np.array([float(r["ctt"]) if r["ctt"] else np.nan for r in rows])
    none = np.array([r["height"] == "" for r in rows])
    clear = none & (ctt > 273.0)
    assert 0 < none.sum() < len(rows)  # the real scene: cloud and clear sky
    pair_line = next(ln for ln in err.splitlines() if ln.startswith("cloudmotion: pair 1:"))
    assert f", {none.sum()} without a height ({clear.sum()} clear sky: ctt above 273 K" in pair_line
    code, out, err = run("track", SAMPLE_NC, later, "--parallax")
    assert code == 0 and err == ""  # not a warning: only with -v


# --- every output has the format its name says ---------------------------------------------


def test_nowcast_refuses_a_name_that_is_not_a_geotiff(tmp_path, run):
    for name in ("n_{lead}.nc", "n_{lead}.csv", "n_{lead}.png"):
        code, _, err = run("nowcast", *SAMPLE, "--lead", "20min", "-o", tmp_path / name)
        assert code == 2, name
        one_line_error(err, f"-o {tmp_path / name}: a nowcast is a GeoTIFF; use .tif or .tiff")
    code, _, err = run(
        "nowcast", *SAMPLE, "--lead", "20min", "-o", tmp_path / "n_{lead}.tif", "--flow", tmp_path / "f.nc"
    )
    assert code == 2
    one_line_error(err, "--flow", "use .tif or .tiff")
    assert os.listdir(tmp_path) == []


def test_every_command_refuses_a_suffix_it_cannot_write(tmp_path, run):
    code, _, err = run("track", *SAMPLE[:2], "-o", tmp_path / "v.xyz")
    assert code == 2
    one_line_error(err, "v.xyz: unknown output format; use .csv, .tif, .tiff, .geojson, .nc or .dmw.nc")
    code, _, err = run("batch", *SAMPLE, "-o", tmp_path / "out", "--format", "csv,xyz")
    assert code == 2
    one_line_error(err, "--format: must be one or more of csv, dmw.nc, geojson, nc, tif, tiff")
    code, _, err = run("plot", tmp_path / "v.csv", SAMPLE[0], "-o", tmp_path / "x.jpg")
    assert code == 2
    one_line_error(err, "x.jpg: unknown picture format; use .png, .svg or .pdf")
    assert os.listdir(tmp_path) == []


def test_untimed_frames_write_a_geotiff(tmp_path, run, radiance):
    for kind, crs in (("radar", "EPSG:3857"), ("piv", None)):  # georeferenced or not, no time either way
        frames = moving_frames(tmp_path / kind, radiance, n=2, timed=False, crs=crs)
        out = tmp_path / f"{kind}.tif"
        code, _, err = run("track", *frames, "--dt", "300", "-o", out)
        assert code == 0, err
        with rasterio.open(out) as ds:
            tags = ds.tags()
            assert "TIME_A" not in tags and tags["WINDOW"] == "32"
            names = list(ds.descriptions)
            dx, dy, flag = (ds.read(names.index(k) + 1) for k in ("dx", "dy", "flag"))
        good = flag == 0
        assert good.sum() >= 9
        assert np.abs(dx[good] - SHIFT[0]).max() < 0.05 and np.abs(dy[good] - SHIFT[1]).max() < 0.05
        code, _, err = run("plot", out, frames[0], "-o", tmp_path / f"{kind}.png")  # and it reads back
        assert code == 0, err
        assert (tmp_path / f"{kind}.png").stat().st_size > 1000


def test_plot_without_frame_is_a_usage_error(tmp_path, run):
    vectors = tmp_path / "v.csv"
    vectors.write_text("time_a,time_b,row,col\n")
    for given in (vectors, "-"):
        code, _, err = run("plot", given, "-o", tmp_path / "x.png")
        assert code == 2
        one_line_error(err, f"{given}: vectors are drawn over their frame; give FRAME too")
    assert not (tmp_path / "x.png").exists()
