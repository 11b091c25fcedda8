"""Plug-ins from the command line: a tiny package, pip-installed into a folder of the test's own,
adds one entry of each registry through entry points, and the CLI uses every one of them."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cloudmotion.tools.known_motion import uniform_field, warp

SHIFT = (1.4, -0.6)  # dx, dy in px
PLUGIN_BIT = 1 << 20

PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "cloudmotion-toy-plugins"
version = "1.0"

[tool.setuptools]
py-modules = ["toy_plugins"]

[project.entry-points."cloudmotion.correlators"]
toy-sad = "toy_plugins:sad_surfaces"

[project.entry-points."cloudmotion.subpixel"]
toy-parabolic = "toy_plugins:parabolic"

[project.entry-points."cloudmotion.readers"]
toy-npy = "toy_plugins:READER"

[project.entry-points."cloudmotion.writers"]
toy-text = "toy_plugins:WRITER"

[project.entry-points."cloudmotion.qc_tests"]
toy-eastward = "toy_plugins:EASTWARD"
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The toy plug-in package, built and pip-installed into a folder of its own."""
    pytest.importorskip("setuptools", reason="building the toy plug-in needs setuptools")
    src = tmp_path_factory.mktemp("toy_src")
    (src / "pyproject.toml").write_text(PYPROJECT)
    shutil.copy(Path(__file__).with_name("toy_plugins.py"), src / "toy_plugins.py")
    site = tmp_path_factory.mktemp("toy_site")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index"]
    done = subprocess.run([*cmd, "--target", str(site), str(src)], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return site


def cli(site, *args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    code = "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], check=False, capture_output=True, text=True, env=env, cwd=cwd
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def npy_pair(tmp_path, radiance):
    a = radiance[:128, :128]
    dx, dy = uniform_field(a.shape, *SHIFT)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", warp(a, dx, dy))
    return tmp_path / "a.npy", tmp_path / "b.npy"


def test_every_kind_of_plugin_works_from_the_command_line(plugin_site, npy_pair, tmp_path):
    (tmp_path / "qc.toml").write_text("[qc.toy-eastward]\nmax_dx = 1.0\n")
    code, _, err = cli(
        plugin_site,
        "track",
        *npy_pair,
        "--window",
        "24",
        "--search",
        "4",
        "--correlation",
        "toy-sad",
        "--subpixel",
        "toy-parabolic",
        "--config",
        tmp_path / "qc.toml",
        "-o",
        tmp_path / "v.csv",
        "-o",
        tmp_path / "v.toy.csv",
        "-q",
        cwd=tmp_path,
    )
    assert code == 0, err
    with open(tmp_path / "v.csv") as fh:
        rows = list(csv.DictReader(fh))
    flags = np.array([int(r["flag"]) for r in rows])
    dx = np.array([float(r["dx"]) if r["dx"] else np.nan for r in rows])
    moved = np.isfinite(dx) & (dx > 1.0)
    assert moved.sum() > 20
    # the QC plug-in's bit, with the threshold from its own config table, on exactly the fast ones
    assert np.all(flags[moved] & PLUGIN_BIT) and not np.any(flags[~moved] & PLUGIN_BIT)
    # the reader, correlator and sub-pixel plug-ins measured the known shift
    inner = np.array([float(r["row"]) > 8 and float(r["col"]) > 8 for r in rows]) & np.isfinite(dx)
    assert abs(np.median(dx[inner]) - SHIFT[0]) < 0.05
    toy = (tmp_path / "v.toy.csv").read_text().splitlines()
    assert len(toy) == len(rows)


def test_plugins_are_listed_without_importing_them(plugin_site, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(plugin_site))
    code = (
        "import sys; from cloudmotion import registry;"
        "print(registry.CORRELATORS.names(), registry.READERS.names()[0]);"
        "print('toy_plugins' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["['ncc', 'toy-sad'] toy-npy", "False False"]


def test_a_qc_plugin_on_a_project_bit_is_refused(plugin_site, npy_pair, tmp_path):
    bad = tmp_path / "bad_site"
    bad.mkdir()
    (bad / "bad_qc.py").write_text(
        "from cloudmotion.qc.checks import QCTest\nBAD = QCTest(4096, (), lambda ctx: None, 'takes a project bit')\n"
    )
    info = bad / "bad_qc-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-qc\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[cloudmotion.qc_tests]\nbad = bad_qc:BAD\n")
    code, _, err = cli(
        f"{bad}{os.pathsep}{plugin_site}",
        "track",
        *npy_pair,
        "--window",
        "24",
        "--search",
        "4",
        "-o",
        tmp_path / "v.csv",
        "-q",
        cwd=tmp_path,
    )
    assert code == 2
    assert err.strip() == ("cloudmotion: error: QC plug-in 'bad': flag bit 4096 is the project's; use 2**20 or above")
    assert not (tmp_path / "v.csv").exists()
