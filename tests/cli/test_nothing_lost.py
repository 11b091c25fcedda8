"""Nothing lost: a full disk, an output that names an input, a torn
manifest, cleanup that deleted user files, wrong results with exit 0, unbounded reads,
raw exceptions and warnings, pipes and templates. Each test failed before its fix."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import rasterio
from affine import Affine
from support import PIXEL, ROOT, SAMPLE_NC, one_line_error, t0, write_frame

from cloudmotion.batch.manifest import MANIFEST_NAME
from cloudmotion.tools.known_motion import uniform_field, warp

EXISTING = "precious,contents\n"
PY = [sys.executable, "-c", "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))"]


@pytest.fixture
def good(tmp_path, radiance):
    return (
        write_frame(tmp_path / "a.tif", radiance[:128, :128], time=t0(0)),
        write_frame(tmp_path / "b.tif", radiance[2:130, 1:129], time=t0(10)),
    )


@pytest.fixture
def run_fd(capfd):
    """Run the CLI in-process, capturing file descriptors 1 and 2 (raw C-level output too)."""
    from cloudmotion.cli.main import main

    def _run(*args):
        code = main([str(a) for a in args])
        out, err = capfd.readouterr()
        return code, out, err

    return _run


def read_manifest(path):
    from cloudmotion.batch.manifest import read_manifest as reader

    return reader(str(path))


def output_complete(path, kind):
    from cloudmotion.files.safety import output_complete as check

    return check(path, kind)


def temps(folder):
    return [f for _, _, files in os.walk(folder) for f in files if f.endswith(".part")]


def goes_name(t, band=13):
    s = f"{t:%Y%j%H%M%S}{t.microsecond // 100000}"
    return f"OR_ABI-L1b-RadC-M6C{band:02d}_G16_s{s}_e{s}_c{s}.tif"


def series(folder, radiance, n=3):
    os.makedirs(folder, exist_ok=True)
    big = radiance[100:300, 100:300]
    return [
        write_frame(
            os.path.join(folder, goes_name(t0(5 * i))),
            warp(big, *uniform_field(big.shape, 1.0 * i, -0.5 * i))[50:146, 50:146],
        )
        for i in range(n)
    ]


# 1. a full disk: for real on a small tmpfs (as root), and simulated


@contextlib.contextmanager
def mounted_tmpfs(mnt, options: str):
    """A tmpfs mounted at ``mnt`` with ``options`` (``size=256k``, ``ro``); skipped unless root and mount works."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], check=False, capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False, capture_output=True)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 256 KiB tmpfs, nearly full; skipped unless root and mount works."""
    with mounted_tmpfs(tmp_path / "tiny", "size=256k") as mnt:
        yield mnt


def fill_up(mnt, keep=0):
    """Fill the file system, leaving about ``keep`` bytes."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    with open(mnt / "filler", "wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(0, free - keep))


@pytest.mark.parametrize("fmt", ["tif", "csv", "geojson", "nc"])
def test_full_disk_for_real_keeps_old_file(tiny_fs, good, run_fd, fmt):
    if fmt == "nc":
        pytest.importorskip("netCDF4")
    target = tiny_fs / f"old.{fmt}"
    target.write_text(EXISTING)
    fill_up(tiny_fs, keep=6000)  # the GeoTIFF header fits, its blocks do not (the 0-byte old.tif case)
    code, _, err = run_fd("track", *good, "-o", target, "--overwrite", "--window", "16")
    assert code == 1, err
    one_line_error(err, str(target), "cannot write", "No space left on device")
    assert "_tiff" not in err and "HDF5" not in err
    assert target.read_text() == EXISTING
    assert temps(tiny_fs) == []


def test_full_disk_for_real_batch_never_records_ok(tiny_fs, radiance, tmp_path, run_fd):
    frames = series(tmp_path / "in", radiance)
    out = tiny_fs / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("")
    fill_up(tiny_fs, keep=12000)
    code, _, err = run_fd("batch", tmp_path / "in", "-o", out, "--format", "tif", "--window", "16", "-q")
    assert code == 1, err
    assert "_tiff" not in err and "Traceback" not in err
    records, warnings = read_manifest(out / MANIFEST_NAME)
    assert warnings == []
    for rec in records:
        if rec["status"] == "ok":  # whatever was recorded ok is complete
            for o in rec["outputs"]:
                assert output_complete(os.path.join(out, o), "tif")
                with rasterio.open(os.path.join(out, o)) as ds:
                    ds.read()
    assert temps(out) == []
    os.unlink(tiny_fs / "filler")  # room again: the next run redoes exactly the failed pairs
    code, _, err = run_fd("batch", tmp_path / "in", "-o", out, "--format", "tif", "--window", "16", "-q")
    assert code == 0, err
    assert len([f for f in os.listdir(out / "G16_C_C13") if f.endswith(".tif")]) == len(frames) - 1


def test_gdal_error_signalled_at_close_is_caught_and_silenced(good, tmp_path, run_fd, monkeypatch):
    """Simulation: GDAL reports the failure only through its error handler and libtiff prints
    raw lines on fd 2; the dataset closes without an exception (the 0-byte old.tif case)."""
    import rasterio.io

    target = tmp_path / "old.tif"
    target.write_text(EXISTING)
    real = rasterio.io.DatasetWriter.update_tags

    def signalling(self, *a, **k):
        real(self, *a, **k)
        if not a:  # the dataset-level tags, last before close
            os.write(2, b"_tiffSeekProc: No space left on device.\n")
            logging.getLogger("rasterio._env").info(
                "GDAL signalled an error: err_no=1, msg='TIFFWriteDirectorySec:IO error writing directory'"
            )

    monkeypatch.setattr(rasterio.io.DatasetWriter, "update_tags", signalling)
    code, _, err = run_fd("track", *good, "-o", target, "--overwrite")
    assert code == 1, err
    one_line_error(err, "old.tif", "No space left on device")
    assert target.read_text() == EXISTING and temps(tmp_path) == []


def test_truncated_geotiff_fails_verification(good, tmp_path, run_fd, monkeypatch):
    """Simulation: the file is cut short under GDAL's feet; the check before the rename sees it."""
    import rasterio.io

    target = tmp_path / "old.tif"
    target.write_text(EXISTING)
    real_close = rasterio.io.DatasetWriter.close

    def close_then_truncate(self):
        name = self.name
        real_close(self)
        with open(name, "r+b") as fh:
            fh.truncate(os.path.getsize(name) // 2)

    monkeypatch.setattr(rasterio.io.DatasetWriter, "close", close_then_truncate)
    code, _, err = run_fd("track", *good, "-o", target, "--overwrite")
    assert code == 1, err
    one_line_error(err, "old.tif", "cannot write")
    assert target.read_text() == EXISTING and temps(tmp_path) == []


def test_batch_redoes_zero_byte_and_truncated_outputs(tmp_path, radiance, run):
    series(tmp_path / "in", radiance)
    out = tmp_path / "out"
    assert run("batch", tmp_path / "in", "-o", out, "--format", "csv,tif", "--window", "32", "-q")[0] == 0
    seq = out / "G16_C_C13"
    tifs = sorted(p for p in os.listdir(seq) if p.endswith(".tif"))
    csvs = sorted(p for p in os.listdir(seq) if p.endswith(".csv"))
    (seq / tifs[0]).write_bytes(b"")  # what the old version left on a full disk
    data = (seq / csvs[1]).read_bytes()
    (seq / csvs[1]).write_bytes(data[: len(data) // 2].rstrip(b"\n"))
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--format", "csv,tif", "--window", "32", "-v")
    assert code == 0, err
    assert "2 pair(s) ok" in err  # both damaged pairs redone, none counted "already done"
    with rasterio.open(seq / tifs[0]) as ds:
        assert ds.count == 12
    assert (seq / csvs[1]).read_bytes().endswith(b"\n")


# 2. an output that is an input


@pytest.mark.parametrize("how", ["same", "dotdot", "symlink", "hardlink", "pair-template"])
def test_output_that_is_an_input_is_refused(tmp_path, radiance, run, how):
    frames = [write_frame(tmp_path / f"f{i}.tif", radiance[i : 128 + i, i : 128 + i], time=t0(5 * i)) for i in range(3)]
    (tmp_path / "x").mkdir()
    before = [Path(f).read_bytes() for f in frames]
    if how == "same":
        out = frames[1]
    elif how == "dotdot":
        out = str(tmp_path / "x" / ".." / "f0.tif")
    elif how == "symlink":
        out = str(tmp_path / "x" / "link.tif")
        os.symlink(frames[1], out)
    elif how == "hardlink":
        out = str(tmp_path / "x" / "hard.tif")
        os.link(frames[1], out)
    else:
        out = str(tmp_path / "f{pair}.tif")  # pair 1 -> f1.tif, a later input
    given = frames if how == "pair-template" else frames[:2]
    code, stdout, err = run("track", *given, "-o", out, "--overwrite")
    assert code == 2, err
    one_line_error(err, "-o", "is the input")
    assert stdout == ""
    assert [Path(f).read_bytes() for f in frames] == before
    assert temps(tmp_path) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_batch_template_naming_an_input_is_refused(tmp_path, radiance, run, overwrite):
    frames = series(tmp_path / "in", radiance)
    before = Path(frames[0]).read_bytes()
    out = tmp_path / "in"  # OUTDIR is the archive itself; the template lands on the first frame
    template = "{time_a:OR_ABI-L1b-RadC-M6C13_G16_s%Y%j%H%M%S0_e%Y%j%H%M%S0_c%Y%j%H%M%S0}.{ext}"
    code, _, err = run(
        "batch",
        frames[0],
        frames[1],
        "-o",
        out,
        "--format",
        "tif",
        "--template",
        template,
        *(["--overwrite"] if overwrite else []),
    )
    assert code == 2, err
    one_line_error(err, "--template", "is the input")
    assert Path(frames[0]).read_bytes() == before


# 3. torn manifest lines


def test_torn_manifest_line_is_not_extended(tmp_path, radiance, run):
    series(tmp_path / "in", radiance)
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text('{"run": "x", "status": "ok"}\n{"run": "x", "sequ')  # crash mid-line
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--window", "32", "-q")
    assert code == 0, err
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    assert lines[1] == '{"run": "x", "sequ'  # the torn line is left alone, never glued onto
    assert all(json.loads(ln)["status"] == "ok" for ln in lines[2:]) and len(lines) == 4
    records, warnings = read_manifest(out / MANIFEST_NAME)
    assert len(records) == 3
    assert warnings == [f"{out / MANIFEST_NAME}:2: not a JSON record (torn or edited line); skipped"]


def test_short_manifest_write_is_taken_back(tmp_path, monkeypatch):
    from cloudmotion.batch.manifest import Manifest

    path = tmp_path / MANIFEST_NAME
    path.write_text('{"a": 1}\n')
    real_write = os.write

    def half(fd, data):
        return real_write(fd, data[: len(data) // 2])

    from cloudmotion.errors import DataError

    with Manifest(str(path)) as m:
        monkeypatch.setattr(os, "write", half)
        with pytest.raises(DataError, match="short write"):
            m.append({"run": "y", "status": "ok"})
        monkeypatch.setattr(os, "write", real_write)
        m.append({"run": "z", "status": "ok"})
    assert path.read_text() == '{"a": 1}\n{"run": "z", "status": "ok"}\n'

    def enospc(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    with Manifest(str(path)) as m:
        monkeypatch.setattr(os, "write", enospc)
        with pytest.raises(DataError, match="No space left"):
            m.append({"run": "w"})
    monkeypatch.setattr(os, "write", real_write)
    assert read_manifest(str(path)) == ([{"a": 1}, {"run": "z", "status": "ok"}], [])


# 4. cleanup removes only this tool's temporary files


def test_batch_cleanup_keeps_user_part_files(tmp_path, radiance, run):
    series(tmp_path / "in", radiance)
    out = tmp_path / "out"
    seq = out / "G16_C_C13"
    seq.mkdir(parents=True)
    users = [
        seq / ".notes.v2.final.part",
        out / "draft.part",
        seq / ".20200104T030000_030500.csv.v2.part",
        seq / ".20200104T030000_030500.csv.0123456789AB.part",
    ]  # upper-case hex: not ours
    for u in users:
        u.write_text("mine")
    stale = seq / ".20200104T030000_030500.csv.0123456789ab.part"  # exactly ours, for a planned output
    stale.write_text("time_a,ti")
    other = seq / ".unplanned.csv.0123456789ab.part"  # our pattern, but no output of this plan
    other.write_text("x")
    code, _, err = run("batch", tmp_path / "in", "-o", out, "--window", "32", "-v")
    assert code == 0, err
    assert all(u.read_text() == "mine" for u in users)
    assert not stale.exists() and other.exists()
    assert "removed 1 temporary file(s)" in err


def test_live_temporary_file_is_never_removed(tmp_path):
    from cloudmotion.files.safety import new_temp, remove_stale_temps

    target = str(tmp_path / "v.csv")
    tmp, fd = new_temp(target)
    code = "import sys; from cloudmotion.files.safety import remove_stale_temps as r; print(len(r([sys.argv[1]])))"
    child = subprocess.run(
        [sys.executable, "-c", code, target],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert child.stdout.strip() == "0", child.stderr
    assert os.path.exists(tmp)
    os.close(fd)  # as if its writer died
    assert remove_stale_temps([target]) == [tmp]


def test_track_after_sigkill_removes_its_stale_temporary(tmp_path, good, run):
    out = tmp_path / "v.csv"
    stale = os.path.join(tmp_path, f".v.csv.{uuid.uuid4().hex[:12]}.part")
    with open(stale, "w") as fh:
        fh.write("time_a,ti")  # what a SIGKILLed track leaves
    assert run("track", *good, "-o", out)[0] == 0
    assert temps(tmp_path) == [] and out.exists()


def test_255_byte_output_name(tmp_path, good, run):
    name = "v" * 251 + ".csv"
    assert len(name) == 255
    code, _, err = run("track", *good, "-o", tmp_path / name)
    assert code == 0, err
    assert (tmp_path / name).read_text().startswith("time_a,")
    assert temps(tmp_path) == []
    long = "é" * 124 + "x.tif"  # 253 bytes: the shortened temporary name stays valid UTF-8
    code, _, err = run("track", *good, "-o", tmp_path / long)
    assert code == 0, err


# 6. score and plot against the wrong grid


@pytest.fixture
def synth_dir(tmp_path, run):
    d = tmp_path / "s"
    assert run("synth", d, "--size", "160x160", "--motion", "uniform:1.5,-0.5", "--frames", "2")[0] == 0
    return d


def test_score_against_another_truth_is_refused(synth_dir, tmp_path, run):
    frames = sorted(str(p) for p in synth_dir.glob("synth_*_s*.tif"))
    v = tmp_path / "v.csv"
    assert run("track", *frames, "-o", v, "--window", "24")[0] == 0
    other = tmp_path / "o"
    assert run("synth", other, "--size", "200x120", "--motion", "uniform:1,0", "--frames", "2")[0] == 0
    code, out, err = run("score", v, other / "truth.tif")
    assert code == 1 and out == "", err
    one_line_error(err, str(v), str(other / "truth.tif"), "does not match")
    assert run("score", v, synth_dir / "truth.tif")[0] == 0  # the right truth still scores
    v.write_text(v.read_text())  # unchanged: no comment lines added to the CSV
    assert v.read_text().startswith("time_a,time_b,row,col,")


@pytest.mark.parametrize("what", ["shifted", "time"])
def test_plot_on_another_frame_is_refused(good, tmp_path, run, radiance, what):
    pytest.importorskip("matplotlib")
    v = tmp_path / "v.csv"
    assert run("track", *good, "-o", v)[0] == 0
    if what == "shifted":
        frame = write_frame(
            tmp_path / "other.tif",
            radiance[:128, :128],
            time=t0(0),
            transform=Affine(PIXEL, 0, -30 * PIXEL, 0, -PIXEL, 90 * PIXEL),
        )
    else:
        frame = write_frame(tmp_path / "other.tif", radiance[:128, :128], time=t0(60))
    code, _, err = run("plot", v, frame, "-o", tmp_path / "q.png")
    assert code == 1, err
    one_line_error(err, "v.csv", "other.tif", "does not match")
    assert not (tmp_path / "q.png").exists()


# 7. off-Earth origins; 8. GeoJSON across the antimeridian


def test_origins_beyond_the_earth_edge_are_nodata(tmp_path, radiance, run):
    edge = Affine(PIXEL, 0, 5.32e6, 0, -PIXEL, 64 * PIXEL)  # the disk's eastern limb cuts the frame
    a = write_frame(tmp_path / "a.tif", radiance[:128, :128], time=t0(0), transform=edge)
    b = write_frame(tmp_path / "b.tif", radiance[1:129, 1:129], time=t0(10), transform=edge)
    code, out, err = run("track", a, b, "--window", "16")
    assert code == 0, err
    rows = [ln.split(",") for ln in out.splitlines()[1:]]
    off = [r for r in rows if r[6] == ""]
    assert off and all(int(r[17]) & 1 for r in off)  # NODATA
    assert any(r[6] != "" and int(r[17]) == 0 for r in rows)


def test_geojson_longitudes_wrap_across_the_antimeridian(tmp_path, radiance, run):
    geo = Affine(0.05, 0, 177.0, 0, -0.05, 40.0)  # columns from 177 E to 183.4 "E"
    a = write_frame(tmp_path / "a.tif", radiance[:128, :128], time=t0(0), crs="EPSG:4326", transform=geo)
    b = write_frame(tmp_path / "b.tif", radiance[1:129, 1:129], time=t0(10), crs="EPSG:4326", transform=geo)
    code, _, err = run("track", a, b, "-o", tmp_path / "v.geojson", "-o", tmp_path / "v.csv")
    assert code == 0, err
    doc = json.loads((tmp_path / "v.geojson").read_text())
    lons = [f["geometry"]["coordinates"][0] for f in doc["features"] if f["geometry"]]
    assert lons and all(-180 <= x <= 180 for x in lons) and min(lons) < -170 and max(lons) > 170
    assert all(-180 <= f["properties"]["lon"] <= 180 for f in doc["features"] if f["properties"]["lon"] is not None)
    assert max(float(r.split(",")[6]) for r in (tmp_path / "v.csv").read_text().splitlines()[1:]) > 180  # CSV as before


# pipes, standard output, templates


def _sh(cmd, cwd):
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {cmd}"],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": ROOT},
    )


def _cm(args):
    return " ".join([*(f"'{a}'" for a in PY), *args])


def test_closed_pipe_is_status_141_quietly(tmp_path, good):
    res = _sh(_cm(["track", "a.tif", "b.tif", "--window", "8", "--step", "2"]) + " | head -1", tmp_path)
    assert res.returncode == 141, res.stderr
    assert res.stdout.startswith("time_a,") and res.stderr == ""
    res = _sh(_cm(["info", "a.tif", "b.tif"]) + " | (exec 0<&-; sleep 3)", tmp_path)  # a reader that left at once
    assert res.returncode == 141 and res.stderr == "", res.stderr


@pytest.mark.parametrize(
    ("redirect", "needle"), [("> /dev/full", "No space left on device"), (">&-", "standard output: is closed")]
)
@pytest.mark.parametrize("command", ["track", "info"])
def test_standard_output_full_or_closed_is_one_line(tmp_path, good, redirect, needle, command):
    if redirect == "> /dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    args = ["track", "a.tif", "b.tif"] if command == "track" else ["info", "a.tif"]
    res = _sh(_cm(args) + f" {redirect}", tmp_path)
    assert res.returncode == 1
    one_line_error(res.stderr, "standard output", needle)
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.tif"]


@pytest.mark.parametrize(
    "template",
    [
        "v_{time_a.__class__.__name__}.tif",
        "v_{time_a.tzinfo}.csv",
        "v_{pair!r}.tif",
        "v_{pair[0]}.tif",
        "v_{time_a:{pair}}.tif",
    ],
)
def test_output_template_allows_documented_fields_only(tmp_path, good, run, template):
    code, _, err = run("track", *good, "-o", tmp_path / template)
    assert code == 2, err
    one_line_error(err, "-o", "not allowed")
    assert sorted(os.listdir(tmp_path)) == ["a.tif", "b.tif"]


def test_batch_template_allows_documented_fields_only(tmp_path, radiance, run):
    series(tmp_path / "in", radiance)
    code, _, err = run(
        "batch", tmp_path / "in", "-o", tmp_path / "out", "--template", "{sequence}/{time_a.__class__.__name__}.{ext}"
    )
    assert code == 2, err
    one_line_error(err, "--template", "not allowed")


def test_symlinked_subfolder_is_followed_but_never_onto_an_input(tmp_path, radiance, run):
    series(tmp_path / "in", radiance)
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, out / "G16_C_C13")  # documented: followed (e.g. onto another disk)
    assert run("batch", tmp_path / "in", "-o", out, "--window", "32", "-q")[0] == 0
    assert len(os.listdir(elsewhere)) == 2
    out2 = tmp_path / "out2"
    out2.mkdir()
    os.symlink(tmp_path / "in", out2 / "G16_C_C13")
    code, _, err = run(
        "batch",
        tmp_path / "in",
        "-o",
        out2,
        "--window",
        "32",
        "--format",
        "tif",
        "--template",
        "{sequence}/{time_a:OR_ABI-L1b-RadC-M6C13_G16_s%Y%j%H%M%S0_e%Y%j%H%M%S0_c%Y%j%H%M%S0}.{ext}",
    )
    assert code == 2
    one_line_error(err, "is the input")


# one clear line instead of internal error; no raw warnings


def test_files_from_unbounded_or_binary(tmp_path, radiance, run, monkeypatch):
    from cloudmotion.batch import frames as plan

    monkeypatch.setattr(plan, "MAX_LIST_BYTES", 1 << 20)  # 1 MiB here, to keep the test fast
    monkeypatch.setattr(plan.read_path_list, "__kwdefaults__", {"limit": 1 << 20})
    code, _, err = run("batch", "--files-from", "/dev/zero", "-o", tmp_path / "out")
    assert code == 2, err
    one_line_error(err, "--files-from /dev/zero", "MiB")
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"frame.tif\n" + bytes(range(256)) * 4)
    code, _, err = run("batch", "--files-from", garbage, "-o", tmp_path / "out")
    assert code == 2, err
    one_line_error(err, "--files-from", "line 2", "binary")


def test_binary_config_is_one_line(tmp_path, good, run):
    cfg = tmp_path / "garbage.toml"
    cfg.write_bytes(b"window = 32\n\xff\xfe\x00garbage")
    code, _, err = run("track", *good, "--config", cfg)
    assert code == 2
    one_line_error(err, "--config", "garbage.toml")


def test_synth_into_a_file_or_unwritable_folder(tmp_path, run, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text(EXISTING)
    code, _, err = run("synth", afile, "--size", "64x64")
    assert code == 2
    one_line_error(err, "afile", "is a file")
    assert afile.read_text() == EXISTING
    ro = tmp_path / "ro"
    ro.mkdir()
    from cloudmotion.files import safety

    real = safety.new_temp

    def refuse(path, tmp=None):
        if os.path.dirname(os.path.abspath(path)) == str(ro):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, tmp)

    monkeypatch.setattr(safety, "new_temp", refuse)
    code, _, err = run("synth", ro, "--size", "64x64")
    assert code == 1
    one_line_error(err, "ro", "not writable", "Read-only file system")
    assert os.listdir(ro) == []


@pytest.mark.parametrize("sub", ["", "new/deeper"])
def test_synth_into_a_read_only_file_system_for_real(tmp_path, run, sub):
    with mounted_tmpfs(tmp_path / "ro", "size=64k,ro") as mnt:
        code, _, err = run("synth", mnt / sub, "--size", "64x64")
        assert code == 1
        one_line_error(err, "OUTDIR", "Read-only file system")


def test_overflowing_synth_motion_is_one_line(tmp_path, run_fd):
    code, out, err = run_fd("synth", tmp_path / "s", "--size", "64x64", "--motion", "vortex:1e308")
    assert code == 2 and out == ""
    one_line_error(err, "--motion vortex:1e308", "overflows")
    assert "RuntimeWarning" not in err and not (tmp_path / "s").exists()


def test_float32_extremes_give_no_raw_warnings(tmp_path, radiance):
    a, b = radiance[:128, :128].copy(), radiance[2:130, 1:129].copy()
    a[:12, :12], b[:12, :12] = 3.4e38, -3.4e38
    write_frame(tmp_path / "a.tif", a, time=t0(0))
    write_frame(tmp_path / "b.tif", b, time=t0(10))
    res = _sh(_cm(["track", "a.tif", "b.tif"]), tmp_path)  # a real process: pytest would swallow warnings
    assert res.returncode == 0 and res.stderr == "", res.stderr
    rows = [ln.split(",") for ln in res.stdout.splitlines()[1:]]
    assert rows[0][8] != "" and any(int(r[17]) == 0 for r in rows)  # the fill corner is NoData, not noise


def test_impossible_goes_projection_is_one_line(tmp_path, run):
    netCDF4 = pytest.importorskip("netCDF4")
    src = SAMPLE_NC
    names = [tmp_path / f"OR_ABI-L1b-RadM1-M6C13_G17_s2019300200{s}275_e1_c1.nc" for s in (0, 5)]
    for n in names:
        shutil.copy(src, n)
        with netCDF4.Dataset(n, "a") as ds:
            ds.variables["goes_imager_projection"].perspective_point_height = 0.0
    code, _, err = run("track", *names, "-o", tmp_path / "v.csv")
    assert code == 1
    one_line_error(err, names[0].name, "impossible map projection")
    assert not (tmp_path / "v.csv").exists()
