"""The `cloudmotion track` command: outputs, contract, errors and exit codes."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest
import rasterio
from support import SAMPLE, one_line_error, t0, write_frame

from cloudmotion.formats.geotiff import GEOTIFF_BANDS
from cloudmotion.tools.known_motion import uniform_field, warp

HEADER = (
    "time_a,time_b,row,col,x,y,lon,lat,dx,dy,u,v,speed,direction,corr,peak_ratio,quality,flag,"
    "ee,ee_speed,cloud_fraction,ctt,pressure,height,height_flag,lon_corrected,lat_corrected"
)
"""The contract of docs/design.md, written out by hand: the order never changes."""


@pytest.fixture(scope="module")
def pair_data(radiance):
    a = radiance[100:300, 150:350].copy()
    big = warp(radiance, *uniform_field(radiance.shape, 1.75, -0.5))
    return a, big[100:300, 150:350].copy()


@pytest.fixture
def frames(tmp_path, pair_data):
    a, b = pair_data
    return (write_frame(tmp_path / "a.tif", a, time=t0(0)), write_frame(tmp_path / "b.tif", b, time=t0(10)))


def listing(folder):
    return sorted(os.listdir(folder))


def test_sample_data_to_csv_and_geotiff(tmp_path, run):
    out_csv, out_tif = tmp_path / "v.csv", tmp_path / "v_{pair}.tif"
    code, _out, err = run("track", *SAMPLE, "-o", out_csv, "-o", out_tif)
    assert code == 0, err
    text = out_csv.read_text()
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2 * 900
    assert rows[0]["time_a"] == "2019-10-27T20:00:27.5Z" and rows[0]["time_b"] == "2019-10-27T20:05:27.5Z"
    assert rows[-1]["time_a"] == "2019-10-27T20:05:27.5Z"
    good = [r for r in rows if r["flag"] == "0"]
    assert len(good) > 0.9 * len(rows)
    for r in good[:50]:
        assert all(r[k] != "" for k in ("lon", "lat", "u", "v", "speed", "direction"))
        assert 0 <= float(r["direction"]) < 360 and 0 <= float(r["quality"]) <= 100
    for k in (1, 2):
        with rasterio.open(tmp_path / f"v_{k}.tif") as ds:
            assert ds.count == 12 and set(ds.dtypes) == {"float32"}
            assert ds.descriptions == tuple(GEOTIFF_BANDS)
            assert np.isnan(ds.nodata)
            assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
            assert ds.crs.to_wkt() == rasterio.open(SAMPLE[0]).crs.to_wkt()
            assert (ds.height, ds.width) == (30, 30)
            dx = ds.read(1)
            x0, y0 = ds.xy(0, 0)  # centre of cell (0, 0) is the first vector's origin
    first = rows[900]
    assert x0 == pytest.approx(float(first["x"]), abs=0.01) and y0 == pytest.approx(float(first["y"]), abs=0.01)
    assert dx[0, 0] == pytest.approx(float(first["dx"]), abs=1e-4)
    assert not [f for f in listing(tmp_path) if f.endswith(".part")]


def test_csv_on_stdout_by_default(frames, run):
    code, out, err = run("track", *frames)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == HEADER
    assert len(lines) == 1 + 11 * 11
    dxs = [float(r["dx"]) for r in csv.DictReader(io.StringIO(out)) if r["flag"] == "0"]
    assert np.sqrt(np.mean((np.array(dxs) - 1.75) ** 2)) < 0.05


def test_no_time_leaves_winds_empty_and_warns(tmp_path, pair_data, run):
    a, b = pair_data
    fa = write_frame(tmp_path / "a.tif", a)
    fb = write_frame(tmp_path / "b.tif", b)
    code, out, err = run("track", fa, fb)
    assert code == 0
    assert "no time" in err and "--dt" in err
    r = next(csv.DictReader(io.StringIO(out)))
    assert r["time_a"] == "" and r["u"] == "" and r["speed"] == "" and r["dx"] != "" and r["lon"] != ""
    code, out, err = run("track", fa, fb, "--dt", "600", "-q")
    assert code == 0 and err == ""
    assert next(csv.DictReader(io.StringIO(out)))["speed"] != ""


def test_dt_override_scales_speed(frames, run):
    _, out10, _ = run("track", *frames)
    _, out5, _ = run("track", *frames, "--dt", "300")
    s10 = float(next(csv.DictReader(io.StringIO(out10)))["speed"])
    s5 = float(next(csv.DictReader(io.StringIO(out5)))["speed"])
    assert s5 == pytest.approx(2 * s10, rel=1e-3)


def test_missing_file(tmp_path, frames, run):
    out = tmp_path / "o.csv"
    code, _, err = run("track", frames[0], tmp_path / "nope.tif", "-o", out)
    assert code == 1
    one_line_error(err, "nope.tif", "no such file")
    assert not out.exists()


def test_directory_and_text_file(tmp_path, frames, run):
    code, _, err = run("track", frames[0], tmp_path)
    assert code == 1
    one_line_error(err, str(tmp_path), "directory")
    bad = tmp_path / "bad.tif"
    bad.write_text("not a tiff\n")
    code, _, err = run("track", frames[0], bad)
    assert code == 1
    one_line_error(err, "bad.tif", "cannot read")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path, frames, run):
    os.chmod(frames[1], 0)
    code, _, err = run("track", *frames)
    assert code == 1
    one_line_error(err, "b.tif", "permission")


def test_mismatched_frames(tmp_path, pair_data, run):
    a, b = pair_data
    fa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    small = write_frame(tmp_path / "s.tif", b[:150], time=t0(10))
    code, _, err = run("track", fa, small)
    assert code == 1
    one_line_error(err, "s.tif", "shape")
    other_crs = write_frame(
        tmp_path / "c.tif",
        b,
        crs="EPSG:32618",
        time=t0(10),
        transform=rasterio.Affine(2000, 0, 500000, 0, -2000, 4000000),
    )
    code, _, err = run("track", fa, other_crs)
    assert code == 1
    one_line_error(err, "c.tif", "CRS")
    with rasterio.open(fa) as ds:
        moved = ds.transform @ rasterio.Affine.translation(3, 0)
    shifted = write_frame(tmp_path / "t.tif", b, transform=moved, time=t0(10))
    code, _, err = run("track", fa, shifted)
    assert code == 1
    one_line_error(err, "t.tif", "transform")


def test_frame_without_valid_pixels(tmp_path, pair_data, run):
    a, _ = pair_data
    fa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    empty = write_frame(tmp_path / "e.tif", np.full_like(a, np.nan), time=t0(10))
    out = tmp_path / "o.csv"
    code, _, err = run("track", fa, empty, "-o", out)
    assert code == 1
    one_line_error(err, "e.tif", "no valid pixel")
    assert listing(tmp_path) == ["a.tif", "e.tif"]


def test_image_smaller_than_window(tmp_path, pair_data, run):
    a, b = pair_data
    fa = write_frame(tmp_path / "a.tif", a[:20, :20], time=t0(0))
    fb = write_frame(tmp_path / "b.tif", b[:20, :20], time=t0(10))
    code, _, err = run("track", fa, fb)
    assert code == 1
    one_line_error(err, "a.tif", "smaller than one 32 px window")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--window", "0"], "--window"),
        (["--window", "-8"], "--window"),
        (["--window", "abc"], "--window"),
        (["--step", "0"], "--step"),
        (["--search", "-1"], "--search"),
        (["--sigma", "nan"], "--sigma"),
        (["--subpixel", "cubic"], "--subpixel"),
        (["-o", "v.png"], "-o v.png"),
        (["--config", "nosuchpreset"], "--config nosuchpreset"),
    ],
)
def test_bad_options_exit_2(frames, run, args, needle):
    code, out, err = run("track", *frames, *args)
    assert code == 2
    assert out == ""
    one_line_error(err, needle)


def test_window_larger_than_image_is_reported(frames, run):
    code, _, err = run("track", *frames, "--window", "400")
    assert code == 1
    one_line_error(err, "smaller than one 400 px window")


def test_existing_output_is_refused_then_overwritten(tmp_path, frames, run):
    out = tmp_path / "v.csv"
    out.write_text("precious\n")
    code, _, err = run("track", *frames, "-o", out)
    assert code == 2
    one_line_error(err, "v.csv", "--overwrite")
    assert out.read_text() == "precious\n"
    code, _, err = run("track", *frames, "-o", out, "--overwrite")
    assert code == 0
    assert out.read_text().startswith(HEADER)


def test_several_pairs_need_placeholder_for_geotiff(tmp_path, frames, pair_data, run):
    c = write_frame(tmp_path / "c.tif", pair_data[0], time=t0(20))
    code, _, err = run("track", *frames, c, "-o", tmp_path / "v.tif")
    assert code == 2
    one_line_error(err, "v.tif", "{pair}")
    code, _, err = run("track", *frames, c, "-o", tmp_path / "v_{time_a:%Y%m%dT%H%M%S}.tif")
    assert code == 0, err
    assert {"v_20200104T030000.tif", "v_20200104T031000.tif"} <= set(listing(tmp_path))


def test_missing_output_folder(tmp_path, frames, run):
    code, _, err = run("track", *frames, "-o", tmp_path / "nowhere" / "v.csv")
    assert code == 2
    one_line_error(err, "v.csv", "does not exist")


def test_times_out_of_order(frames, run):
    code, _, err = run("track", frames[1], frames[0])
    assert code == 1
    one_line_error(err, "a.tif", "not after")


def test_failure_mid_write_leaves_no_file(tmp_path, frames, run, monkeypatch):
    out = tmp_path / "v.csv"

    def boom(stream, result):
        stream.write("half a row")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cloudmotion.formats.csv.write_csv_rows", boom)
    code, _, err = run("track", *frames, "-o", out)
    assert code == 1
    one_line_error(err, "v.csv", "No space left")
    assert not out.exists()
    assert not [f for f in listing(tmp_path) if f.endswith(".part")]


def test_traceback_only_with_verbose(tmp_path, frames, run):
    code, _, err = run("track", frames[0], tmp_path / "nope.tif", "-v")
    assert code == 1
    assert "Traceback" in err and "nope.tif" in err.strip().splitlines()[-1]


def test_config_file_and_command_line_precedence(tmp_path, frames, run):
    cfg = tmp_path / "p.toml"
    cfg.write_text("window = 24\nstep = 24\nrefine = false\n")
    code, out, err = run("track", *frames, "--config", cfg)
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 8 * 8  # 24 px windows every 24 px in 200 px
    code, out, err = run("track", *frames, "--config", cfg, "--step", "12")
    assert code == 0, err
    assert len(out.splitlines()) == 1 + 15 * 15
    code, out, err = run("track", *frames, "--config", "fast")
    assert code == 0, err


def test_config_typo_suggests_key(tmp_path, frames, run):
    cfg = tmp_path / "p.toml"
    cfg.write_text("windw = 24\n")
    code, _, err = run("track", *frames, "--config", cfg)
    assert code == 2
    one_line_error(err, "windw", "did you mean 'window'")


def test_goes_netcdf_reads_with_scale_and_time(run, tmp_path):

    from support import SAMPLE_NC

    nc = [SAMPLE_NC]
    from cloudmotion.formats.readers import open_frame, read_frame

    info = open_frame(nc[0])
    assert info.source.endswith(":Rad")
    assert info.time.isoformat() == "2019-10-27T20:00:27.500000+00:00" and info.time_source == "file name"
    assert info.goes == {"satellite": "G17", "sector": "M1", "band": 13, "product": "Rad"}
    f = read_frame(info)
    assert f.data.dtype == np.float32 and 20.0 < np.nanmin(f.data) < np.nanmax(f.data) < 125.0
    with rasterio.open(SAMPLE[0]) as ds:
        np.testing.assert_allclose(f.data, ds.read(1), rtol=1e-6)  # sample frame 0 is this radiance
    assert "+sweep=x" in info.crs_wkt or "sweep" in info.crs_wkt.lower()


def test_help_and_version(run):
    code, out, _ = run("track", "--help")
    assert code == 0 and "--window" in out and "--overwrite" in out
    code, out, _ = run("--version")
    assert code == 0 and "cloudmotion" in out


def test_geotiff_written_atomically_when_track_fails(tmp_path, frames, run, monkeypatch):
    def broken(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rasterio.io.DatasetWriter.write", broken)
    code, _, err = run("track", *frames, "-o", tmp_path / "v.tif")
    assert code == 1
    one_line_error(err, "v.tif")
    assert listing(tmp_path) == ["a.tif", "b.tif"]
