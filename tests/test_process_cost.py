"""What the ``track`` command does around the tracking: each piece of work done once, none at exit.

Behaviour only (what is called, read or imported, and how often), never timings.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import rasterio.io
from support import ROOT, SAMPLE, write_frame

from cloudmotion import pipeline, registry
from cloudmotion.formats.readers import open_frame, read_frame
from cloudmotion.settings.config import resolve_settings

EXIT_PROBE = """
import atexit, gc, sys
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))  # first registered: runs last
from cloudmotion.cli.main import main
code = main(["--version"])
print("frozen before exit:", gc.get_freeze_count() > 0)
sys.exit(code)
"""


def test_the_command_leaves_its_objects_to_the_os_at_exit_not_before():
    proc = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-2:] == ["frozen before exit: False", "frozen at exit: True"]


def test_installed_entry_points_are_read_once_for_every_registry(monkeypatch, tmp_path):
    import importlib.metadata

    calls = []
    real = importlib.metadata.entry_points

    def counted(**params):
        calls.append(params)
        return real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", counted)
    monkeypatch.setattr(registry, "_installed", {})
    groups = ("cloudmotion.correlators", "cloudmotion.readers", "cloudmotion.qc_tests", "console_scripts")
    found = [registry.Registry("thing", group=g).plugins() for g in groups]
    assert len(calls) == 1
    assert found == [{ep.name: ep.value for ep in real(group=g)} for g in groups]
    assert found[-1], "the venv's console scripts are listed (the scan reads the installed packages)"
    registry.Registry("thing", group=groups[0]).plugins()
    assert len(calls) == 1
    monkeypatch.syspath_prepend(str(tmp_path))  # another set of folders: read again
    registry.Registry("thing", group=groups[0]).plugins()
    assert len(calls) == 2


def test_the_pixel_sizes_of_a_run_are_computed_once(monkeypatch, tmp_path):
    calls = []
    real = pipeline.pair_scales

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "pair_scales", counted)
    out = tmp_path / "v.csv"
    settings = resolve_settings({"search": 8, "window": 32, "step": 32}, None)
    pipeline.run_track(SAMPLE[:2], [str(out)], settings, stdout=sys.stdout)
    assert len(calls) == 1
    assert out.read_text().count("\n") > 10


@pytest.fixture
def mask_reads(monkeypatch):
    reads = []
    real = rasterio.io.DatasetReader.read_masks

    def counted(self, *args, **kwargs):
        reads.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(rasterio.io.DatasetReader, "read_masks", counted)
    return reads


def _frame(tmp_path, nodata, dtype="float32"):
    data = np.arange(40 * 50, dtype=np.float64).reshape(40, 50) % 97
    data[3:7, 5:9] = np.nan if dtype == "float32" else 0
    data[10, 10] = -999.0
    path = write_frame(tmp_path / "f.tif", data, nodata=nodata, dtype=dtype)
    with rasterio.open(path) as ds:
        gdal_mask = ds.read_masks(1) > 0
    return path, data, gdal_mask


def test_a_nan_nodata_mask_is_not_read_and_the_validity_is_unchanged(tmp_path, mask_reads):
    path, data, gdal_mask = _frame(tmp_path, np.nan)
    mask_reads.clear()
    frame = read_frame(open_frame(path))
    assert mask_reads == []
    assert np.array_equal(frame.valid, gdal_mask & np.isfinite(data))
    assert np.array_equal(frame.valid, np.isfinite(data))
    assert np.array_equal(frame.raw, data.astype(np.float32), equal_nan=True)  # the stored values, untouched
    assert np.isnan(frame.data[~frame.valid]).all()


def test_a_numeric_nodata_mask_is_read_from_gdal(tmp_path, mask_reads):
    path, _data, gdal_mask = _frame(tmp_path, -999.0, dtype="int16")
    mask_reads.clear()
    frame = read_frame(open_frame(path))
    assert len(mask_reads) == 1
    assert not frame.valid[10, 10]
    assert np.array_equal(frame.valid, gdal_mask)


def test_a_frame_without_nodata_has_no_mask_to_read(tmp_path, mask_reads):
    path, data, _ = _frame(tmp_path, None)
    mask_reads.clear()
    frame = read_frame(open_frame(path))
    assert mask_reads == []
    assert np.array_equal(frame.valid, np.isfinite(data))  # NaN is still invalid without a NoData tag


def test_the_command_runs_openblas_on_one_thread_unless_told_otherwise():
    """Set before numpy loads (nothing the command module imports first loads numpy), and a user's choice wins."""
    probe = (
        "import sys; import cloudmotion.cli; early = 'numpy' in sys.modules; import cloudmotion.cli.main; "
        "import os; print(early, os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["False", "1"]
    env["OPENBLAS_NUM_THREADS"] = "3"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["False", "3"]
