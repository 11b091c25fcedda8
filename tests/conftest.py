"""Shared fixtures: real GOES radiance from sample_data/ and a CLI runner (plain helpers: support.py)."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from support import SAMPLE

from cloudmotion.cli.main import main


@pytest.fixture(scope="session")
def radiance() -> np.ndarray:
    """Real GOES-17 band 13 radiance (500 x 500) from the first sample frame."""
    with rasterio.open(SAMPLE[0]) as ds:
        return ds.read(1).astype(np.float64)


@pytest.fixture
def hide_module(monkeypatch):
    """``hide_module("netCDF4")``: importing that package (or its submodules) fails, as if not installed."""
    import builtins

    real_import = builtins.__import__

    def hide(prefix: str) -> None:
        def guarded(name, *a, **k):
            if name.startswith(prefix):
                raise ImportError(f"No module named '{prefix}'")
            return real_import(name, *a, **k)

        monkeypatch.setattr(builtins, "__import__", guarded)

    return hide


@pytest.fixture
def run(capsys):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""

    def _run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return _run
