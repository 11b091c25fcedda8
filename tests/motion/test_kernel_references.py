"""Every compiled stage against its numpy reference (cloudmotion.motion.kernels.backend), and the switch.

Inputs: the real sample frame, warped by a vortex with shear and drift, with 1 % noise,
a NoData stripe across both frames and scattered holes in B, so that the dense and the
masked NCC paths and the min_overlap rule all run. The kernels sum in float32 with
fastmath, the references by FFT (search) or in another order (refinement), so results
agree to rounding. Measured on these inputs: every integer lag equal; coefficients within
1e-5 (16 px coarse templates) and 1e-6 (32 px); search displacements within 5e-5 px;
refinement 1e-5 px RMS, 4e-4 px at most. Asserted, with margin for other platforms:
coefficients within 1e-4, displacements within 1e-3 px, refinement 1e-3 px RMS and 0.02
px at most, equal lags on at least 99.5 % of templates (a near tie may resolve either way).
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from support import ROOT

from cloudmotion.grid import make_grid
from cloudmotion.motion.kernels import backend
from cloudmotion.motion.kernels.backend import STAGES, reference_kernels, resolve, using_references
from cloudmotion.motion.refine import frame_gradients, lucas_kanade
from cloudmotion.motion.results import RefineResult, SearchResult
from cloudmotion.motion.search import search_peaks
from cloudmotion.settings.params import TrackParams
from cloudmotion.tools.known_motion import vortex_shear_field, warp
from cloudmotion.track import _prepare

WINDOW, SEARCH = 32, 16


@pytest.fixture(scope="module")
def pair(radiance):
    """Prepared frames A and B (data, valid), and the template grid."""
    field = vortex_shear_field(radiance.shape, strength=4.0, radius=120.0, shear=1.5, drift=(3.0, -2.0))
    rng = np.random.default_rng(5)
    sd = 0.01 * radiance.std()
    a = radiance + sd * rng.standard_normal(radiance.shape)
    b = warp(radiance, *field) + sd * rng.standard_normal(radiance.shape)
    a[200:230, :] = np.nan
    b[200:230, :] = np.nan
    for r, c in rng.integers(0, 495, size=(60, 2)):
        b[r : r + 4, c : c + 4] = np.nan
    p = TrackParams()
    pa, pb = _prepare(a, None, p), _prepare(b, None, p)
    rows, cols = make_grid(pa.data.shape, WINDOW, 12).top_left()
    return pa, pb, rows, cols


def _both(stage, *args, **kw):
    entry = STAGES[stage]
    return resolve(entry.compiled)(*args, **kw), resolve(entry.reference)(*args, **kw)


def _case_halve(pair):
    pa, pb, _, _ = pair
    for frame in (pa, pb):
        (cd, cm), (rd, rm) = _both("halve", frame.data, frame.valid)
        np.testing.assert_array_equal(cm, rm)
        np.testing.assert_array_equal(cd, rd)  # no fastmath: the same float32 sums in the same order


def _case_template_stats(pair):
    pa, _, rows, cols = pair
    (cc, cmean, cvar), (rc, rmean, rvar) = _both("template_stats", pa.data, pa.valid, rows, cols, WINDOW)
    np.testing.assert_array_equal(cc, rc)
    assert ((cc > 0) & (cc < WINDOW * WINDOW)).sum() > 50  # templates on the stripe and the holes
    np.testing.assert_allclose(cmean, rmean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cvar, rvar, rtol=1e-9)


def _agree(pos_c, val_c, pos_r, val_r, share):
    """Same lags on at least ``share`` of the rows; coefficients within 1e-4 where the lags agree."""
    same = (pos_c == pos_r).all(axis=1)
    assert same.mean() >= share, (~same).sum()
    np.testing.assert_array_equal(np.isnan(val_c[same]), np.isnan(val_r[same]))
    np.testing.assert_allclose(val_c[same], val_r[same], atol=1e-4)
    return same


def _coarse(pair, fn=None):
    pa, pb, rows, cols = pair
    halve = resolve(STAGES["halve"].compiled)
    frames = (*halve(pa.data, pa.valid), *halve(pb.data, pb.valid))
    args = (*frames, rows >> 1, cols >> 1, WINDOW >> 1, SEARCH // 2, 0.75, 1)
    return frames, args


def _case_coarse_search(pair):
    _, args = _coarse(pair)
    (pc, vc), (pr, vr) = _both("coarse_search", *args)
    assert np.isfinite(vc[:, 0]).mean() > 0.9 and np.isfinite(vc[:, 1]).mean() > 0.5
    _agree(pc[:, :2], vc[:, :1], pr[:, :2], vr[:, :1], 0.999)
    _agree(pc[:, 2:], vc[:, 1:], pr[:, 2:], vr[:, 1:], 0.99)  # the competitor: a near tie may pick another


def _case_climb(pair):
    pa, pb, rows, cols = pair
    _, args = _coarse(pair)
    pos, _ = resolve(STAGES["coarse_search"].compiled)(*args)
    frames = (pa.data, pa.valid, pb.data, pb.valid)
    for half, lag0, start in ((3, True, 2 * pos[:, :2]), (1, False, 2 * pos[:, 2:])):
        start = np.ascontiguousarray(start + np.array([1, -1]))  # off the peak: the climb has to move
        tail = (WINDOW, SEARCH, half, 2 * SEARCH, 0.75, lag0)
        (pc, vc), (pr, vr) = _both("climb", *frames, rows, cols, start[:, 0].copy(), start[:, 1].copy(), *tail)
        _agree(pc, vc, pr, vr, 0.995)
        if lag0:
            assert np.isfinite(vc[:, 5]).mean() > 0.8


def _case_gradients(pair):
    from scipy import ndimage

    pa, _, _, _ = pair
    (cy, cx, cm), (ry, rx, rm) = _both("gradients", pa.data, pa.valid)
    for got, want in ((cy, ry), (cx, rx), (cm, rm)):
        np.testing.assert_array_equal(got, want)
    # and the reference is what it says: np.gradient where the valid cross allows
    cross = ndimage.binary_erosion(pa.valid, structure=ndimage.generate_binary_structure(2, 1), border_value=0)
    gy, gx = np.gradient(np.where(pa.valid, pa.data, 0).astype(np.float32))
    np.testing.assert_array_equal(rm, cross)
    np.testing.assert_array_equal(ry, np.where(cross, gy, 0))
    np.testing.assert_array_equal(rx, np.where(cross, gx, 0))


def _case_refine(pair):
    pa, pb, rows, cols = pair
    c = search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, WINDOW, SEARCH)
    todo = np.isfinite(c.dx)
    grads = frame_gradients(pa.data, pa.valid)
    args = (pa.data, grads, pa.valid, pb.data, pb.valid, rows[todo], cols[todo], WINDOW, c.dx[todo], c.dy[todo])
    for interpolation in ("bicubic", "bilinear"):
        kw = {"max_iter": 20, "tol": 5e-3, "interpolation": interpolation}
        new, old = _both("refine", *args, **kw)
        assert isinstance(new, RefineResult) and isinstance(old, RefineResult)
        d = np.hypot(new.dx - old.dx, new.dy - old.dy)
        assert np.sqrt(np.mean(d**2)) < 1e-3 and d.max() < 0.02
        assert np.mean(new.failed != old.failed) < 0.005
        np.testing.assert_allclose(new.tensor, old.tensor, rtol=1e-6)
        np.testing.assert_allclose(new.moments, old.moments, rtol=1e-5, atol=1e-6 * np.abs(old.moments).max())


def _case_ee(pair):
    """Terms at displacements near the warp's, with NoData, holes and a left-out patch in A."""
    from cloudmotion.motion.ee_terms import template_terms
    from cloudmotion.motion.expected_error import prefilter_noise_factors

    pa, pb, rows, cols = pair
    rng = np.random.default_rng(3)
    dx = 3.0 + 0.5 * rng.standard_normal(rows.size)
    dy = -2.0 + 0.5 * rng.standard_normal(rows.size)
    dx[5] = np.nan  # no displacement: NaN terms
    exclude = np.zeros(pa.data.shape, bool)
    exclude[300:340, 300:360] = True
    kw = {"exclude": exclude, "rho": prefilter_noise_factors(1.0)[0]}
    for window in (WINDOW, WINDOW + 1):  # 2 x 2 px blocks, and pixel by pixel (an odd window)
        inside = (rows + window <= pa.data.shape[0]) & (cols + window <= pa.data.shape[1])
        args = (pa.data, pa.valid, pb.data, pb.valid, rows[inside], cols[inside], window, dx[inside], dy[inside])
        with reference_kernels():
            ref = template_terms(*args, **kw)
        got = template_terms(*args, threads=2, **kw)
        assert ((ref.count > 0) & (ref.count < window * window)).sum() > 50  # templates on the gaps
        names = ("count", "tensor", "residual_var", "grad_corr", "peak_corr", "curvature", "lag_cov", "lag_noise")
        for name in names:
            x, y = getattr(ref, name), getattr(got, name)
            assert np.array_equal(np.isnan(x), np.isnan(y)), name
            ok = np.isfinite(x)
            scale = max(1.0, float(np.abs(x[ok]).max()))
            np.testing.assert_allclose(y[ok], x[ok], rtol=2e-3, atol=1e-5 * scale, err_msg=f"{name}, {window} px")


CASES = {
    "ee": _case_ee,
    "halve": _case_halve,
    "template_stats": _case_template_stats,
    "coarse_search": _case_coarse_search,
    "climb": _case_climb,
    "gradients": _case_gradients,
    "refine": _case_refine,
}


def _resolvable(stage):
    try:
        resolve(STAGES[stage].compiled), resolve(STAGES[stage].reference)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_compiled_stage_agrees_with_its_numpy_reference(pair, stage):
    if stage not in CASES:
        if not _resolvable(stage):
            pytest.skip(f"{stage}: {STAGES[stage].compiled} is not defined yet")
        pytest.fail(f"stage {stage!r} has no agreement case in this file")
    CASES[stage](pair)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_reference_has_the_compiled_signature(stage):
    if not _resolvable(stage):
        pytest.skip(f"{stage}: {STAGES[stage].compiled} is not defined yet")
    compiled = resolve(STAGES[stage].compiled)
    reference = resolve(STAGES[stage].reference)
    want = inspect.signature(getattr(compiled, "py_func", compiled)).parameters
    got = inspect.signature(reference).parameters
    assert [(p.name, p.kind) for p in got.values()] == [(p.name, p.kind) for p in want.values()]
    assert [p.default for p in got.values()] == [p.default for p in want.values()]


@pytest.mark.parametrize(("window", "search"), [(32, 16), (32, 3), (32, 64), (48, 130)])
def test_search_under_reference_kernels_agrees_with_the_compiled_search(pair, window, search):
    """One pyramid level, none, two and three: the intermediate climbs run on the references too."""
    pa, pb, _, _ = pair
    rows, cols = make_grid(pa.data.shape, window, 12).top_left()
    c = search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, window, search, frame_std=pa.std)
    with reference_kernels():
        r = search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, window, search, frame_std=pa.std)
    assert isinstance(c, SearchResult) and isinstance(r, SearchResult)
    both = np.isfinite(c.dx) & np.isfinite(r.dx)
    assert both.sum() > 300  # at search 3 most peaks of this flow lie on the border: NaN on both sides
    assert np.mean(np.isfinite(c.dx) == np.isfinite(r.dx)) >= 0.995
    close = (np.abs(c.dx - r.dx) <= 1e-3) & (np.abs(c.dy - r.dy) <= 1e-3)
    assert close[both].mean() >= 0.995, (~close[both]).sum()
    for name in ("corr", "corr0"):
        x, y = getattr(c, name)[close], getattr(r, name)[close]
        np.testing.assert_array_equal(np.isnan(x), np.isnan(y))
        np.testing.assert_allclose(x, y, atol=1e-4)
    second = np.isfinite(c.second) & np.isfinite(r.second) & close
    assert np.mean(np.abs(c.second - r.second)[second] <= 1e-4) >= 0.99
    np.testing.assert_array_equal(c.border[close], r.border[close])
    np.testing.assert_array_equal(c.limit[close], r.limit[close])
    np.testing.assert_array_equal(c.valid, r.valid)
    np.testing.assert_allclose(c.std, r.std, rtol=1e-9)
    assert (c.valid < 1).sum() > 100  # masked templates were compared too


def test_reference_kernels_really_switches(pair, monkeypatch):
    """With every compiled entry replaced by one that raises, the search and refinement still run inside the block."""
    pa, pb, rows, cols = pair
    rows, cols = rows[:40], cols[:40]

    def run():
        c = search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, WINDOW, SEARCH)
        grads = frame_gradients(pa.data, pa.valid)
        ok = np.isfinite(c.dx)
        return lucas_kanade(pa.data, grads, pa.valid, pb.data, pb.valid, rows[ok], cols[ok], WINDOW, c.dx[ok], c.dy[ok])

    def boom(*args, **kwargs):
        raise AssertionError("a compiled stage ran inside reference_kernels()")

    for stage in STAGES:
        if _resolvable(stage):
            module, _, name = STAGES[stage].compiled.partition(":")
            monkeypatch.setattr(sys.modules[module], name, boom)
    with pytest.raises(AssertionError, match="compiled stage ran"):
        run()  # outside the block the compiled entries are called
    assert not using_references()
    with reference_kernels():
        assert using_references()
        res = run()
    assert not using_references()
    assert isinstance(res, RefineResult) and np.isfinite(res.dx).all()


def test_reference_switch_stays_in_its_thread():
    seen = []
    with reference_kernels():
        worker = threading.Thread(target=lambda: seen.append(using_references()))
        worker.start()
        worker.join()
        seen.append(using_references())
    assert seen == [False, True]


def test_reference_path_loads_no_numba():
    code = (
        "import sys, numpy as np\n"
        "from cloudmotion.motion.kernels.backend import reference_kernels\n"
        "from cloudmotion.motion.refine import frame_gradients, lucas_kanade\n"
        "from cloudmotion.motion.search import search_peaks\n"
        "a = np.random.default_rng(0).standard_normal((120, 120)).astype(np.float32)\n"
        "m = np.ones(a.shape, bool); m[50:54, :] = False\n"
        "b = np.roll(a, (1, 2), (0, 1)); r = np.array([8, 40, 72]); c = np.array([8, 40, 72])\n"
        "with reference_kernels():\n"
        "    o = search_peaks(a, m, b, m, r, c, 32, 8, threads=2)\n"
        "    g = frame_gradients(a, m)\n"
        "    f = lucas_kanade(a, g, m, b, m, r, c, 32, o.dx, o.dy)\n"
        "assert np.allclose(o.dx, 2, atol=0.1) and np.allclose(f.dx, 2, atol=1e-3) and np.allclose(f.dy, 1, atol=1e-3)\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('numba', 'llvmlite')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_missing_stage_function_is_named():
    with pytest.raises(ImportError, match="cloudmotion.motion.search has no '_nothing'"):
        resolve("cloudmotion.motion.search:_nothing")
    with pytest.raises(ValueError, match="threads"), reference_kernels():
        backend.run("template_stats", 0, (np.zeros((4, 4), np.float32), np.ones((4, 4), bool)), ([0], [0]), (2,))
