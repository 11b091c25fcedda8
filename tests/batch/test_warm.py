"""Local batch workers on a cold kernel cache: the kernels compile once, in the parent, before they start."""

from __future__ import annotations

import numpy as np
import pytest

import cloudmotion.track as tracking
from cloudmotion.batch import run as batch_run
from cloudmotion.batch.warm import compile_kernels_first
from cloudmotion.motion.kernels import jit
from cloudmotion.settings.params import TrackParams


@pytest.fixture
def tracked(monkeypatch):
    calls = []

    def spy(a, b, **kw):
        calls.append((a.shape, kw["params"]))

    monkeypatch.setattr(tracking, "track_pair", spy)
    return calls


def test_a_cold_cache_compiles_here_with_the_batch_settings(monkeypatch, tracked):
    monkeypatch.setattr(jit, "cold_cache", lambda: jit.COMPILE_NOTICE)
    params = TrackParams(window=48, search=12)
    assert compile_kernels_first(params) is True
    assert tracked == [((4 * 48 + 64, 4 * 48 + 64), params)]


@pytest.mark.parametrize("state", [None, "no-cache"])
def test_a_warm_cache_or_none_is_left_alone(monkeypatch, tracked, state):
    monkeypatch.setattr(jit, "cold_cache", lambda: None if state is None else jit.NO_CACHE_NOTICE)
    assert compile_kernels_first(TrackParams()) is False
    assert tracked == []


@pytest.mark.parametrize(("window", "search"), [(16, 4), (64, 24), (128, 40)])
def test_the_synthetic_pair_tracks_with_the_settings(monkeypatch, window, search):
    """A real warm-up (the kernels load from this process's cache): the synthetic pair is large
    enough for the template and the search."""
    monkeypatch.setattr(jit, "cold_cache", lambda: jit.COMPILE_NOTICE)
    assert compile_kernels_first(TrackParams(window=window, search=search)) is True


def test_settings_a_lone_pair_refuses_leave_the_compiling_to_the_workers(monkeypatch):
    """A max_error speed needs each pair's time step: the warm-up cannot track, and must not fail the batch."""
    monkeypatch.setattr(jit, "cold_cache", lambda: jit.COMPILE_NOTICE)
    params = TrackParams(max_error="2m/s")
    with pytest.raises(Exception, match="speed"):
        tracking.track_pair(*[np.zeros((128, 128), np.float32)] * 2, params=params)
    assert compile_kernels_first(params) is False


def test_workers_start_after_the_kernels_compile(monkeypatch):
    """The process pool is made only after compile_kernels_first, and not at all without tasks."""
    order = []
    monkeypatch.setattr(batch_run, "compile_kernels_first", lambda params: order.append("compile"))

    class Pool:
        def __init__(self, *a, **k):
            order.append("pool")
            raise RuntimeError("stop here")

    monkeypatch.setattr(batch_run, "ProcessPoolExecutor", Pool)
    with pytest.raises(RuntimeError, match="stop here"):
        list(batch_run._run_processes([object()], batch_run.Settings(), 2, None))
    assert order == ["compile", "pool"]
