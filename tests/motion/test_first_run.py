"""The first run says why it is slow (kernels compile once); -q keeps it silent."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import ROOT, write_frame

from cloudmotion.motion.kernels import ahead, jit

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


FAILING = [sys.executable, "-c", "raise SystemExit(3)"]

HELPER_CHECK = """
import json, sys
from cloudmotion.cli.main import main
from cloudmotion.motion.kernels import ahead
from cloudmotion.motion.kernels.backend import resolve
code = main(["-q", "track", *sys.argv[1:]])
names = [f"{m}:{f}" for m, f in ahead.HELPER_KERNELS] + ["cloudmotion.motion.kernels.ncc:coarse_search"]
stats = {n: [sum(resolve(n).stats.cache_hits.values()), sum(resolve(n).stats.cache_misses.values())] for n in names}
print(json.dumps({"code": code, "stats": stats, "running": ahead.helper_running()}))
"""


@pytest.mark.skipif(jit.default_threads() < 2, reason="the helper process needs 2 cores")
def test_first_run_compiles_the_refinement_in_a_helper_process(tmp_path, pair):
    """With an empty cache the command compiles the search itself and loads the refinement's
    and the error terms' kernels as built by its helper process (cache hits, no compile)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "PYTHONPATH": ROOT}
    out = tmp_path / "v.csv"
    proc = subprocess.run(
        [sys.executable, "-c", HELPER_CHECK, *map(str, pair), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.splitlines()[-1])
    assert found["code"] == 0 and not found["running"]
    stats = found["stats"]
    for module, fn in ahead.HELPER_KERNELS:
        hits, misses = stats[f"{module}:{fn}"]
        assert (hits, misses) == (1, 0), f"{module}.{fn} compiled in the main process: {stats}"
    assert stats["cloudmotion.motion.kernels.ncc:coarse_search"][1] == 1  # the search compiled here
    assert len(out.read_text().splitlines()) > 1


def test_a_failing_helper_leaves_the_command_whole(pair, tmp_path, monkeypatch, run):
    """A helper that dies at once: the command waits for it, compiles (or loads) on its own and succeeds."""
    started = []
    monkeypatch.setattr(ahead, "_cold", lambda: True)
    monkeypatch.setattr(jit, "cold_cache", lambda: jit.COMPILE_NOTICE)  # as on a first run
    monkeypatch.setattr(jit, "default_threads", lambda: 2)
    real_start = ahead.start
    monkeypatch.setattr(ahead, "start", lambda command: started.append(command) or real_start(FAILING))
    code, _, err = run("-q", "track", *pair, "-o", tmp_path / "v.csv")
    assert code == 0 and err == ""
    assert started == [[sys.executable, "-m", "cloudmotion.cli.compile_helper"]] and not ahead.helper_running()
    assert len((tmp_path / "v.csv").read_text().splitlines()) > 1


def test_no_helper_on_one_core(monkeypatch):
    """One core: a second compiling process would only take turns with this one."""
    monkeypatch.setattr(ahead, "_cold", lambda: True)
    monkeypatch.setattr(jit, "default_threads", lambda: 1)
    monkeypatch.setattr(ahead.subprocess, "Popen", lambda *a, **k: pytest.fail("a helper was started"))
    assert ahead.start(FAILING) is False and not ahead.helper_running()
