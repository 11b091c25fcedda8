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


@pytest.fixture
def helper(monkeypatch):
    """A first run as far as the helper is concerned: cold kernels, 2 cores, fresh hooks; the
    helpers started are listed (their command lines)."""
    from cloudmotion.motion.kernels import backend

    monkeypatch.setattr(backend, "_BEFORE", [])
    monkeypatch.setattr(ahead, "_worth_it", lambda: True)
    monkeypatch.setattr(jit, "default_threads", lambda: 2)
    started: list = []
    popen = ahead.subprocess.Popen

    def spy(command, **kw):
        started.append(command)
        return popen(command, **kw)

    monkeypatch.setattr(ahead.subprocess, "Popen", spy)
    yield started
    ahead._stop()
    ahead.disarm()


def test_a_failing_helper_leaves_the_command_whole(pair, tmp_path, monkeypatch, run, helper):
    """A helper that dies at once: the command waits for it, runs on and succeeds."""
    import cloudmotion.cli.main as cli_main

    monkeypatch.setattr(cli_main, "HELPER", ("-c", "raise SystemExit(3)"))
    code, _, err = run("-q", "track", *pair, "-o", tmp_path / "v.csv")
    assert code == 0 and err == ""
    assert helper == [[sys.executable, "-c", "raise SystemExit(3)"]] and not ahead.helper_running()
    assert len((tmp_path / "v.csv").read_text().splitlines()) > 1


@pytest.mark.parametrize("option", [("--threads", "1"), ("--search-mode", "full")])
def test_no_helper_when_it_cannot_save_time(pair, tmp_path, run, helper, option):
    """One thread allowed, or no search kernel to compile meanwhile (the FFT search): no helper."""
    code, _, _ = run("-q", "track", *pair, *option, "-o", tmp_path / "v.csv")
    assert code == 0 and helper == []


def test_no_helper_on_one_core_or_without_a_cache(monkeypatch, helper):
    monkeypatch.setattr(jit, "default_threads", lambda: 1)
    assert ahead.start(FAILING) is False
    monkeypatch.setattr(jit, "default_threads", lambda: 2)
    monkeypatch.setattr(jit, "CACHE_DIR", None)  # no writable cache: the helper's builds would be lost
    assert ahead.start(FAILING) is False
    assert helper == [] and not ahead.helper_running()


def test_an_interrupted_wait_stops_the_helper(monkeypatch, helper):
    """Ctrl-C or SIGTERM while waiting for the helper: it is killed, not left compiling."""
    assert ahead.start([sys.executable, "-c", "import time; time.sleep(60)"])
    proc = ahead._helper[0]
    real_wait = proc.wait

    def interrupted(timeout=None):
        if timeout is not None:
            raise KeyboardInterrupt
        return real_wait()

    monkeypatch.setattr(proc, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ahead.wait()
    assert proc.returncode is not None and not ahead.helper_running()


def test_a_helper_not_waited_for_is_stopped_at_exit(helper):
    assert ahead.start([sys.executable, "-c", "import time; time.sleep(60)"])
    proc = ahead._helper[0]
    ahead._stop()  # what the exit handler runs
    assert proc.returncode is not None and not ahead.helper_running()


def test_the_helper_exits_when_its_command_is_gone():
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    code = f"from cloudmotion.cli.compile_helper import _exit_with; _exit_with({int(gone.stdout)}, 0.01)"
    out = subprocess.run([sys.executable, "-c", code], timeout=60, check=False, env={**os.environ, "PYTHONPATH": ROOT})
    assert out.returncode == 1


def test_a_command_leaves_no_helper_armed(run):
    """An armed helper whose command never compiled (a warm batch parent, a scheduler) is disarmed at the end."""
    ahead.arm([sys.executable, "-c", "pass"])
    code, _, _ = run("--version")
    assert code == 0 and not ahead._armed


def test_an_ordinary_error_raised_while_handling_an_interrupt_is_not_a_signal():
    from cloudmotion.cli.main import _signal_inside
    from cloudmotion.errors import Terminated

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ValueError("unrelated") from None
    except ValueError as exc:
        assert _signal_inside(exc) is None
    wrapped = RuntimeError("Error calling __set_name__")
    wrapped.__cause__ = Terminated("terminated (SIGTERM)")
    assert isinstance(_signal_inside(wrapped), Terminated)
