"""The fast paths give what the slow ones gave: CSV text, smoothing, plateau regions, and the
track command's imports (no scipy array-API layer, no tqdm when the bar is hidden)."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import ndimage
from support import ROOT, SAMPLE

from cloudmotion.files.times import format_iso
from cloudmotion.formats.csv import _FORMATS, format_column, write_csv_rows
from cloudmotion.formats.fixed_text import format_cells, join_rows
from cloudmotion.grid import gaussian_zero_border
from cloudmotion.model import CSV_COLUMNS, NUMERIC, Vectors
from cloudmotion.motion import plateau

EDGE = np.array(
    [
        np.nan,
        np.inf,
        -np.inf,
        0.0,
        -0.0,
        -1e-9,
        1e-9,
        0.5,
        -0.5,
        1.5,
        2.5,
        0.125,
        -0.125,
        0.375,
        0.05,
        0.15,
        0.25,
        0.35,
        1.00005,
        2.675,
        -2.675,
        0.00005,
        -0.00005,
        9.99995,
        99999.99995,
        123456789.987654,
        -4545111.375,
        3.0e15,
        -7.9e16,
        1e300,
        -1e300,
        5e-324,
        np.nextafter(0.5, 1.0),
        np.nextafter(0.5, 0.0),
        255.0,
        -3.7,
        3.7,
    ]
)


def _reference_rows(times: str, vectors: Vectors) -> str:
    """The writer as it was: one ``numpy.char`` pass per column (format_column), joined per row."""
    lines = np.full(vectors.n, times)
    for name in CSV_COLUMNS[2:]:
        lines = np.char.add(np.char.add(lines, ","), format_column(vectors.values[name], _FORMATS[name]))
    return "\n".join(lines.tolist()) + "\n"


@pytest.mark.parametrize("fmt", ["%d", "%.0f", "%.1f", "%.2f", "%.3f", "%.4f", "%.6f", "%.9f"])
def test_cells_equal_python_formatting_on_edge_and_random_values(fmt):
    rng = np.random.default_rng(7)
    scale = 10.0 ** rng.integers(-6, 9, 4000)
    random = rng.standard_normal(4000) * scale
    # values exactly on a tie of the last digit, and one ulp either side of it
    ties = (rng.integers(-(10**6), 10**6, 2000) + 0.5) / 10 ** int(fmt[2]) if fmt != "%d" else rng.normal(size=2000)
    near = np.concatenate([np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf)])
    values = np.concatenate([EDGE, random, ties, near, np.round(random, 3)])
    lines = join_rows("", [format_cells(values, fmt)]).splitlines()
    assert lines == ["," + cell for cell in format_column(values, fmt).tolist()]


def test_csv_rows_byte_identical_to_the_per_column_writer():
    rng = np.random.default_rng(3)
    n = 3000
    values = {}
    for name in NUMERIC:
        v = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 7, n)
        v[rng.random(n) < 0.15] = np.nan  # empty cells
        v[rng.random(n) < 0.02] = -0.0
        v[: len(EDGE)] = EDGE
        if name == "flag":  # int64 in Vectors: no NaN
            v = rng.integers(0, 2**20, n)
        values[name] = v
    vec = Vectors(
        values=values,
        time_a=datetime(2020, 1, 4, 3, 16, tzinfo=UTC),
        time_b=datetime(2020, 1, 4, 3, 21, tzinfo=UTC),
    )
    out = io.StringIO()
    assert write_csv_rows(out, vec) == n
    times = f"{format_iso(vec.time_a)},{format_iso(vec.time_b)}"
    assert out.getvalue() == _reference_rows(times, vec)


def test_empty_times_and_zero_rows():
    vec = Vectors(values={name: np.array([np.nan, 1.25]) for name in NUMERIC if name != "flag"})
    out = io.StringIO()
    write_csv_rows(out, vec)
    assert out.getvalue() == _reference_rows(",", vec)
    assert join_rows("x", [format_cells(np.zeros(0), "%.2f")]) == ""


def test_gaussian_zero_border_equals_scipy_constant_mode():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (2, 3), (7, 40), (89, 154)]:
        x = rng.standard_normal(shape)
        for sigma in (0.5, 1.0, 2.3):
            np.testing.assert_allclose(
                gaussian_zero_border(x, sigma), ndimage.gaussian_filter(x, sigma, mode="constant"), rtol=0, atol=1e-12
            )


def test_plateau_regions_equal_scipy_labelling():
    rng = np.random.default_rng(2)
    for _ in range(20):
        image = (rng.random((60, 90)) < rng.uniform(0.3, 0.7)).astype(np.float32)
        valid = rng.random(image.shape) > 0.05
        got, count, edge = plateau._regions(image, valid, 1.0, border_px=20, large_px=60)
        lab, n = ndimage.label(valid & (image == 1.0))
        sizes = np.bincount(lab.ravel(), minlength=n + 1)
        touches = np.zeros(n + 1, bool)
        touches[np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))] = True
        keep = (touches & (sizes >= 20)) | (sizes >= 60)
        keep[0] = False
        assert np.array_equal(got, keep[lab])
        assert count == int(keep.sum())
        assert edge == bool((keep & touches).any())


IMPORT_PROBE = """
import runpy, sys
sys.argv = ["cloudmotion", "track", *sys.argv[1:]]
try:
    runpy.run_module("cloudmotion.cli.main", run_name="__main__")
except SystemExit as exc:
    assert not exc.code, exc.code
# scipy.fft (and with it scipy's array-API layer) is imported on purpose, by the expected
# error's lag sums: its batched FFT is about 3x numpy's. Nothing else of scipy, nor tqdm.
heavy = ("scipy.ndimage", "scipy.linalg", "scipy.signal", "scipy.interpolate", "tqdm")
print(" ".join(sorted(m for m in sys.modules if m in heavy)) or "none")
"""


def test_track_command_imports_only_the_scipy_it_needs(tmp_path):
    out = tmp_path / "v.csv"
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, SAMPLE[0], SAMPLE[1], "--search", "16", "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "none"
    assert out.read_text().count("\n") > 100


def test_kernel_helpers_are_never_called_with_literal_ints():
    """A literal int argument makes numba compile one more copy of the helper (a longer first run)."""
    import ast
    import pathlib

    folder = pathlib.Path(ROOT, "cloudmotion", "motion", "kernels")
    found = []
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text())
        kernels = {
            f.name
            for f in tree.body
            if isinstance(f, ast.FunctionDef)
            and any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "kernel" for d in f.decorator_list)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in kernels:
                for arg in node.args:
                    inner = arg.operand if isinstance(arg, ast.UnaryOp) else arg
                    if isinstance(inner, ast.Constant) and type(inner.value) is int:
                        found.append(f"{path.name}:{node.lineno} {node.func.id}")
    assert not found, found


def _holes(shape, seed):
    rng = np.random.default_rng(seed)
    valid = np.ones(shape, bool)
    valid[rng.random(shape) < 0.02] = False
    valid[40:70, 10:45] = False  # a NoData block
    return valid


def test_normalized_gaussian_equals_scipy_normalised_convolution(radiance):
    from cloudmotion.motion.prefilter import normalized_gaussian

    img = radiance[:200, :260].copy()
    valid = _holes(img.shape, 4)
    img[~valid] = np.nan
    got = normalized_gaussian(img, valid, 1.3)
    x = np.where(valid, img, 0.0)
    num = ndimage.gaussian_filter(x, 1.3, mode="constant")
    den = ndimage.gaussian_filter(valid.astype(np.float64), 1.3, mode="constant")
    want = np.where(valid, num / np.maximum(den, 1e-12), 0.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6 * np.abs(want).max())
    assert np.all(got[~valid] == 0)
