"""Batch under cron: quiet re-runs (gaps and lasting failures recorded once),
empty input, new formats, missing listed paths, synth names, batch settings in a config."""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import pytest
from support import t0, write_frame
from test_batch import FAST, manifest, outputs, write_series

from cloudmotion.batch.manifest import LOCK_NAME
from cloudmotion.tools.known_motion import uniform_field, warp


@pytest.fixture(scope="module")
def images(radiance):
    """Frames of real texture moving 1.0 px east and 0.5 px north per frame (as in test_batch)."""
    big = radiance[100:300, 100:300]
    return [
        warp(big, *uniform_field(big.shape, 1.0 * i, -0.5 * i))[50:146, 50:146].astype(np.float32) for i in range(4)
    ]


def test_gap_is_recorded_and_warned_once(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10, 40, 50])
    out = tmp_path / "out"
    args = ("batch", tmp_path / "in", "-o", out, "--max-gap", "20min", *FAST)
    code, _, err = run(*args)
    assert code == 0 and err.count("exceeds --max-gap") == 1
    n = len(manifest(out))
    code, _, err = run(*args)
    assert code == 0 and err == ""  # nothing new: not a word
    assert len(manifest(out)) == n  # "grows with new work only"


def test_lasting_failure_is_not_retried_until_an_input_changes(tmp_path, images, run):
    paths = write_series(tmp_path / "in", images, [0, 10])
    with open(paths[1], "r+b") as fh:
        fh.truncate(300)  # a corrupt frame: fails the same way on every run
    out = tmp_path / "out"
    args = ("batch", tmp_path / "in", "-o", out, *FAST)
    code, _, err = run(*args)
    assert code == 1 and "error" in err
    rec = manifest(out)[-1]
    assert rec["status"] == "failed" and rec["retry"] is False and rec["input_stats"][1][0] == 300
    code, _, err = run(*args)  # cron, 10 minutes later: quiet, status 0, nothing appended
    assert (code, err) == (0, "") and len(manifest(out)) == 1
    code, _, err = run(*args, "-v")
    assert code == 0 and "1 pair(s) or input(s) failed before and were not retried" in err
    code, _, err = run(*args, "--retry-failed")
    assert code == 1 and len(manifest(out)) == 2
    write_frame(paths[1], images[1], time=None)  # the file is fixed: its size and mtime change
    code, _, err = run(*args)
    assert code == 0, err
    assert manifest(out)[-1]["status"] == "ok" and len(outputs(out)) == 1


def test_empty_input_is_a_quiet_period(tmp_path, run, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    out = tmp_path / "out"
    code, stdout, err = run("batch", "--files-from", "-", "-o", out, *FAST)
    assert (code, stdout, err) == (0, "", "")
    assert not out.exists()  # no folder, no lock file
    (tmp_path / "quiet").mkdir()
    code, _, err = run("batch", tmp_path / "quiet", "-o", out, *FAST)
    assert code == 0 and not (out / LOCK_NAME).exists()


def test_new_format_writes_only_the_missing_outputs(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10])
    out = tmp_path / "out"
    assert run("batch", tmp_path / "in", "-o", out, *FAST)[0] == 0
    csv = out / outputs(out)[0]
    before = (os.stat(csv).st_ino, os.stat(csv).st_mtime_ns)
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--format", "csv,geojson", *FAST)
    assert code == 0, err
    assert sorted(os.path.splitext(o)[1] for o in outputs(out)) == [".csv", ".geojson"]
    assert (os.stat(csv).st_ino, os.stat(csv).st_mtime_ns) == before  # the CSV was not rewritten
    assert manifest(out)[-1]["outputs"] == [outputs(out)[1]]


def test_missing_listed_path_fails_only_that_input(tmp_path, images, run, monkeypatch):
    paths = write_series(tmp_path / "in", images, [0, 10])
    gone = str(tmp_path / "in" / "vanished.tif")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([paths[0], gone, paths[1]]) + "\n"))
    out = tmp_path / "out"
    code, _, err = run("batch", "--files-from", "-", "-o", out, *FAST)
    assert code == 1 and "vanished.tif: no such file" in err
    assert len(outputs(out)) == 1  # the pair was tracked all the same
    recs = manifest(out)
    assert [r["status"] for r in recs] == ["failed", "ok"] and recs[0]["inputs"] == [gone]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join([paths[0], gone, paths[1]]) + "\n"))
    code, _, err = run("batch", "--files-from", "-", "-o", out, *FAST)
    assert (code, err) == (0, "")  # still missing: already said


def test_synth_frames_are_batched(tmp_path, run):
    code, _, err = run("synth", tmp_path / "s", "--frames", "3", "--size", "96x96", "-q")
    assert code == 0, err
    code, _, err = run("batch", tmp_path / "s", "-o", tmp_path / "out", *FAST)
    assert code == 0, err
    assert len([o for o in outputs(tmp_path / "out") if o.endswith(".csv")]) == 2


def test_batch_settings_in_a_config(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10, 40])
    cfg = tmp_path / "cron.toml"
    cfg.write_text(
        'workers = 1\nformat = "csv,geojson"\nmax_gap = "20min"\nlock = true\n'
        'template = "{time_a:%H%M}.{ext}"\nwindow = 32\n'
    )
    out = tmp_path / "out"
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--config", cfg, "--no-progress")
    assert code == 0, err
    assert outputs(out) == ["0300.csv", "0300.geojson"] and "exceeds --max-gap 20 min" in err
    cfg.write_text('format = "xls"\n')
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--config", cfg)
    assert code == 2 and f"--config {cfg}: format must be one or more of" in err


def test_track_takes_a_name_pattern(tmp_path, images, run):
    a = write_frame(tmp_path / "201609281445_FINUTM.tif", images[0])
    b = write_frame(tmp_path / "201609281450_FINUTM.tif", images[1])
    code, out, err = run("track", a, b, "--name-pattern", "%Y%m%d%H%M_FINUTM.tif", "--window", "32")
    assert code == 0, err
    row = out.splitlines()[1].split(",")
    assert row[:2] == ["2016-09-28T14:45:00Z", "2016-09-28T14:50:00Z"] and row[10] != ""  # u in m/s
    c = write_frame(tmp_path / "2019.1117.1940.goes-16.rgb.tif", images[0])
    d = write_frame(tmp_path / "2019.1117.1950.goes-16.rgb.tif", images[1])
    code, out, err = run("track", c, d, "--name-pattern", "%Y.%m%d.%H%M.goes-16.rgb.tif", "--window", "32")
    assert code == 0 and out.splitlines()[1].startswith("2019-11-17T19:40:00Z,2019-11-17T19:50:00Z"), err
    code, _, err = run("track", a, d, "--name-pattern", "%Y%m%d%H%M_FINUTM.tif")
    assert code == 1 and "does not match --name-pattern" in err


def test_manifest_records_are_json(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10])
    out = tmp_path / "out"
    run("batch", tmp_path / "in", "-o", out, *FAST)
    with open(out / "manifest.jsonl") as fh:
        assert all(isinstance(json.loads(line), dict) for line in fh)
    assert t0(0).year == 2020
