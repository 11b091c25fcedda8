"""The tracker's settings: :class:`TrackParams`, every field declared with its :class:`Spec`.

The numeric core's only input besides arrays. Each field's default, unit, help, rule and
help group is in its spec; :mod:`cloudmotion.settings.params` lists them with the run's
other settings and builds both from config files and options.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

from cloudmotion import registry
from cloudmotion.settings.rules import (
    _EQUALIZE,
    _INTERP,
    _SUBPIXEL,
    DEFAULT_MAX_ERROR,
    DEFAULT_MAX_ERROR_SPEED,
    Speed,
    _bandpass,
    _choice,
    _error_limit,
    _int_at_least,
    _number,
    _spec,
    deprecation_message,
    parse_error_limit,
)
from cloudmotion.settings.rules import (
    check_value as _check,
)

__all__ = ["TrackParams"]


@dataclass(frozen=True)
class TrackParams:
    """Numerical settings of the tracker (the numeric core's only input besides arrays).

    Every field's default, unit, help and rule is in its :class:`Spec`
    (``spec_of("window")``); lengths are in pixels. ``step`` None means ``window // 2``
    and is resolved on construction. Invalid values raise :class:`SettingError`
    (a ``ValueError``) naming the field.
    """

    window: int = _spec(32, "int", "Template size.", unit="px", rule=_int_at_least(4), group="search")
    step: int | None = _spec(
        None, "int", "Grid spacing.", unit="px", rule=_int_at_least(1), default_text="window/2", group="search"
    )
    search: int | str = _spec(
        "auto",
        "int",
        "Largest displacement searched along each axis: auto = ceil(max_speed * dt / the frame's smallest "
        "ground pixel) when the time step and pixel size are known (at most 256), else 16.",
        unit="px",
        rule=_int_at_least(1),
        auto=True,
        metavar="PX|auto",
        group="search",
    )
    sigma: float = _spec(
        0.7,
        "float",
        "Gaussian pre-filter by normalised convolution, NoData-safe; 0 turns it off.",
        unit="px",
        rule=_number(0, 100),
        group="search",
    )
    correlation: str = _spec(
        "ncc",
        "str",
        "Correlation method (a registered one; ncc: coefficient normalised at every lag, masked).",
        rule=_choice(registry.CORRELATORS.names),
        choices=registry.CORRELATORS.names,
        group="search",
    )
    subpixel: str = _spec(
        "gaussian",
        "str",
        "Three-point sub-pixel peak fit.",
        rule=_choice(_SUBPIXEL),
        choices=_SUBPIXEL,
        group="refinement",
    )
    refine: bool = _spec(True, "bool", "Float Lucas-Kanade refinement.", group="refinement")
    interpolation: str = _spec(
        "bicubic",
        "str",
        "Warp kernel of the refinement.",
        cli=False,
        rule=_choice(_INTERP),
        choices=_INTERP,
        group="refinement",
    )
    min_valid: float = _spec(
        0.5, "float", "Smallest valid fraction of a template.", flag=1, rule=_number(0, 1, lo_open=True), group="qc"
    )
    min_overlap: float = _spec(
        0.75,
        "float",
        "Smallest share of a template's valid pixels that must meet valid pixels of frame B for a lag to count.",
        cli=False,
        rule=_number(0, 1, lo_open=True),
        group="search",
    )
    max_error: float | Speed | None = _spec(  # noqa: RUF009 - a frozen dataclass, as every default here
        None,
        "error",
        "Largest expected error ee of a vector (the pair's own noise and evolution against the template's "
        "texture): px (0.3, 0.3px) or a speed (2.5m/s, converted per vector with the local pixel size and "
        "the pair's time step); 0 disables.",
        flag=2,
        rule=_error_limit,
        metavar="PX|M/S",
        default_text=f"{DEFAULT_MAX_ERROR_SPEED:g}m/s when the pair's time step and pixel size are known, "
        f"else {DEFAULT_MAX_ERROR}px",
        group="qc",
    )
    min_texture: float | None = _spec(
        None,
        "float",
        "Deprecated, replaced by --max-error: warns; 0 disables the texture test, any other value is ignored.",
        rule=_number(0),
        deprecated=True,
        group="qc",
    )
    max_sigma: float | None = _spec(
        None,
        "float",
        "Deprecated, replaced by max_error: warns; 0 disables the texture test, any other value is ignored.",
        unit="px",
        cli=False,
        rule=_number(0),
        deprecated=True,
        group="qc",
    )
    min_corr: float = _spec(
        0.5, "float", "Smallest peak correlation coefficient.", flag=4, rule=_number(-1, 1), group="qc"
    )
    min_peak_ratio: float = _spec(
        1.0, "float", "Smallest first/second correlation peak ratio; 1 disables.", flag=8, rule=_number(1), group="qc"
    )
    median_threshold: float = _spec(
        2.0,
        "float",
        "Normalised median test threshold (Westerweel & Scarano 2005); 0 disables.",
        flag=128,
        rule=_number(0),
        group="qc",
    )
    median_eps: float = _spec(0.1, "float", "Median test fluctuation level.", unit="px", rule=_number(0), group="qc")
    max_iter: int = _spec(20, "int", "Refinement iteration cap.", cli=False, rule=_int_at_least(1), group="refinement")
    tol: float = _spec(
        5e-3, "float", "Refinement tolerance.", unit="px", cli=False, rule=_number(0), group="refinement"
    )
    fb_check: bool = _spec(
        False,
        "bool",
        "Track B -> A from each end point and flag misses (a second refinement pass).",
        flag=64,
        group="qc",
    )
    fb_max: float = _spec(0.5, "float", "Largest forward-backward miss.", unit="px", rule=_number(0), group="qc")
    max_accel: float = _spec(
        1.0,
        "float",
        "Three or more frames: largest change of consecutive displacements along a trajectory.",
        unit="px",
        flag=512,
        rule=_number(0),
        group="qc",
    )
    max_speed: float = _spec(
        120.0, "float", "Flag faster vectors.", unit="m/s", flag=256, rule=_number(0, lo_open=True), group="qc"
    )
    search_mode: str = _spec(
        "c2f",
        "str",
        "Peak search: coarse-to-fine with compiled kernels, or the exhaustive FFT search over every lag "
        "(slower; no pyramid level to miss a peak).",
        rule=_choice(lambda: list(registry.SEARCH_MODES)),
        choices=lambda: list(registry.SEARCH_MODES),
        group="search",
    )
    threads: int | None = _spec(
        None,
        "int",
        "Threads of the compiled kernels.",
        rule=_int_at_least(1),
        default_text="the cores available",
        metavar="N",
        group="run",
    )
    chunk: int = _spec(
        2048, "int", "Templates processed at once (bounds memory).", cli=False, rule=_int_at_least(1), group="search"
    )
    max_vectors: int = _spec(
        2_000_000,
        "int",
        "Largest grid accepted (about 1 kB per vector).",
        cli=False,
        rule=_int_at_least(1),
        group="search",
    )
    # pre-filters for uneven light
    bandpass: tuple[float, float] | None = _spec(
        None,
        "range",
        "Difference-of-Gaussians band-pass LOW,HIGH by "
        "normalised convolution, NoData-safe, in place of --sigma: for "
        "illumination ramps and terminator shading.",
        unit="px",
        rule=_bandpass,
        metavar="LOW,HIGH",
        sep=",",
        group="search",
    )
    equalize: str = _spec(
        "none",
        "str",
        "Local contrast equalisation over valid pixels, in float, before the pre-filter.",
        rule=_choice(_EQUALIZE),
        choices=_EQUALIZE,
        group="search",
    )
    # --targets clouds
    targets: str = _spec(
        "all",
        "str",
        "Wind targets: all templates, or clouds (mostly clear templates flagged, "
        "surface-locked ones too, flag 16384); visible and IR-window bands, never water vapour.",
        flag=8192,
        rule=_choice(lambda: ["all", "clouds"]),
        choices=lambda: ["all", "clouds"],
        group="qc",
    )
    min_cloud: float = _spec(
        0.5,
        "float",
        "--targets clouds: smallest mean cloud probability of a template.",
        flag=8192,
        rule=_number(0, 1),
        group="qc",
    )
    static_check: bool = _spec(
        True,
        "bool",
        "Flag templates whose texture is a static plateau's edge that stands still between the frames "
        "(space, a radar's out-of-range area); --no-static-check treats plateaus as data.",
        flag=2048,
        group="qc",
    )

    qc_options: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """Thresholds of plug-in QC tests: ``((test name, ((key, value), ...)), ...)`` from the
    ``[qc.NAME]`` tables of a config file; a test reads its own as ``ctx.options``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_error", parse_error_limit(self.max_error))  # "2.5m/s" from the library
        for f in dataclasses.fields(self):
            if "spec" not in f.metadata or (getattr(self, f.name) is None and f.default is None):
                continue  # an optional setting left unset, or the plug-ins' own options
            _check(f.name, f.metadata["spec"], getattr(self, f.name))
        for name in ("min_texture", "max_sigma"):
            value = getattr(self, name)
            if value is not None:
                warnings.warn(deprecation_message(name, value), FutureWarning, stacklevel=3)
                if value == 0:
                    object.__setattr__(self, "max_error", 0.0)
                object.__setattr__(self, name, None)  # mapped: a replace() of these params warns no more
        if self.step is None:
            object.__setattr__(self, "step", max(1, self.window // 2))
