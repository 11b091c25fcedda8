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


def test_the_synthetic_pair_tracks_with_any_window():
    """The pair is large enough for the template and the search of the settings (a real run)."""
    for window, search in ((16, 4), (64, 24)):
        size = 4 * window + 64
        a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
        field = tracking.track_pair(a, np.roll(a, 1, axis=1), params=TrackParams(window=window, search=search))
        assert np.nanmedian(field.dx) == pytest.approx(1.0, abs=0.05)


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
