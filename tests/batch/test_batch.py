"""`cloudmotion batch`: discovery, grouping, pairing, resumability, manifest, lock, signals,
parallel and Dask runs. Frames are small crops of real GOES radiance moved by a known shift."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import numpy as np
import pytest
import rasterio
from support import ROOT, one_line_error, t0, write_frame

from cloudmotion.batch import plan as archive
from cloudmotion.batch.manifest import LOCK_NAME, MANIFEST_NAME
from cloudmotion.tools.known_motion import uniform_field, warp

FAST = ("--window", "32", "--no-progress")


def goes_name(t, sat="G16", sector="C", band=13, ext="tif"):
    """A GOES ABI L1b file name for scan start ``t``."""
    s = f"{t:%Y%j%H%M%S}{t.microsecond // 100000}"
    return f"OR_ABI-L1b-Rad{sector}-M6C{band:02d}_{sat}_s{s}_e{s}_c{s}.{ext}"


@pytest.fixture(scope="module")
def images(radiance):
    """Twelve 96 x 96 frames of real texture moving 1.0 px east and 0.5 px north per frame."""
    big = radiance[100:300, 100:300]
    return [
        warp(big, *uniform_field(big.shape, 1.0 * i, -0.5 * i))[50:146, 50:146].astype(np.float32) for i in range(12)
    ]


@pytest.fixture(scope="module")
def big_images(radiance):
    """Frames large enough for a run to last a couple of seconds (signal tests)."""
    big = radiance[50:450, 50:450]
    return [
        warp(big, *uniform_field(big.shape, 1.0 * i, -0.5 * i))[60:316, 60:316].astype(np.float32) for i in range(4)
    ]


def write_series(folder, images, minutes, **name):
    """Write frames with GOES names at ``t0(minutes[i])``; return their paths in time order."""
    os.makedirs(folder, exist_ok=True)
    return [
        write_frame(os.path.join(folder, goes_name(t0(m), **name)), images[i % len(images)])
        for i, m in enumerate(minutes)
    ]


def manifest(out):
    with open(os.path.join(out, MANIFEST_NAME)) as fh:
        return [json.loads(line) for line in fh]


def outputs(out):
    """Output files under ``out`` (relative), without the manifest and the lock file."""
    found = []
    for root, _dirs, files in os.walk(out):
        found += [os.path.relpath(os.path.join(root, f), out) for f in files]
    return sorted(f for f in found if f not in (MANIFEST_NAME, LOCK_NAME))


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def assert_valid(out, names):
    """Every output is complete: CSVs parse with one row per vector, GeoTIFFs read whole."""
    for name in names:
        path = os.path.join(out, name)
        if name.endswith(".csv"):
            rows = read_csv(path)
            assert rows and rows[-1]["flag"] != "", path
            assert len(rows) == len({(r["row"], r["col"]) for r in rows}), path
        else:
            with rasterio.open(path) as ds:
                assert np.isfinite(ds.read(1)).any(), path


def test_groups_sorts_and_pairs_goes_sequences(tmp_path, images, run):
    src = tmp_path / "archive"
    write_series(src / "b" / "later", images[2:4], [20, 30])  # same sequence, another folder
    write_series(src / "a", images[:2], [0, 10])
    write_series(src / "c14", images[:2], [0, 10], band=14)  # another band: its own sequence
    short = src / "m1"  # the sample frames' short names: G17_M1_C13_s...
    os.makedirs(short)
    for i, m in enumerate([5, 0, 10]):
        write_frame(short / f"G17_M1_C13_s{t0(m):%Y%j%H%M%S}0.tif", images[[1, 0, 2][i]])
    (src / "README.txt").write_text("not a frame\n")
    write_frame(src / "other.tif", images[0])
    out = tmp_path / "out"
    code, stdout, err = run("batch", src, "-o", out, *FAST)
    assert code == 0, err
    assert stdout == "" and err == ""
    assert outputs(out) == [
        "G16_C_C13/20200104T030000_031000.csv",
        "G16_C_C13/20200104T031000_032000.csv",
        "G16_C_C13/20200104T032000_033000.csv",
        "G16_C_C14/20200104T030000_031000.csv",
        "G17_M1_C13/20200104T030000_030500.csv",
        "G17_M1_C13/20200104T030500_031000.csv",
    ]
    rows = read_csv(out / "G16_C_C13/20200104T031000_032000.csv")
    assert rows[0]["time_a"] == "2020-01-04T03:10:00Z" and rows[0]["time_b"] == "2020-01-04T03:20:00Z"
    good = [r for r in rows if r["flag"] == "0"]
    assert len(good) > 0.8 * len(rows)
    assert np.median([float(r["dx"]) for r in good]) == pytest.approx(1.0, abs=0.05)
    assert np.median([float(r["dy"]) for r in good]) == pytest.approx(-0.5, abs=0.05)
    assert all(r["speed"] != "" for r in good)  # dt from the names

    recs = manifest(out)
    assert [(r["sequence"], r["time_a"][11:16]) for r in recs] == [
        ("G16_C_C13", "03:00"),
        ("G16_C_C13", "03:10"),
        ("G16_C_C13", "03:20"),
        ("G16_C_C14", "03:00"),
        ("G17_M1_C13", "03:00"),
        ("G17_M1_C13", "03:05"),
    ]
    rec = recs[1]
    assert set(rec) == {
        "run",
        "sequence",
        "time_a",
        "time_b",
        "inputs",
        "outputs",
        "status",
        "vectors",
        "good",
        "good_fraction",
        "duration",
        "error",
        "settings",
    }
    assert rec["status"] == "ok" and rec["error"] is None
    assert rec["inputs"] == [str(src / "a" / goes_name(t0(10))), str(src / "b" / "later" / goes_name(t0(20)))]
    assert rec["outputs"] == ["G16_C_C13/20200104T031000_032000.csv"]
    assert rec["vectors"] == len(rows) and rec["good"] == len(good)
    assert rec["good_fraction"] == pytest.approx(len(good) / len(rows), abs=1e-4)
    assert isinstance(rec["duration"], float) and rec["duration"] >= 0
    assert len({r["run"] for r in recs}) == 1


def test_name_pattern_groups_other_naming_schemes(tmp_path, images, run):
    src = tmp_path / "radar"
    os.makedirs(src)
    for i, m in enumerate([0, 5, 10]):
        write_frame(src / f"{t0(m):%Y%m%d%H%M}_radar.tif", images[i])
        for site in ("north", "south"):
            write_frame(src / f"{site}_{t0(m):%Y%m%d%H%M}.tif", images[i])
    out = tmp_path / "out"
    code, _, err = run("batch", src / "*_radar.tif", "-o", out, "--name-pattern", "%Y%m%d%H%M_radar.tif", *FAST)
    assert code == 0, err
    assert outputs(out) == ["radar/20200104T030000_030500.csv", "radar/20200104T030500_031000.csv"]
    row = read_csv(out / "radar/20200104T030000_030500.csv")[0]
    assert row["time_a"] == "2020-01-04T03:00:00Z" and row["speed"] != ""  # time and dt from the name

    out2 = tmp_path / "out2"
    code, _, err = run("batch", src, "-o", out2, "--name-pattern", "*_%Y%m%d%H%M.tif", *FAST)
    assert code == 0, err
    assert [o.split("/")[0] for o in outputs(out2)] == ["north", "north", "south", "south"]


def test_max_gap_skips_with_a_warning(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10, 40, 50])
    out = tmp_path / "out"
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--max-gap", "20min", *FAST)
    assert code == 0, err
    assert "warning" in err and "gap of 30 min exceeds --max-gap 20 min" in err
    assert outputs(out) == ["G16_C_C13/20200104T030000_031000.csv", "G16_C_C13/20200104T034000_035000.csv"]
    skipped = [r for r in manifest(out) if r["status"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["time_a"] == "2020-01-04T03:10:00Z"
    assert "--max-gap" in skipped[0]["error"] and skipped[0]["outputs"] == []
    code, _, err = run("batch", tmp_path / "in", "-o", tmp_path / "o2", "--max-gap", "1800", *FAST)
    assert code == 0 and "gap" not in err and len(outputs(tmp_path / "o2")) == 3


def test_files_from_stdin_and_file(tmp_path, images, run, monkeypatch):
    paths = write_series(tmp_path / "in", images, [0, 10, 20, 30, 40])
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(paths[:3]) + "\n\n"))
    out = tmp_path / "out"
    code, _, err = run("batch", "--files-from", "-", "-o", out, *FAST)
    assert code == 0, err
    assert outputs(out) == ["G16_C_C13/20200104T030000_031000.csv", "G16_C_C13/20200104T031000_032000.csv"]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(paths[2:]) + "\n")
    code, _, err = run("batch", "--files-from", listing, "-o", out, *FAST)
    assert code == 0, err
    assert len(outputs(out)) == 4


def test_rerun_skips_done_pairs_and_overwrite_redoes_them(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10, 20])
    out = tmp_path / "out"
    args = ("batch", tmp_path / "in", "-o", out, "--format", "csv,tif", *FAST)
    assert run(*args)[0] == 0
    names = outputs(out)
    assert len(names) == 4
    before = {n: os.stat(out / n).st_ino for n in names}
    code, _, err = run(*args, "-v")
    assert code == 0
    assert "0 pair(s) ok" in err and "2 already done" in err
    assert {n: os.stat(out / n).st_ino for n in names} == before  # untouched
    assert len(manifest(out)) == 2

    os.unlink(out / "G16_C_C13/20200104T031000_032000.tif")  # one format missing: the pair is redone
    write_series(tmp_path / "in", images[3:], [30])  # a new frame: one new pair
    assert run(*args)[0] == 0
    assert [r["time_a"][11:16] for r in manifest(out)[2:]] == ["03:10", "03:20"]
    assert os.stat(out / names[0]).st_ino == before[names[0]]

    written = {n: os.stat(out / n).st_mtime_ns for n in names}
    assert run(*args, "--overwrite")[0] == 0
    assert len(manifest(out)) == 7
    assert all(os.stat(out / n).st_mtime_ns != written[n] for n in names)  # rewritten (inodes may be reused)
    assert_valid(out, outputs(out))


@pytest.mark.parametrize("triplets", [False, True])
def test_corrupt_frame_fails_its_pairs_only(tmp_path, images, run, triplets):
    paths = write_series(tmp_path / "in", images, [0, 10, 20, 30, 40])
    with open(paths[2], "w") as fh:
        fh.write("not a tiff\n")
    out = tmp_path / "out"
    code, _, err = run("batch", tmp_path / "in", "-o", out, *FAST, *(["--triplets"] if triplets else []))
    assert code == 1
    errors = [ln for ln in err.splitlines() if ln.startswith("cloudmotion: error:")]
    assert len(errors) == 2 and all(os.path.basename(paths[2]) in e and "cannot read" in e for e in errors)
    assert "2 failed" in err and "Traceback" not in err
    status = {r["time_a"][11:16]: r["status"] for r in manifest(out)}
    assert status == {"03:00": "ok", "03:10": "failed", "03:20": "failed", "03:30": "ok"}
    failed = [r for r in manifest(out) if r["status"] == "failed"]
    assert all("cannot read" in r["error"] and r["vectors"] is None for r in failed)
    assert outputs(out) == ["G16_C_C13/20200104T030000_031000.csv", "G16_C_C13/20200104T033000_034000.csv"]


def test_triplets_track_three_frames_as_a_sequence(tmp_path, images, run):
    paths = write_series(tmp_path / "in", images, [0, 10, 20, 30, 40, 50])
    out = tmp_path / "out"
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--triplets", *FAST)
    assert code == 0, err
    names = outputs(out)
    assert len(names) == 5 and [r["status"] for r in manifest(out)] == ["ok"] * 5
    # the first triplet's pairs are exactly what `track A B C` writes
    code, _, err = run("track", *paths[:3], "-o", tmp_path / "t_{pair}.csv", "--window", "32")
    assert code == 0, err
    for k in (1, 2):
        assert (tmp_path / f"t_{k}.csv").read_bytes() == (out / names[k - 1]).read_bytes()


def test_lock_held_exits_at_once(tmp_path, images, run):
    write_series(tmp_path / "in", images, [0, 10])
    out = tmp_path / "out"
    os.makedirs(out)
    with open(out / LOCK_NAME, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        start = time.monotonic()
        code, _, err = run("batch", tmp_path / "in", "-o", out, "--lock", *FAST)
        assert time.monotonic() - start < 5
        assert code == 1
        one_line_error(err, ".cloudmotion.lock", "locked by another cloudmotion batch run")
        assert outputs(out) == [] and not (out / MANIFEST_NAME).exists()
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--lock", *FAST)
    assert code == 0, err
    assert len(outputs(out)) == 1


def _start(args, stdin_text=None):
    env = {**os.environ, "PYTHONPATH": ROOT}
    return subprocess.Popen(
        [sys.executable, "-m", "cloudmotion.cli.main", *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        cwd=ROOT,
    )


def _wait_for_outputs(proc, out, n, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if len([f for f in outputs(out) if not f.endswith(".part")]) >= n:
            return
        time.sleep(0.005)
    raise AssertionError(f"no {n} outputs in time: {proc.poll()} {proc.stderr.read() if proc.poll() else ''}")


@pytest.fixture
def long_series(tmp_path, big_images):
    """Twenty-five 256 x 256 frames: a run of a few seconds."""
    return write_series(tmp_path / "in", big_images, [5 * i for i in range(25)])


def test_sigkill_then_rerun_completes_cleanly(tmp_path, long_series, run):
    out = tmp_path / "out"
    args = ("batch", "--files-from", "-", "-o", out, "--format", "csv,tif", "--window", "32", "--lock")
    proc = _start(args)
    proc.stdin.write("\n".join(long_series) + "\n")
    proc.stdin.close()
    _wait_for_outputs(proc, out, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    done = [d for d in outputs(out) if not d.endswith(".part")]
    assert len(done) < 2 * 24  # killed mid-run
    assert_valid(out, done)
    complete = {d[10:25] for d in done if d.endswith(".csv") and d[:-3] + "tif" in done}
    stale = out / "G16_C_C13" / ".20200104T030000_030500.csv.0123456789ab.part"  # as if killed mid-write
    stale.write_text("time_a,ti")
    killed = len(manifest(out))  # whole lines only; the last pair written may not be recorded
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--format", "csv,tif", "--window", "32", "--lock")
    assert code == 0, err
    names = outputs(out)
    assert len(names) == 2 * 24 and not [n for n in names if n.endswith(".part") or "/." in n]
    assert_valid(out, names)
    redone = {f"{datetime.fromisoformat(r['time_a']):%Y%m%dT%H%M%S}" for r in manifest(out)[killed:]}
    assert redone == {f"{t0(5 * i):%Y%m%dT%H%M%S}" for i in range(24)} - complete


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_cleanly(tmp_path, long_series, workers):
    out = tmp_path / "out"
    proc = _start(("batch", tmp_path / "in", "-o", out, "--format", "csv,tif", "--window", "32", "--workers", workers))
    _wait_for_outputs(proc, out, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "cloudmotion: terminated" and "Traceback" not in err
    names = outputs(out)
    assert len(names) < 2 * 24
    assert not [n for n in names if n.endswith(".part")]
    assert_valid(out, names)
    assert all(r["status"] == "ok" for r in manifest(out))  # whole lines only


def _tree(folder):
    return {n: (folder / n).read_bytes() for n in outputs(folder)}


def test_workers_give_identical_outputs(tmp_path, images, run):
    write_series(tmp_path / "in", images, [10 * i for i in range(8)])
    write_series(tmp_path / "in", images, [10 * i for i in range(4)], band=14)
    args = ("batch", tmp_path / "in", "--format", "csv,tif", *FAST)
    assert run(*args, "-o", tmp_path / "serial")[0] == 0
    code, _, err = run(*args, "-o", tmp_path / "par", "--workers", "2")
    assert code == 0, err
    serial = _tree(tmp_path / "serial")
    assert len(serial) == 2 * (7 + 3)
    assert _tree(tmp_path / "par") == serial
    assert sorted(r["time_a"] for r in manifest(tmp_path / "par")) == sorted(
        r["time_a"] for r in manifest(tmp_path / "serial")
    )


def test_dask_cluster_gives_identical_outputs(tmp_path, images, run):
    distributed = pytest.importorskip("distributed")
    write_series(tmp_path / "in", images, [10 * i for i in range(6)])
    args = ("batch", tmp_path / "in", "--format", "csv,tif", *FAST)
    assert run(*args, "-o", tmp_path / "serial")[0] == 0
    with distributed.LocalCluster(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
    ) as cluster:
        code, _, err = run(*args, "-o", tmp_path / "dask", "--scheduler", cluster.scheduler_address)
    assert code == 0, err
    assert _tree(tmp_path / "dask") == _tree(tmp_path / "serial")
    assert [r["status"] for r in manifest(tmp_path / "dask")] == ["ok"] * 5


def test_missing_dask_extra_is_one_clear_line(tmp_path, images, run, monkeypatch):
    write_series(tmp_path / "in", images, [0, 10])
    monkeypatch.setitem(sys.modules, "distributed", None)
    code, _, err = run("batch", tmp_path / "in", "-o", tmp_path / "out", "--scheduler", "local:2", *FAST)
    assert code == 2
    one_line_error(err, "--scheduler", "pip install 'cloudmotion[dask]'")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--format", "png"], "--format: must be one or more of csv"),
        (["--format", "csv,csv"], "--format csv,csv"),
        (["--max-gap", "soon"], "--max-gap: must be a duration"),
        (["--max-gap", "0"], "--max-gap: must be a finite number > 0"),
        (["--name-pattern", "%Y%m%d%Q.tif"], "--name-pattern"),
        (["--name-pattern", "radar_%H%M.tif"], "needs a date"),
        (["--template", "{nope}.{ext}"], "--template"),
        (["--template", "../{time_a:%H%M}.{ext}"], "inside the output folder"),
        (["--template", "{sequence}.{ext}"], "two pairs write"),
        (["--format", "csv,tif", "--template", "{time_a:%H%M%S}.csv"], "same name"),
        (["--workers", "2", "--scheduler", "local:2"], "--workers"),
        (["--workers", "0"], "--workers"),
        (["--window", "0"], "--window"),
    ],
)
def test_bad_options_exit_2(tmp_path, images, run, args, needle):
    write_series(tmp_path / "in", images, [0, 10, 20])
    code, out, err = run("batch", tmp_path / "in", "-o", tmp_path / "out", *args)
    assert code == 2
    assert out == ""
    one_line_error(err, needle)
    assert not (tmp_path / "out").exists() or outputs(tmp_path / "out") == []


def test_input_errors(tmp_path, images, run):
    code, _, err = run("batch", "-o", tmp_path / "out")
    assert code == 2
    one_line_error(err, "INPUT")
    code, _, err = run("batch", tmp_path / "nope", "-o", tmp_path / "out")
    assert code == 1
    one_line_error(err, "nope", "no such file or folder")
    (tmp_path / "empty").mkdir()
    write_frame(tmp_path / "empty" / "frame.tif", images[0])
    code, _, err = run("batch", tmp_path / "empty", "-o", tmp_path / "out")
    assert code == 1
    one_line_error(err, "no frames found", "--name-pattern")
    code, _, err = run("batch", "--files-from", tmp_path / "missing.txt", "-o", tmp_path / "out")
    assert code == 2
    one_line_error(err, "--files-from", "missing.txt")


def test_planning_units():
    t = [t0(10 * i) for i in range(6)]
    assert (
        archive.parse_duration("20min") == 1200
        and archive.parse_duration("1.5h") == 5400
        and archive.parse_duration("90") == 90
    )
    assert archive._task_spans(6, True) == [(0, 3, (0, 1)), (2, 5, (0, 1)), (3, 6, (1,))]
    assert archive._task_spans(5, True) == [(0, 3, (0, 1)), (2, 5, (0, 1))]
    assert archive._task_spans(2, True) == [(0, 2, (0,))]
    assert archive._task_spans(3, False) == [(0, 2, (0,)), (1, 3, (0,))]
    p = archive.compile_name_pattern("%Y%j_%H%M%S%f.tif")
    ref = p.match("/x/2020004_0301005.tif")
    assert ref.sequence == "frames" and ref.time == t[0] + timedelta(minutes=1, seconds=0.5)
    assert p.match("2020004_0301005.tiff") is None
    assert archive.goes_identity(goes_name(t[0], sat="G18", sector="M2", band=7)).sequence == "G18_M2_C07"
    frames = [archive.FrameRef(f"/f{i}", "s", ti) for i, ti in enumerate(t)]
    plan = archive.plan_batch({"s": frames[:2] + frames[4:]}, outdir="/nonexistent", max_gap=1200.0)
    assert plan.npairs == 2 and len(plan.skipped) == 1 and plan.done == 0
