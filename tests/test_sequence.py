"""A pair's two frames are filtered concurrently: the same vectors as serially; a sequence's as a pair's."""

from __future__ import annotations

import numpy as np
import pytest

from cloudmotion import sequence, track_pair
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


@pytest.mark.parametrize("frames", [1, 2])
def test_an_error_filtering_a_sequence_first_frame_surfaces(pair, monkeypatch, frames):
    real = sequence._prepare
    calls = []

    def prepare(image, *args):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first frame cannot be filtered")
        return real(image, *args)

    monkeypatch.setattr(sequence, "_prepare", prepare)
    with pytest.raises(ValueError, match="first frame cannot be filtered"):
        list(iter_track_sequence(iter([(f, None) for f in pair[:frames]]), threads=2))
