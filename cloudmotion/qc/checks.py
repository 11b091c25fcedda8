"""Quality control: the ``flag`` bitmask, the registry of QC tests, and the one pass that sets flags.

Every vector carries ``flag`` (0 = good, otherwise the OR of the reasons below) and
``quality``, a score from 0 (worthless) to 100 (fully trusted). Flags are *derived*: a
:class:`~cloudmotion.model.MotionField` holds the measurements and diagnostics (valid
fraction, correlation, refinement outcome, forward-backward miss, temporal difference,
speed), and :func:`assess` runs every registered :class:`QCTest` over them in order, in
one pass, and returns the field with ``flag``, ``median_residual`` and ``quality`` set.
When a later stage adds a diagnostic (the next pair's vectors, the speed in m/s) it calls
:func:`assess` again. Only :func:`cloudmotion.qc.fill.fill_flagged` changes a field after that (``FILLED``).

Adding a test: write ``test(ctx) -> mask`` (True = flag the vector; None = not
applicable, e.g. no speed known) and register it::

    from cloudmotion.qc.checks import Flag, QCTest, QC_TESTS
    QC_TESTS.register("my_test", QCTest(Flag.MY_BIT, ("my_threshold",), my_test, "why"))

A new bit is appended to :class:`Flag`, never renumbered. Tests run in registration order
and see ``ctx.flag`` as set by the tests before them.

References
----------
Westerweel, J. and Scarano, F. (2005). Universal outlier detection for PIV data.
Experiments in Fluids 39, 1096-1100.
Holmlund, K. (1998). Weather and Forecasting 13, 1093-1104.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cloudmotion.errors import UsageError
from cloudmotion.qc.field_stats import fb_limit, median_test, quality_score
from cloudmotion.registry import PLUGIN_BIT, QC_TESTS
from cloudmotion.settings.params import DEFAULT_MAX_ERROR, TrackParams, error_limit_px

if TYPE_CHECKING:
    from cloudmotion.model import MotionField

__all__ = ["GROSS", "QC_TESTS", "Flag", "QCContext", "QCTest", "assess", "no_vector"]


class Flag(enum.IntFlag):
    """Reasons a vector is not good; ``flag == 0`` means good (bits fixed by docs/design.md)."""

    NODATA = 1
    LOW_TEXTURE = 2
    LOW_CORRELATION = 4
    LOW_PEAK_RATIO = 8
    PEAK_AT_BORDER = 16
    REFINE_FAILED = 32
    FORWARD_BACKWARD = 64
    MEDIAN_OUTLIER = 128
    SPEED_LIMIT = 256
    TEMPORAL = 512
    FILLED = 1024
    STATIC = 2048
    CLEAR_SKY = 8192
    SURFACE = 16384
    UNCHANGED = 32768


GROSS = (
    Flag.NODATA
    | Flag.PEAK_AT_BORDER
    | Flag.REFINE_FAILED
    | Flag.STATIC
    | Flag.CLEAR_SKY
    | Flag.SURFACE
    | Flag.UNCHANGED
)
"""Gross failures: such a vector is no measurement (never a neighbour in the median test,
and left out of the pair's noise estimate). UNCHANGED data (a stale tile, a repeated frame)
measured no motion at all. CLEAR_SKY and SURFACE (``targets = "clouds"``)
are gross too: a clear-sky template measures the ground, not the wind, so cloud vectors are
compared with cloud neighbours only (a cloud edge beside 0 m/s ground is no outlier)."""

SURFACE_PX = 0.1
"""SURFACE: a surface-locked vector moves less than ``max(SURFACE_PX, ee)`` px ..."""
SURFACE_CORR_GAP = 0.002
"""... and its lag-0 correlation is within this of its peak correlation."""


@dataclass
class QCContext:
    """What a QC test sees.

    Attributes
    ----------
    field : MotionField
        Measurements and diagnostics, arrays of the grid's shape (rows, cols).
    params : TrackParams
        Thresholds.
    flag : ndarray of int32
        Bits set by the tests that ran before this one.
    median_residual : ndarray or None
        Set by the median test, for the quality score.
    options : dict
        The running test's own options: a plug-in's ``[qc.NAME]`` table of the config file.
    """

    field: MotionField
    params: TrackParams
    flag: np.ndarray
    median_residual: np.ndarray | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class QCTest:
    """One quality-control test.

    Attributes
    ----------
    bit : Flag or int
        The bit it sets (a :class:`Flag` member; a plug-in may use a bit above 2**15).
    keys : tuple of str
        The settings it reads (:mod:`cloudmotion.settings.params` names).
    test : callable
        ``test(ctx: QCContext) -> ndarray of bool or None``: True where the vector fails.
    description : str
        When the bit is set, for users.
    """

    bit: int
    keys: tuple[str, ...]
    test: Callable[[QCContext], np.ndarray | None]
    description: str


def no_vector(valid_fraction: np.ndarray, corr: np.ndarray, min_valid: float) -> np.ndarray:
    """Templates that give no vector at all: too little valid data or no defined correlation."""
    return (valid_fraction < min_valid) | ~np.isfinite(corr)


def _nodata(ctx: QCContext) -> np.ndarray:
    f = ctx.field
    out = no_vector(f.valid_fraction, f.corr, ctx.params.min_valid)
    return out if f.off_earth is None else out | f.off_earth


def ee_limit(field, params) -> np.ndarray | float:
    """The ``max_error`` threshold of each vector, px: the field's own (``ee_limit``), else the setting's.

    Raises
    ------
    SettingError
        ``max_error`` is a speed and the field has no per-vector threshold (no time step or
        pixel size was known to convert it).
    """
    limit = getattr(field, "ee_limit", None)
    return error_limit_px(params.max_error) if limit is None else limit


def _low_texture(ctx: QCContext) -> np.ndarray | None:
    f = ctx.field
    limit = ee_limit(f, ctx.params)
    if f.ee is None or not np.any(np.asarray(limit) > 0):
        return None
    with np.errstate(invalid="ignore"):
        return np.isfinite(f.dx) & (np.asarray(limit) > 0) & ~(f.ee <= limit)


def _static(ctx: QCContext) -> np.ndarray | None:
    return ctx.field.static


def _low_correlation(ctx: QCContext) -> np.ndarray:
    corr = ctx.field.corr
    return np.isfinite(corr) & (corr < ctx.params.min_corr)


def _low_peak_ratio(ctx: QCContext) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ctx.field.peak_ratio < ctx.params.min_peak_ratio


def _refine_failed(ctx: QCContext) -> np.ndarray | None:
    return ctx.field.refine_failed


def _forward_backward(ctx: QCContext) -> np.ndarray:
    f = ctx.field
    limit = ctx.params.fb_max if f.ee is None else fb_limit(f.ee, ctx.params.fb_max)
    if f.fb_error is None:
        return np.zeros(f.dx.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.asarray(f.fb_error > limit)


def _median(ctx: QCContext) -> np.ndarray | None:
    f, p = ctx.field, ctx.params
    ctx.median_residual = median_test(f.dx, f.dy, (ctx.flag & GROSS) == 0, eps=p.median_eps)
    if p.median_threshold <= 0:
        return None
    return ctx.median_residual > p.median_threshold


def _speed(ctx: QCContext) -> np.ndarray | None:
    if ctx.field.speed is None:
        return None
    with np.errstate(invalid="ignore"):
        return ctx.field.speed > ctx.params.max_speed


def _temporal(ctx: QCContext) -> np.ndarray | None:
    diff = ctx.field.temporal_diff
    if diff is None:
        return None
    with np.errstate(invalid="ignore"):
        return diff > ctx.params.max_accel


def _clear_sky(ctx: QCContext) -> np.ndarray | None:
    f, p = ctx.field, ctx.params
    if p.targets != "clouds" or f.cloud_fraction is None:
        return None
    with np.errstate(invalid="ignore"):
        return np.isfinite(f.dx) & ~(f.cloud_fraction >= p.min_cloud)  # unknown cloudiness is no cloud target


def _surface(ctx: QCContext) -> np.ndarray | None:
    # static texture in a window band is ground or a stationary orographic cloud, whatever its
    # cloud fraction: neither is a wind
    f, p = ctx.field, ctx.params
    if p.targets != "clouds" or f.corr0 is None:
        return None
    limit = SURFACE_PX if f.ee is None else np.fmax(SURFACE_PX, f.ee)
    with np.errstate(invalid="ignore"):
        return (np.hypot(f.dx, f.dy) < limit) & (f.corr0 >= f.corr - SURFACE_CORR_GAP)


def _unchanged(ctx: QCContext) -> np.ndarray | None:
    return ctx.field.unchanged


def _filled(ctx: QCContext) -> np.ndarray | None:
    return ctx.field.filled


for _name, _test in {
    "nodata": QCTest(
        Flag.NODATA,
        ("min_valid",),
        _nodata,
        "too little valid data in the template (min_valid), no defined correlation, or an origin "
        "off the Earth: no vector",
    ),
    "unchanged": QCTest(
        Flag.UNCHANGED,
        (),
        _unchanged,
        "at least 90 % of the template's informative pixels (valid, off any plateau, not the "
        "background value in both frames) hold bit-identical stored values in A and B: a stale "
        "tile or a repeated frame, no motion was measured",
    ),
    "low_texture": QCTest(
        Flag.LOW_TEXTURE,
        ("max_error",),
        _low_texture,
        "expected error ee above max_error (px, or m/s converted per vector with the local pixel size and "
        "the time step): too little texture for the pair's own noise, evolution and model error (clear sky, "
        "flat cloud tops, noisy frames, fast-changing echoes)",
    ),
    "peak_at_border": QCTest(
        Flag.PEAK_AT_BORDER,
        (),
        lambda ctx: ctx.field.peak_at_border,
        "correlation peak on the edge of the search region or of the defined lags: the "
        "motion may exceed --search; no vector",
    ),
    "low_correlation": QCTest(
        Flag.LOW_CORRELATION, ("min_corr",), _low_correlation, "peak correlation coefficient below min_corr"
    ),
    "low_peak_ratio": QCTest(
        Flag.LOW_PEAK_RATIO,
        ("min_peak_ratio",),
        _low_peak_ratio,
        "first over second correlation peak below min_peak_ratio: ambiguous match",
    ),
    "refine_failed": QCTest(
        Flag.REFINE_FAILED,
        (),
        _refine_failed,
        "Lucas-Kanade did not converge, was ill-conditioned or moved more than 1.5 px from "
        "the correlation peak; the correlation estimate is kept",
    ),
    "static": QCTest(
        Flag.STATIC,
        ("max_error", "min_valid"),
        _static,
        "texture from a static plateau (one repeated exact value: fill, saturation, outside coverage) "
        "and its edge, identical in both frames: what remains without it is too little",
    ),
    "forward_backward": QCTest(
        Flag.FORWARD_BACKWARD,
        ("fb_max",),
        _forward_backward,
        "tracking B -> A from the end point misses the origin by more than max(fb_max, 3 sqrt(2) ee) px",
    ),
    "clear_sky": QCTest(
        Flag.CLEAR_SKY,
        ("targets", "min_cloud"),
        _clear_sky,
        "--targets clouds: the template's mean cloud probability cloud_fraction is below "
        "min_cloud (mostly clear sky, or unknown): it tracks the ground, not a cloud",
    ),
    "surface": QCTest(
        Flag.SURFACE,
        ("targets", "min_cloud"),
        _surface,
        "--targets clouds: surface-locked, a template (clear or cloudy) that moves less than "
        "max(0.1 px, ee) and whose lag-0 correlation is within 0.002 of its peak",
    ),
    "median": QCTest(
        Flag.MEDIAN_OUTLIER,
        ("median_threshold", "median_eps"),
        _median,
        "normalised median residual against the measured 3x3 neighbours above median_threshold; "
        "fewer than 3 measured neighbours: not testable",
    ),
    "speed_limit": QCTest(Flag.SPEED_LIMIT, ("max_speed",), _speed, "speed above max_speed m/s"),
    "temporal": QCTest(
        Flag.TEMPORAL,
        ("max_accel",),
        _temporal,
        "consecutive displacements along the trajectory differ by more than max_accel px",
    ),
    "filled": QCTest(Flag.FILLED, (), _filled, "not measured: interpolated from good neighbours by --fill"),
}.items():
    QC_TESTS.register(_name, _test, replace=True)


def assess(field, params, *, stop: Flag | None = None):
    """Run every registered QC test over a field, in order, in one pass.

    Parameters
    ----------
    field : MotionField
        Measurements and diagnostics (any earlier ``flag`` is ignored).
    params : TrackParams
        Thresholds.
    stop : Flag, optional
        Run only the tests before the first test of this bit (a provisional mask, e.g.
        the vectors good enough to estimate the flow's Jacobian from).

    Returns
    -------
    MotionField
        A new field with ``flag``, ``median_residual`` and ``quality`` set; the input
        is not modified.

    Notes
    -----
    A pair is assessed more than once, and each run has a reason: flags are derived from the
    field, never patched, so a run is needed whenever the field gains an input a test reads.
    ``track_pair`` asks for two provisional masks (``stop=STATIC``: the measurements the
    pair's noise level is estimated from; ``stop=FORWARD_BACKWARD``: the vectors the
    refinement's bias correction is fitted on) and the final flags; the pipeline re-runs it
    once the speed is known (SPEED_LIMIT needs the geolocation), and a sequence once more
    with the temporal differences (TEMPORAL needs the next pair). A run costs a few array
    operations per test, well under 1 % of tracking a pair.
    """
    ctx = QCContext(field=field, params=params, flag=np.zeros(field.dx.shape, dtype=np.int32))
    options = dict(params.qc_options)
    for name, qc_test in QC_TESTS.items():
        if stop is not None and qc_test.bit == stop:
            break
        if QC_TESTS.is_plugin(name) and qc_test.bit < PLUGIN_BIT:
            raise UsageError(f"QC plug-in {name!r}: flag bit {qc_test.bit} is the project's; use 2**20 or above")
        ctx.options = dict(options.get(name, ()))
        mask = qc_test.test(ctx)
        if mask is not None:
            ctx.flag[np.asarray(mask, dtype=bool)] |= qc_test.bit
    resid = ctx.median_residual if ctx.median_residual is not None else field.median_residual
    temporal = field.temporal if field.temporal_diff is not None else None
    ee = field.ee if field.ee is not None else np.full(field.dx.shape, np.nan)
    limit = np.asarray(ee_limit(field, params), dtype=np.float64)
    scale = np.where(limit > 0, limit, DEFAULT_MAX_ERROR)
    quality = quality_score(ee, resid, field.corr, max_error=scale, temporal=temporal)
    quality[np.isnan(field.dx)] = 0.0
    if field.filled is not None:
        quality[field.filled] = 0.0
    return dataclasses.replace(field, flag=ctx.flag, median_residual=resid, quality=quality)
