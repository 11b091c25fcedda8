"""The README's worked examples run verbatim: each shell block of its "Examples" section is
run line by line with bash in a temporary folder holding sample_data/, and every command
must exit 0 and write the outputs it names."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys

import pytest
from support import ROOT

README = os.path.join(ROOT, "README.md")


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.DOTALL | re.MULTILINE)
    assert m, f"README lost its '{title}' section"
    return m.group(1)


def _commands(block: str) -> list[str]:
    """Shell lines of a block, continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def example_blocks() -> list[list[str]]:
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    blocks = re.findall(r"```sh\n(.*?)```", _section(text, "Examples"), re.DOTALL)
    return [cmds for cmds in map(_commands, blocks) if cmds]


def test_readme_is_short_and_keeps_the_set_up_commands():
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    assert len(text.splitlines()) <= 150
    # .ci/run greps this line and runs it; the first line installs and tracks the samples
    assert 'python3 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/pytest -q' in text
    assert "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/cloudmotion track sample_data/*.tif" in text
    assert len(example_blocks()) >= 3, "the pair, batch and nowcast examples"


def _shim(bindir) -> None:
    """A ``cloudmotion`` on the PATH that runs this checkout with this interpreter."""
    path = bindir / "cloudmotion"
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m cloudmotion.cli.main "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("commands", example_blocks(), ids=lambda c: c[0].split()[1])
def test_readme_example_runs_verbatim(tmp_path, commands):
    pytest.importorskip("matplotlib")  # the examples draw a quick-look: the plot extra
    missing = sorted({c.split()[0] for c in commands} - {"cloudmotion"} - {p for p in ("jq",) if shutil.which(p)})
    if missing:
        pytest.skip(f"needs {', '.join(missing)} on the PATH")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _shim(bindir)
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(os.path.join(ROOT, "sample_data"), work / "sample_data")
    env = dict(
        os.environ,
        PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
    )
    for command in commands:
        proc = subprocess.run(
            ["bash", "-c", command],
            check=False,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
        assert "error" not in proc.stderr, f"{command}\n{proc.stderr}"
        words = shlex.split(command)
        for flag, value in itertools.pairwise(words):
            if flag == "-o" and "{" not in value and value != "-":
                assert os.path.exists(work / value), f"{command}: {value} not written"
