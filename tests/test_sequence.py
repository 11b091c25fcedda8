"""A pair's two frames are filtered concurrently (small frames): the same vectors as serially."""

from __future__ import annotations

import numpy as np
import pytest

import cloudmotion.track as tracking
from cloudmotion import track_pair
from cloudmotion.sequence import iter_track_sequence
from cloudmotion.tools.known_motion import uniform_field, warp

DX, DY = 1.6, -0.7


@pytest.fixture(scope="module")
def pair(radiance):
    rng = np.random.default_rng(3)
    a = radiance[:256, :256].astype(np.float32)
    b = warp(a, *uniform_field(a.shape, DX, DY))
    noise = 0.01 * float(np.std(a))
    return a + noise * rng.standard_normal(a.shape), b + noise * rng.standard_normal(a.shape)


def test_concurrent_filtering_gives_the_serial_vectors(pair):
    serial = track_pair(*pair, threads=1)
    both = track_pair(*pair, threads=2)
    for name in ("dx", "dy", "ee", "flag", "quality"):
        np.testing.assert_array_equal(getattr(both, name), getattr(serial, name), err_msg=name)
    good = both.good
    assert good.mean() > 0.8
    err = np.hypot(both.dx[good] - DX, both.dy[good] - DY)
    assert np.sqrt(np.mean(err**2)) < 0.03 and err.max() < 0.1  # px, 1 % noise


def test_a_sequence_tracks_its_first_pair_as_track_pair(pair):
    (field,) = iter_track_sequence(iter([(pair[0], None), (pair[1], None)]), threads=2)
    alone = track_pair(*pair, threads=1)
    np.testing.assert_array_equal(field.dx, alone.dx)
    np.testing.assert_array_equal(field.flag, alone.flag)


def test_an_error_filtering_frame_b_in_its_thread_surfaces(pair, monkeypatch):
    real = tracking._prepare

    def prepare(image, mask, params, raw=None):
        if image is pair[1]:
            raise ValueError("frame B cannot be filtered")
        return real(image, mask, params, raw)

    monkeypatch.setattr(tracking, "_prepare", prepare)
    with pytest.raises(ValueError, match="frame B cannot be filtered"):
        track_pair(*pair, threads=2)


def test_large_frames_are_filtered_one_after_another(pair, monkeypatch):
    """Above CONCURRENT_FILTER_PX the two filters' temporaries never coexist."""
    monkeypatch.setattr(tracking, "CONCURRENT_FILTER_PX", pair[0].size - 1)
    monkeypatch.setattr(tracking, "ThreadPoolExecutor", lambda *a: pytest.fail("filtered in a thread"))
    field = track_pair(*pair, threads=2)
    np.testing.assert_array_equal(field.dx, track_pair(*pair, threads=1).dx)
