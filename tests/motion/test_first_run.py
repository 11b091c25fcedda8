"""The first run says why it is slow (kernels compile once); -q keeps it silent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import ROOT, write_frame

from cloudmotion.motion.kernels import jit

NOTICE = "cloudmotion: compiling kernels once; later runs load them from the cache"


@pytest.fixture
def pair(tmp_path, radiance):
    a = write_frame(tmp_path / "a.tif", radiance[:96, :96], crs=None)
    b = write_frame(tmp_path / "b.tif", radiance[1:97, :96], crs=None)
    return a, b


def test_an_empty_cache_is_cold(tmp_path):
    """In a process whose numba cache folder is empty every kernel compiles: the notice is due."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": ROOT}
    code = "from cloudmotion.motion.kernels.jit import cold_cache; print(cold_cache())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == jit.COMPILE_NOTICE


def test_quiet_and_warm_cache_say_nothing(pair, monkeypatch, run):
    code, _, err = run("track", *pair)  # compiles here if needed: the cache is warm afterwards
    assert code == 0
    assert jit.cold_cache() is None
    monkeypatch.setattr(jit, "cold_cache", lambda: jit.COMPILE_NOTICE)  # as on a first run
    code, _, err = run("track", *pair, "-q")
    assert code == 0 and err == ""
    code, _, err = run("track", *pair, "--dt", "300", "-v")
    assert code == 0 and err.splitlines().count(NOTICE) == 1
    assert err.splitlines()[0] == NOTICE  # before the first pair, the first line
    code, _, err = run("track", *pair)
    assert NOTICE in err  # every command that tracks asks (a test's monkeypatched cache stays cold)
