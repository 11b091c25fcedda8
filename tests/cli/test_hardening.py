"""A catalogue of bad inputs: each ends in one line naming the file or option, exit 1 or 2,
no traceback, and no output created or changed."""

from __future__ import annotations

import errno
import os

import cv2
import numpy as np
import pytest
import rasterio
from support import SAMPLE, SAMPLE_NC, t0, write_frame

EXISTING = "precious,contents\n"


@pytest.fixture
def good(tmp_path, radiance):
    """Two valid frames 10 minutes apart."""
    return (
        write_frame(tmp_path / "a.tif", radiance[:128, :128], time=t0(0)),
        write_frame(tmp_path / "b.tif", radiance[2:130, 1:129], time=t0(10)),
    )


def check_refused(run, tmp_path, args, code, *needles):
    """Run with -o to a fresh path and to an existing file; both must stay as they were."""
    fresh = tmp_path / "out" / "fresh.csv"
    fresh.parent.mkdir(exist_ok=True)
    old = tmp_path / "out" / "old.tif"
    old.write_text(EXISTING)
    before = sorted(os.listdir(fresh.parent))
    got, out, err = run("track", *args, "-o", fresh, "-o", old, "--overwrite")
    assert got == code, err
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1, err
    assert "Traceback" not in err and out == ""
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not fresh.exists()
    assert old.read_text() == EXISTING
    assert sorted(os.listdir(fresh.parent)) == before


def frame_case(tmp_path, kind):
    """Write one bad frame of the given kind; return its path."""
    p = tmp_path / f"bad_{kind}.tif"
    rng = np.random.default_rng(0)
    if kind == "empty":
        p.write_bytes(b"")
    elif kind == "text":
        p.write_text("this is not a GeoTIFF\n" * 10)
    elif kind == "jpeg":
        _ok, buf = cv2.imencode(".jpg", (rng.random((64, 64)) * 255).astype(np.uint8))
        p.write_bytes(buf.tobytes())
    elif kind == "truncated":
        data = open(SAMPLE[1], "rb").read()  # noqa: SIM115 - read once
        p.write_bytes(data[: len(data) // 3])
    elif kind == "all-nodata":
        write_frame(p, np.full((128, 128), -999.0), nodata=-999.0, time=t0(10))
    elif kind == "one-pixel-valid":
        a = np.full((128, 128), np.nan)
        a[5, 5] = 1.0
        write_frame(p, a, time=t0(10))
    elif kind == "constant":
        write_frame(p, np.full((128, 128), 42.0), time=t0(10))
    elif kind == "all-nan":
        write_frame(p, np.full((128, 128), np.nan), time=t0(10))
    elif kind == "inf":
        a = np.where(rng.random((128, 128)) < 0.5, np.inf, -np.inf)
        write_frame(p, a, time=t0(10))
    elif kind == "uint16-max":
        write_frame(p, np.full((128, 128), 65535), nodata=None, dtype="uint16", time=t0(10))
    elif kind == "1x1":
        write_frame(p, np.ones((1, 1)), time=t0(10))
    elif kind == "small":
        write_frame(p, rng.random((20, 20)), time=t0(10))
    elif kind == "complex":
        write_frame(p, rng.random((128, 128)) + 1j * rng.random((128, 128)), dtype="complex64", time=t0(10))
    return str(p)


@pytest.mark.parametrize(
    ("kind", "code", "needle"),
    [
        ("empty", 1, "empty file"),
        ("text", 1, "cannot read"),
        ("jpeg", 1, "not a GeoTIFF"),
        ("truncated", 1, ""),
        ("all-nodata", 1, "no valid pixel"),
        ("one-pixel-valid", 1, "valid pixel"),
        ("constant", 1, "constant"),
        ("all-nan", 1, "no valid pixel"),
        ("inf", 1, "no valid pixel"),
        ("uint16-max", 1, "constant"),
        ("1x1", 1, "smaller than one 32 px window"),
        ("small", 1, "smaller than one 32 px window"),
        ("complex", 1, "complex numbers"),
    ],
)
def test_bad_frame(tmp_path, run, good, kind, code, needle):
    bad = frame_case(tmp_path, kind)
    first = good[0]
    if kind in ("1x1", "small"):  # a whole sequence of tiny frames
        first = str(tmp_path / "first.tif")
        with rasterio.open(bad) as ds:
            write_frame(first, ds.read(1), time=t0(0))
    check_refused(
        run, tmp_path, [first, bad], code, os.path.basename(first if kind in ("1x1", "small") else bad), needle
    )


def test_bad_netcdf(tmp_path, run, good):
    src = SAMPLE_NC
    cut = tmp_path / "OR_ABI-L1b-RadM1-M6C13_G17_s20193002005275_e20193002005344_c20193002005386.nc"
    data = open(src, "rb").read()  # noqa: SIM115 - read once
    cut.write_bytes(data[: len(data) // 2])
    check_refused(run, tmp_path, [src, cut], 1, cut.name)


def test_missing_directory_and_unreadable(tmp_path, run, good, monkeypatch):
    check_refused(run, tmp_path, [good[0], tmp_path / "nope.tif"], 1, "nope.tif", "no such file")
    check_refused(run, tmp_path, [good[0], tmp_path], 1, str(tmp_path), "directory")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == good[1] else real_access(p, mode))
    check_refused(run, tmp_path, list(good), 1, "b.tif", "permission denied")


@pytest.mark.parametrize(
    ("times", "code", "needle"),
    [
        ((0, 0), 1, "not after"),
        ((10, 0), 1, "not after"),
    ],
)
def test_bad_times(tmp_path, run, radiance, times, code, needle):
    fa = write_frame(tmp_path / "a.tif", radiance[:128, :128], time=t0(times[0]))
    fb = write_frame(tmp_path / "b.tif", radiance[:128, :128], time=t0(times[1]))
    check_refused(run, tmp_path, [fa, fb], code, "b.tif", needle)


def test_goes_name_that_does_not_parse(tmp_path, run, radiance):
    fa = write_frame(tmp_path / "OR_ABI-L1b-RadC-M6C13_G16_s20203991200000_e1_c1.tif", radiance[:128, :128])
    fb = write_frame(tmp_path / "OR_ABI-L1b-RadC-M6C13_G16_s20200041205000_e1_c1.tif", radiance[:128, :128])
    check_refused(run, tmp_path, [fa, fb], 1, "s20203991200000", "no valid start time")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--window", "0"], "--window"),
        (["--window", "-32"], "--window"),
        (["--step", "0"], "--step"),
        (["--search", "-2"], "--search"),
        (["--sigma", "nan"], "--sigma"),
        (["--config", "nosuch"], "unknown preset"),
        (["--valid-range", "5", "1"], "--valid-range"),
        (["--channels", "hsv"], "--channels"),
        (["--max-dt", "0"], "--max-dt"),
    ],
)
def test_bad_options(tmp_path, run, good, args, needle):
    check_refused(run, tmp_path, [*good, *args], 2, needle)


def test_window_larger_than_image(tmp_path, run, good):
    check_refused(run, tmp_path, [*good, "--window", "512"], 1, "a.tif", "smaller than one 512 px window")


def test_config_key_typo(tmp_path, run, good):
    cfg = tmp_path / "typo.toml"
    cfg.write_text("window = 32\nserach = 8\n")
    check_refused(run, tmp_path, [*good, "--config", cfg], 2, "serach", "did you mean 'search'")


def test_too_many_vectors_refused_up_front(tmp_path, run):
    big = write_frame(tmp_path / "big.tif", np.random.default_rng(1).random((2000, 2000)), time=t0(0))
    big2 = write_frame(tmp_path / "big2.tif", np.random.default_rng(2).random((2000, 2000)), time=t0(5))
    check_refused(run, tmp_path, [big, big2, "--window", "8", "--step", "1"], 2, "--step", "vectors")


def test_read_only_output_folder(tmp_path, run, good, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder) else real_access(p, mode))
    code, _, err = run("track", *good, "-o", folder / "v.csv")
    assert code == 1 and "not writable" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(folder) == []


@pytest.mark.parametrize("fmt", ["csv", "tif", "geojson"])
def test_full_disk_mid_write_keeps_old_file(tmp_path, run, good, monkeypatch, fmt):
    target = tmp_path / f"v.{fmt}"
    target.write_text(EXISTING)
    real_write = os.write

    def enospc(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    import builtins

    real_open = builtins.open

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            self.fh.write(data[: len(data) // 2])
            enospc()

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def full_open(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        return Full(fh) if "w" in mode and ".part" in str(path) else fh

    monkeypatch.setattr(builtins, "open", full_open)
    monkeypatch.setattr("rasterio.io.DatasetWriter.write", lambda *a, **k: enospc())
    code, _, err = run("track", *good, "-o", target, "--overwrite")
    monkeypatch.undo()
    assert code == 1, err
    assert "No space left" in err and len(err.strip().splitlines()) == 1
    assert target.read_text() == EXISTING
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]
    _ = real_write


def test_concurrent_writers_leave_one_complete_file(tmp_path, good):
    import subprocess
    import sys

    out = tmp_path / "v.tif"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))",
        "track",
        *good,
        "-o",
        str(out),
        "--overwrite",
        "-q",
    ]
    procs = [subprocess.Popen(cmd) for _ in range(3)]
    assert all(p.wait(timeout=120) == 0 for p in procs)
    with rasterio.open(out) as ds:
        assert ds.count == 12 and np.isfinite(ds.read(1)).any()
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]


@pytest.mark.parametrize(("sig", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_signal_during_track_removes_temporary_files(tmp_path, sig, code):
    import signal
    import subprocess
    import sys
    import time

    from cloudmotion.tools.known_motion import correlated_noise, uniform_field, warp

    a = correlated_noise((1200, 1200), 2.0, seed=4)
    fa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    fb = write_frame(tmp_path / "b.tif", warp(a, *uniform_field(a.shape, 1.3, 0.4)), time=t0(5))
    out = tmp_path / "v.csv"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))",
        "track",
        fa,
        fb,
        "-o",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not [f for f in os.listdir(tmp_path) if f.endswith(".part")]:  # wait until the output is open
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert err.strip().splitlines()[-1] in ("cloudmotion: terminated", "cloudmotion: interrupted")
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.tif"]


def test_review_regressions(tmp_path, run, good, radiance):
    """Edge cases found in review: each a clear error or the documented behaviour."""
    from cloudmotion import track_pair

    assert track_pair(radiance[:128, :128], radiance[:128, :128], window=64).grid.step == 32  # step follows
    check_refused(run, tmp_path, [*good, "--search", "500"], 2, "--search 500", "larger than")
    check_refused(run, tmp_path, [*good, "--min-corr", "2"], 2, "--min-corr")
    untimed = write_frame(tmp_path / "c.tif", radiance[1:129, 1:129])
    code, out, err = run("track", good[0], untimed, "-o", tmp_path / "v_{time_b:%H%M}.tif")
    assert code == 2 and "{time_b}" in err and "c.tif" in err and out == ""
    # a failing run leaves nothing on standard output, not even the CSV header
    code, out, err = run("track", *good, "--valid-range", "1000", "2000")
    assert code == 1 and out == "" and "no valid pixel" in err


def test_netcdf_prefix_without_variable(run):
    nc = SAMPLE_NC
    from cloudmotion.formats.readers import open_frame

    assert open_frame(f"NETCDF:{nc}").source.endswith(":Rad")
    code, _, err = run("track", f"NETCDF:{nc}:Nope", f"NETCDF:{nc}:Nope")
    assert code == 1 and "no variable Nope" in err


@pytest.mark.parametrize(
    ("signal_error", "code", "line"),
    [("Terminated", 143, "cloudmotion: terminated"), ("KeyboardInterrupt", 130, "cloudmotion: interrupted")],
)
def test_a_signal_wrapped_by_an_import_still_ends_as_that_signal(
    tmp_path, run, good, monkeypatch, signal_error, code, line
):
    """SIGTERM or Ctrl-C inside a dataclass's creation on import reaches the command wrapped in a
    RuntimeError (Python 3.11's ``__set_name__``); it still exits 143 or 130, not 'internal error'."""
    import cloudmotion.pipeline
    from cloudmotion.errors import Terminated

    cause = Terminated("terminated (SIGTERM)") if signal_error == "Terminated" else KeyboardInterrupt()

    def run_track(*args, **kwargs):
        raise RuntimeError("Error calling __set_name__ on 'Field' instance 'x' in 'Model'") from cause

    monkeypatch.setattr(cloudmotion.pipeline, "run_track", run_track)
    status, _, err = run("track", *good, "-o", tmp_path / "v.csv")
    assert status == code and err.strip().splitlines()[-1] == line
    assert not (tmp_path / "v.csv").exists()
