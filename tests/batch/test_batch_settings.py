"""A batch re-run with other settings is refused (exit 2) naming what differs, unless --overwrite;
each output's requested settings are in the manifest; 0.2.0 manifests count as matching."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from support import one_line_error, t0, write_frame

from cloudmotion.batch.manifest import MANIFEST_NAME
from cloudmotion.tools.known_motion import uniform_field, warp


def goes_name(t):
    s = f"{t:%Y%j%H%M%S}0"
    return f"OR_ABI-L1b-RadC-M6C13_G16_s{s}_e{s}_c{s}.tif"


@pytest.fixture
def frames(tmp_path, radiance):
    big = radiance[100:300, 100:300]
    folder = tmp_path / "in"
    os.makedirs(folder)
    return [
        write_frame(folder / goes_name(t0(5 * i)), warp(big, *uniform_field(big.shape, 1.0 * i, 0.0))[50:146, 50:146])
        for i in range(3)
    ]


def _records(out):
    with open(os.path.join(out, MANIFEST_NAME)) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_rerun_with_other_settings(tmp_path, frames, run):
    out = str(tmp_path / "out")
    code, _, err = run("batch", *frames, "-o", out, "--no-progress")
    assert code == 0, err
    ok = [r for r in _records(out) if r["status"] == "ok"]
    assert len(ok) == 2 and all(r["settings"]["search"] == "auto" and r["settings"]["window"] == 32 for r in ok)
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "-v")
    assert code == 0 and "2 already done" in err  # the same settings: nothing to redo
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "--window", "24")
    assert code == 2
    line = one_line_error(err, f"{os.path.abspath(out)}: outputs already there were made with other settings")
    assert "window: 32 then, 24 now" in line and "step: 16 then, 12 now" in line and "--overwrite" in line
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "--config", "amv")
    assert code == 2
    one_line_error(err, "targets: 'all' then, 'clouds' now", "cloud_model: None then, 'auto' now")
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "--window", "24", "--overwrite")
    assert code == 0, err
    assert _records(out)[-1]["settings"]["window"] == 24
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "--window", "24", "--max-gap", "1h")
    assert code == 0, err  # --max-gap picks pairs; it never changes a pair's vectors


def test_manifest_without_settings_counts_as_matching(tmp_path, frames, run):
    out = str(tmp_path / "out")
    assert run("batch", *frames, "-o", out, "--no-progress")[0] == 0
    path = os.path.join(out, MANIFEST_NAME)
    old = [{k: v for k, v in r.items() if k != "settings"} for r in _records(out)]  # as 0.2.0 wrote it
    with open(path, "w") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in old)
    code, _, err = run("batch", *frames, "-o", out, "--no-progress", "--window", "24", "-v")
    assert code == 0
    notes = [ln for ln in err.splitlines() if "without their settings" in ln]
    note = (
        f"cloudmotion: warning: {os.path.abspath(out)}: 2 existing output(s) were recorded without their settings "
        "(cloudmotion 0.2.0); counted as made with these settings"
    )
    assert notes == [note]
    assert "2 already done" in err
    assert np.all([r.get("settings") is None for r in _records(out)])
