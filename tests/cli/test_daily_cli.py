"""Pipes and CLI conventions: plot and score read stdin, one score --json shape,
-v/-q on the group, one error prefix, missing extras, completion, units and provenance in
every output, plot defaults a forecaster reads at a glance."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys

import pytest
import rasterio
from support import SAMPLE, one_line_error

from cloudmotion import __version__
from cloudmotion.formats.goes_names import describe_goes, is_infrared

PY = [sys.executable, "-c", "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))"]


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    return struct.unpack(">II", head[16:24])


def test_plot_reads_vectors_from_a_pipe(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "q.png"
    track = subprocess.run(
        [*PY, "track", SAMPLE[0], SAMPLE[1], "--window", "32", "--step", "32"], capture_output=True, check=True
    )
    res = subprocess.run(
        [*PY, "plot", "-", SAMPLE[0], "-o", str(out)], input=track.stdout, capture_output=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = subprocess.run(
        [*PY, "plot", "-", SAMPLE[0], "-o", str(tmp_path / "e.png")], input=b"", capture_output=True, check=False
    )
    assert res.returncode == 1 and b"standard input" in res.stderr and not (tmp_path / "e.png").exists()


def test_score_json_has_one_shape_and_reads_stdin(tmp_path, run, monkeypatch):
    code, _, err = run("synth", tmp_path / "s", "--size", "96x96", "--frames", "2", "-q")
    assert code == 0, err
    frames = sorted(str(p) for p in (tmp_path / "s").glob("synth_*_s*.tif"))
    code, csv_text, err = run("track", *frames, "--window", "32")
    assert code == 0, err
    monkeypatch.setattr(sys, "stdin", io.StringIO(csv_text))
    code, out, err = run("score", "-", tmp_path / "s" / "truth.tif", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"vectors", "truth", "pairs"} and doc["vectors"] == "-"
    assert len(doc["pairs"]) == 1 and doc["pairs"][0]["pair"] == 1 and doc["pairs"][0]["rms"] < 0.1


def test_verbosity_on_the_group_and_refused_together(tmp_path, run):
    code, out, err = run("-q", "track", SAMPLE[0], SAMPLE[1], "--window", "32", "--step", "64")
    assert code == 0 and err == "" and out.startswith("time_a,")
    code, _, err = run("-v", "track", SAMPLE[0], SAMPLE[1], "--window", "32", "--step", "64", "-o", tmp_path / "v.csv")
    assert code == 0 and "pair 1:" in err  # the group's -v reaches the command
    code, out, err = run("-q", "track", SAMPLE[0], SAMPLE[1], "-v")
    assert code == 2 and out == ""
    one_line_error(err, "cloudmotion: error: -q and -v: give one or the other")
    code, _, err = run("track", SAMPLE[0], SAMPLE[1], "-vv", "--window", "32", "--step", "64", "-o", tmp_path / "w.csv")
    assert code == 0 and "pair 1:" in err  # -v is a count


def test_one_error_prefix_for_usage_errors(run):
    code, _, err = run("track", SAMPLE[0], SAMPLE[1], "--no-such-option")
    assert code == 2
    one_line_error(err, "cloudmotion: error: No such option", "--no-such-option", "(see cloudmotion track --help)")
    code, _, err = run("track", SAMPLE[0], SAMPLE[1], "--window")  # a missing value names the command's help too
    assert code == 2
    one_line_error(err, "cloudmotion: error:", "'--window' requires an argument", "(see cloudmotion track --help)")
    code, _, err = run("no-such-command")
    assert code == 2 and err.startswith("cloudmotion: error: ")


def test_missing_extra_is_status_2_with_one_form(tmp_path, run, hide_module):
    hide_module("netCDF4")
    code, _, err = run("track", SAMPLE[0], SAMPLE[1], "-o", tmp_path / "v.nc")
    assert code == 2
    one_line_error(
        err,
        "needs the netcdf extra (netCDF4 is not installed)",
        "pip install 'cloudmotion[netcdf]'",
        "pip install '.[netcdf]' in a source checkout",
    )


def test_config_completes_preset_names(tmp_path):
    env = {
        **os.environ,
        "COMP_WORDS": "cloudmotion track --config fa",
        "COMP_CWORD": "3",
        "_CLOUDMOTION_COMPLETE": "bash_complete",
    }
    res = subprocess.run(PY, env=env, capture_output=True, text=True, check=False)
    assert "plain,fast" in res.stdout.splitlines() and "plain,fastmoving" in res.stdout.splitlines()
    assert "file,fa" in res.stdout.splitlines()  # and file names
    env.update(COMP_WORDS="cloudmotion info sam", COMP_CWORD="2")
    assert "file,sam" in subprocess.run(PY, env=env, capture_output=True, text=True, check=False).stdout


def test_outputs_record_units_version_and_settings(tmp_path, run):
    pytest.importorskip("netCDF4")
    tif, gj, nc = tmp_path / "v.tif", tmp_path / "v.geojson", tmp_path / "v.nc"
    code, _, err = run("track", SAMPLE[0], SAMPLE[1], "--window", "32", "--step", "32", "-o", tif, "-o", gj, "-o", nc)
    assert code == 0, err
    with rasterio.open(tif) as ds:
        units = dict(zip(ds.descriptions, ds.units, strict=True))
        tags = ds.tags()
    assert units["dx"] == "px" and units["speed"] == "m/s" and units["direction"] == "degree"
    assert units["quality"] == "1" and units["flag"] == "1"
    assert tags["CLOUDMOTION_VERSION"] == __version__ and json.loads(tags["CLOUDMOTION_SETTINGS"])["window"] == 32
    props = json.loads(gj.read_text())["properties"]
    assert props["software"] == "cloudmotion" and props["version"] == __version__
    assert props["settings"]["step"] == 32 and props["time_a"] == "2019-10-27T20:00:27.5Z"
    import netCDF4

    with netCDF4.Dataset(nc) as ds:
        assert ds.cloudmotion_version == __version__ and json.loads(ds.cloudmotion_settings)["window"] == 32


def test_plot_defaults_for_infrared_and_the_frame_aspect(tmp_path, run):
    pytest.importorskip("matplotlib")
    assert is_infrared({"band": 13}) and is_infrared({"band": 8}) and not is_infrared({"band": 2})
    assert not is_infrared(None)
    assert (
        describe_goes({"satellite": "G17", "sector": "M1", "band": 13}) == "GOES-17 ABI band 13 (10.3 µm), Mesoscale-1"
    )
    code, _, err = run("synth", tmp_path / "s", "--size", "120x360", "--frames", "2", "-q")
    assert code == 0, err
    frames = sorted(str(p) for p in (tmp_path / "s").glob("synth_*_s*.tif"))
    vec = tmp_path / "v.csv"
    assert run("track", *frames, "--window", "32", "-o", vec)[0] == 0
    code, _, err = run("plot", vec, frames[0], "-o", tmp_path / "wide.png")
    assert code == 0, err
    w, h = png_size(tmp_path / "wide.png")
    assert w == 800 and 200 < h < 400  # the figure follows the 1:3 frame, not 8 x 8 inches
    code, _, err = run("plot", vec, frames[0], "-o", tmp_path / "n.png", "--no-invert", "--size", "400x300px")
    assert code == 0 and png_size(tmp_path / "n.png") == (400, 300)


def test_help_texts(run):
    for cmd, needles in (
        ("synth", ["--frames", "Number of frames", "--seed", "Random seed", "--size", "Rows and"]),
        ("plot", ["--style", "wind barbs", "--dpi", "Dots per inch", "--no-invert"]),
        ("track", ["on top of the file's own mask", ".geojson, .nc"]),
        ("batch", ["geojson", "--retry-failed", "--workers", "--lock"]),
    ):
        code, out, _ = run(cmd, "--help")
        text = " ".join(out.split())
        assert code == 0 and all(n in text for n in needles), (cmd, [n for n in needles if n not in text])
