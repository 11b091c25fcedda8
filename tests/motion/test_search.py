"""Coarse-to-fine search against the exhaustive one, the kernel cache and threads (compiled against numpy: test_kernel_references.py)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
from support import ROOT

from cloudmotion import track_pair
from cloudmotion.grid import make_grid
from cloudmotion.motion.search import search_peaks
from cloudmotion.settings.params import TrackParams
from cloudmotion.tools.known_motion import uniform_field, vortex_shear_field, warp
from cloudmotion.track import _prepare


def _pair(radiance, field, noise=0.01, seed=0, nodata=None):
    b = warp(radiance, *field)
    rng = np.random.default_rng(seed)
    sd = noise * radiance.std()
    a = radiance + sd * rng.standard_normal(radiance.shape)
    b = b + sd * rng.standard_normal(radiance.shape)
    if nodata is not None:
        a[nodata] = np.nan
        b[nodata] = np.nan
    p = TrackParams()
    return _prepare(a, None, p), _prepare(b, None, p)


def _both(pa, pb, window=32, step=8, search=16, **kw):
    rows, cols = make_grid(pa.data.shape, window, step).top_left()
    out = {}
    for mode in ("c2f", "full"):
        out[mode] = search_peaks(
            pa.data, pa.valid, pb.data, pb.valid, rows, cols, window, search, mode=mode, frame_std=pa.std, **kw
        )
    return out["c2f"], out["full"]


def _same_peak(c, f):
    """Both undefined, or the same peak (same integer lag and hence the same 3-point fit)."""
    both_nan = np.isnan(c.dx) & np.isnan(f.dx)
    close = (np.abs(c.dx - f.dx) < 0.01) & (np.abs(c.dy - f.dy) < 0.01)
    return both_nan | close


@pytest.fixture(scope="module")
def vortex_pair(radiance):
    field = vortex_shear_field(radiance.shape, strength=4.0, radius=120.0, shear=1.5, drift=(3.0, -2.0))
    return _pair(radiance, field)


def test_c2f_equals_exhaustive_peak_on_warped_real_frame(vortex_pair):
    c, f = _both(*vortex_pair)
    same = _same_peak(c, f)
    assert same.size > 3000
    assert same.mean() >= 0.999, (~same).sum()
    for key in ("corr", "corr0"):
        ok = np.isfinite(getattr(f, key)) & same
        np.testing.assert_allclose(getattr(c, key)[ok], getattr(f, key)[ok], atol=2e-4)
    np.testing.assert_array_equal(c.valid, f.valid)
    np.testing.assert_allclose(c.std, f.std, rtol=1e-3)
    np.testing.assert_array_equal(c.border[same], f.border[same])


def test_c2f_second_peak_never_above_exhaustive(vortex_pair):
    c, f = _both(*vortex_pair)
    same = _same_peak(c, f) & np.isfinite(c.second) & np.isfinite(f.second)
    # the climbed competitor is a true local maximum: at most the exhaustive second peak
    assert np.all(c.second[same] <= f.second[same] + 1e-4)
    assert np.isfinite(c.second).mean() > 0.8
    assert np.mean(np.abs(c.second[same] - f.second[same]) < 1e-4) > 0.6


@pytest.mark.parametrize("search", [4, 32])
def test_c2f_agrees_at_other_search_ranges(vortex_pair, search):
    c, f = _both(*vortex_pair, step=16, search=search)
    assert _same_peak(c, f).mean() >= 0.995


@pytest.mark.parametrize(("dx", "dy"), [(2.3, -1.6), (-6.7, 5.45)])
def test_c2f_subpixel_accuracy(radiance, dx, dy):
    pa, pb = _pair(radiance, uniform_field(radiance.shape, dx, dy), noise=0.0)
    c, f = _both(pa, pb, step=16, subpixel="gaussian")
    ok = np.isfinite(c.dx)
    assert ok.mean() > 0.9
    err_c = np.sqrt(np.mean((c.dx[ok] - dx) ** 2 + (c.dy[ok] - dy) ** 2))
    ok_f = np.isfinite(f.dx)
    err_f = np.sqrt(np.mean((f.dx[ok_f] - dx) ** 2 + (f.dy[ok_f] - dy) ** 2))
    assert err_c < 0.35  # correlation alone, before refinement
    assert abs(err_c - err_f) < 2e-3
    mf = track_pair(radiance, warp(radiance, *uniform_field(radiance.shape, dx, dy)))
    e = np.hypot(mf.dx - dx, mf.dy - dy)[mf.good]
    assert mf.good.mean() > 0.85 and np.sqrt(np.mean(e**2)) <= 0.05


def test_c2f_nodata_stripe_matches_exhaustive(radiance):
    stripe = np.zeros(radiance.shape, bool)
    stripe[200:260, :] = True
    pa, pb = _pair(radiance, uniform_field(radiance.shape, 2.3, -1.6), nodata=stripe)
    c, f = _both(pa, pb)
    np.testing.assert_array_equal(np.isnan(c.corr), np.isnan(f.corr))
    assert _same_peak(c, f).mean() >= 0.995
    touched = (c.valid < 1) & (c.valid > 0)
    assert touched.sum() > 100  # templates straddling the stripe go through the masked path
    assert _same_peak(c, f)[touched].mean() >= 0.99


def test_min_overlap_rule_at_full_resolution():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((96, 96)).astype(np.float32)
    b = a.copy()
    valid_b = np.ones(a.shape, bool)
    valid_b[32:64, 32:42] = False  # 10 of the template's 32 columns: overlap 22/32 = 0.69 at lag 0
    rows, cols = np.array([32]), np.array([32])
    ok = np.ones(a.shape, bool)
    for mode in ("c2f", "full"):
        strict = search_peaks(a, ok, b, valid_b, rows, cols, 32, 8, min_overlap=0.75, mode=mode)
        loose = search_peaks(a, ok, b, valid_b, rows, cols, 32, 8, min_overlap=0.6, mode=mode)
        assert np.isnan(strict.corr0[0]), mode
        assert loose.corr0[0] == pytest.approx(1.0, abs=1e-5), mode
        assert abs(loose.dx[0]) < 0.1 and abs(loose.dy[0]) < 0.1  # the integer peak at lag 0


def test_threads_do_not_change_results(vortex_pair):
    pa, pb = vortex_pair
    rows, cols = make_grid(pa.data.shape, 32, 16).top_left()
    one, two = (search_peaks(pa.data, pa.valid, pb.data, pb.valid, rows, cols, 32, 16, threads=t) for t in (1, 2))
    for field in dataclasses.fields(one):
        np.testing.assert_array_equal(getattr(one, field.name), getattr(two, field.name))


def test_track_params_validate_mode_and_threads():
    assert TrackParams().search_mode == "c2f"
    with pytest.raises(ValueError, match="search_mode"):
        TrackParams(search_mode="fft")
    with pytest.raises(ValueError, match="threads"):
        TrackParams(threads=0)
    with pytest.raises(ValueError, match="mode"):
        search_peaks(*(np.zeros((40, 40), np.float32), np.ones((40, 40), bool)) * 2, [0], [0], 32, 4, mode="x")


def test_cache_dir_falls_back_when_package_dir_is_read_only(tmp_path):
    from cloudmotion.motion.kernels.jit import choose_cache_dir

    pkg = str(tmp_path / "pkg")

    def never_pkg(path):
        return not path.startswith(pkg)

    home = {"HOME": str(tmp_path / "home")}
    assert choose_cache_dir(pkg, environ=home, writable=lambda p: True) == ""
    assert choose_cache_dir(pkg, environ=home, writable=never_pkg) == os.path.join(
        home["HOME"], ".cache", "cloudmotion", "numba"
    )
    xdg = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert choose_cache_dir(pkg, environ=xdg, writable=never_pkg).startswith(xdg["XDG_CACHE_HOME"])
    fallback = choose_cache_dir(pkg, environ={}, writable=never_pkg)  # cron: HOME unset
    assert fallback.startswith(__import__("tempfile").gettempdir())
    assert choose_cache_dir(pkg, environ={}, writable=lambda p: False) is None
    assert choose_cache_dir(pkg, environ={"NUMBA_CACHE_DIR": "/x"}, writable=lambda p: False) == ""


def test_kernel_without_any_cache_still_compiles(monkeypatch):
    from cloudmotion.motion.kernels import jit

    monkeypatch.setattr(jit, "CACHE_DIR", None)

    @jit.kernel()
    def add(x, y):
        return x + y

    assert add(2, 3) == 5


def test_search_runs_with_home_unset_and_a_read_only_cache(tmp_path):
    code = (
        "import numpy as np; from cloudmotion.motion.search import search_peaks; "
        "a = np.random.default_rng(0).standard_normal((80, 80)).astype(np.float32); m = np.ones(a.shape, bool); "
        "o = search_peaks(a, m, np.roll(a, 2, 1), m, np.array([24]), np.array([24]), 32, 8); "
        "assert abs(o.dx[0] - 2) < 1e-3, o"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "file" / "cache")  # under a file: never creatable
    (tmp_path / "file").write_text("")
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    env.pop("NUMBA_CACHE_DIR")
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr


def test_batch_workers_share_the_cores_between_kernel_threads(monkeypatch):
    import dataclasses

    from cloudmotion.batch.job import share_cores
    from cloudmotion.settings.params import Settings

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert share_cores(Settings(), 2).params.threads == 2
    assert share_cores(Settings(), 8).params.threads == 1
    assert share_cores(Settings(), 1).params.threads is None  # one worker: all cores
    mine = dataclasses.replace(Settings(), params=TrackParams(threads=3))
    assert share_cores(mine, 2).params.threads == 3  # an explicit setting is kept
