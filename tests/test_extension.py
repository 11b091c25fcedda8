"""Each extension point takes a new entry by registration alone, and it runs end to end.

These are CONTRIBUTING.md's "how to add one" recipes, executed: a toy correlation method, a
toy reader (.npy frames), a toy writer chosen by the longest suffix, and a toy QC test.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import toy_plugins

from cloudmotion import registry, track_pair
from cloudmotion.formats.writers import register_writer
from cloudmotion.qc.checks import QC_TESTS, QCTest
from cloudmotion.tools.known_motion import uniform_field, warp

SHIFT = (1.4, -0.6)  # dx, dy in px


@pytest.fixture
def pair(radiance):
    a = radiance[:160, :160]
    dx, dy = uniform_field(a.shape, *SHIFT)
    return a, warp(a, dx, dy)


def interior(field, margin: int = 8):
    ok = field.good & (field.row > margin) & (field.col > margin)
    return field.dx[ok], field.dy[ok]


def test_a_registered_correlation_method_tracks_a_known_shift(pair):
    registry.CORRELATORS.register("toy-sad", "toy_plugins:sad_surfaces")
    try:
        field = track_pair(*pair, window=24, step=12, search=4, correlation="toy-sad")
    finally:
        registry.CORRELATORS.unregister("toy-sad")
    dx, dy = interior(field)
    assert dx.size > 50
    assert np.sqrt(np.mean((dx - SHIFT[0]) ** 2 + (dy - SHIFT[1]) ** 2)) < 0.05  # refined by Lucas-Kanade


def test_an_unknown_method_is_refused_with_the_choices(pair):
    with pytest.raises(ValueError, match="correlation must be one of ncc"):
        track_pair(*pair, correlation="nope")


def test_a_registered_reader_feeds_the_command_line(tmp_path, pair, run):
    a, b = pair
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    registry.READERS.register("toy-npy", toy_plugins.READER, first=True)
    try:
        code, _, err = run(
            "track", tmp_path / "a.npy", tmp_path / "b.npy", "--window", "24", "-o", tmp_path / "v.csv", "-q"
        )
    finally:
        registry.READERS.unregister("toy-npy")
    assert code == 0, err
    with open(tmp_path / "v.csv") as fh:
        rows = [r for r in csv.DictReader(fh) if r["flag"] == "0" and float(r["row"]) > 8 and float(r["col"]) > 8]
    dx = np.array([float(r["dx"]) for r in rows])
    assert dx.size > 20 and np.abs(np.median(dx) - SHIFT[0]) < 0.02


def test_a_registered_writer_wins_by_the_longest_suffix(tmp_path, run):
    from support import SAMPLE

    register_writer(toy_plugins.WRITER)
    try:
        code, _, err = run(
            "track",
            *SAMPLE[:2],
            "--window",
            "64",
            "--step",
            "64",
            "-o",
            tmp_path / "v.toy.csv",
            "-o",
            tmp_path / "v.csv",
            "-q",
        )
    finally:
        registry.WRITERS.unregister("toy-text")
        registry.WRITER_SUFFIXES.pop(".toy.csv")
    assert code == 0, err
    toy = (tmp_path / "v.toy.csv").read_text().splitlines()
    plain = (tmp_path / "v.csv").read_text().splitlines()
    assert plain[0].startswith("time_a,") and len(toy) == len(plain) - 1
    assert all(len(line.split(" ")) == 2 for line in toy)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".part")]


def test_a_registered_qc_test_sets_its_bit_in_the_one_pass(pair):
    bit = 1 << 20
    QC_TESTS.register("toy-eastward", QCTest(bit, (), lambda ctx: ctx.field.dx > 1.0, "moves east by > 1 px"))
    try:
        field = track_pair(*pair, window=24, step=12, search=4)
    finally:
        QC_TESTS.unregister("toy-eastward")
    measured = np.isfinite(field.dx)
    assert ((field.flag[measured] & bit) != 0).all()  # every measured vector moves 1.4 px east
    assert (field.flag[~measured] & bit == 0).all()
    assert track_pair(*pair, window=24, step=12, search=4).flag.max() < bit  # gone once unregistered
