"""Property-based fuzzing of the numeric core: odd shapes, masks, NaN, flat and extreme images.

CI runs a bounded number of examples; run longer with
``CLOUDMOTION_FUZZ_EXAMPLES=2000 pytest tests/cli/test_fuzz.py``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudmotion import Flag, track_pair
from cloudmotion.tools.known_motion import correlated_noise

EXAMPLES = int(os.environ.get("CLOUDMOTION_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frame_pairs(draw):
    rows = draw(st.integers(4, 72))
    cols = draw(st.integers(4, 72))
    window = draw(st.integers(4, max(4, min(rows, cols, 24))))
    step = draw(st.integers(1, max(1, window)))
    search = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["texture", "constant", "near-constant", "extreme", "tiny"]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    base = correlated_noise((rows, cols), draw(st.floats(0.5, 4.0)), seed=seed)
    if kind == "constant":
        a = np.full((rows, cols), draw(st.floats(-1e6, 1e6)))
    elif kind == "near-constant":
        a = 100.0 + 1e-9 * base
    elif kind == "extreme":
        a = base * draw(st.sampled_from([1e30, 1e-30, 3e38]))
    elif kind == "tiny":
        a = base * 1e-12
    else:
        a = base
    shift = draw(st.integers(-3, 3)), draw(st.integers(-3, 3))
    b = np.roll(a, shift, axis=(0, 1)) + draw(st.floats(0, 0.2)) * rng.standard_normal(a.shape) * np.std(a)
    for frame in (a, b):
        holes = rng.random(frame.shape) < draw(st.sampled_from([0.0, 0.05, 0.5, 0.99, 1.0]))
        frame[holes] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    mask = None
    if draw(st.booleans()):
        mask = rng.random((rows, cols)) > draw(st.floats(0, 1))
    return (
        a,
        b,
        mask,
        {
            "window": window,
            "step": step,
            "search": search,
            "sigma": draw(st.sampled_from([0.0, 1.0, 2.5])),
            "subpixel": draw(st.sampled_from(["gaussian", "parabolic", "centroid"])),
            "refine": draw(st.booleans()),
            "fb_check": draw(st.booleans()),
        },
    )


@FUZZ
@given(frame_pairs())
def test_core_never_crashes_or_reports_bad_good_vectors(case):
    a, b, mask, params = case
    try:
        with np.errstate(all="ignore"):
            mf = track_pair(a, b, mask_a=mask, mask_b=mask, **params)
    except ValueError as exc:  # the only documented failure: a window that does not fit
        assert "smaller than one" in str(exc)
        return
    good = mf.good
    assert mf.dx.shape == mf.dy.shape == mf.flag.shape == mf.quality.shape == mf.grid.shape
    assert np.all(np.isfinite(mf.dx[good])) and np.all(np.isfinite(mf.dy[good]))
    assert np.all(np.isfinite(mf.corr[good])) and np.all(np.isfinite(mf.quality[good]))
    assert np.all((mf.quality >= 0) & (mf.quality <= 100))
    assert np.all(np.abs(mf.dx[good]) <= params["search"] + 1.5)
    valid = np.isfinite(a) & (mask if mask is not None else True)
    w = params["window"]
    rows, cols = mf.grid.top_left()
    empty = np.array([not valid[r : r + w, c : c + w].any() for r, c in zip(rows, cols, strict=True)])
    assert not np.any(good.ravel()[empty])
    assert np.all(mf.flag.ravel()[empty] & Flag.NODATA)


@pytest.mark.parametrize("value", [np.nan, np.inf, 0.0, 65535.0])
def test_uniform_frames_give_only_flagged_vectors(value):
    a = np.full((64, 64), value)
    mf = track_pair(a, a.copy())
    assert not mf.good.any()


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"window": 0}, "window"),
        ({"window": -4}, "window"),
        ({"step": 0}, "step"),
        ({"search": -1}, "search"),
        ({"sigma": float("nan")}, "sigma"),
        ({"subpixel": "cubic"}, "subpixel"),
        ({"min_valid": 0}, "min_valid"),
    ],
)
def test_invalid_settings_raise_valueerror_naming_them(kw, name):
    a = correlated_noise((64, 64), 2.0)
    with pytest.raises(ValueError, match=name):
        track_pair(a, a, **kw)
