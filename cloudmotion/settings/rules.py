"""The vocabulary of settings: what a setting is (:class:`Spec`), the error it raises, and the
rules its values must meet. :mod:`cloudmotion.settings.params` declares the settings with these."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudmotion import registry

__all__ = [
    "DEFAULT_MAX_ERROR",
    "DEFAULT_MAX_ERROR_SPEED",
    "GROUPS",
    "Rule",
    "SettingError",
    "Spec",
    "Speed",
    "check_value",
    "deprecation_message",
    "error_limit_px",
    "parse_error_limit",
]


class SettingError(ValueError):
    """A setting's value breaks its rule; ``name`` is the setting, ``reason`` the rule."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason


Rule = Callable[[Any], str | None]
"""A rule returns None when a value is acceptable, else what is wrong ("must be ...")."""


@dataclass(frozen=True)
class Spec:
    """What one setting is.

    Attributes
    ----------
    kind : {"int", "float", "bool", "str", "range", "duration", "error"}
        Value type; ``range`` is a (min, max) pair of floats; ``duration`` is seconds,
        given as a number or as text with a unit (``900``, ``20min``, ``1h``); ``error``
        is a length in px (a number, ``0.3`` or ``0.3px``) or a speed (``2.5m/s``, a
        :class:`Speed`), see :func:`parse_error_limit`.
    unit : str
        Unit of the value ("px", "m/s", "s", "" when unit-free).
    help : str
        One line for ``--help`` and the settings reference.
    cli : bool
        Whether the setting is a command-line option (``--name-with-dashes``); all
        settings are TOML keys.
    rule : callable
        Validation, see :data:`Rule`; None checks only the type.
    default_text : str or None
        How the default reads where it is derived (``"window/2"``).
    flag : int or None
        The quality flag bit the setting controls, for the help text.
    metavar : str or None
        Placeholder shown in ``--help``.
    choices : callable or None
        Returns the accepted names (lazily, from a registry).
    deprecated : bool
        An old name kept so existing configs and cron jobs load: it warns (a
        ``FutureWarning``) and maps onto its replacement.
    sep : str or None
        For a ``range``: the two values are one word joined by this (``--bandpass 0.7,8``)
        instead of two words (``--valid-range 200 320``); a TOML list works either way.
    scope : str or None
        ``"batch"`` for a setting only ``batch`` has (an option of ``batch`` only, its own
        settings reference's table); None for the shared tracker and reading settings.
    group : str
        The heading the option is listed under in ``--help``: a key of :data:`GROUPS`.
    words : tuple of str
        Fixed values that shell completion offers besides file names, for a setting that
        takes a word or a file (``--profile standard|tropical|FILE.csv``); a setting with
        ``choices`` completes those.
    auto : bool
        The value may also be the text ``"auto"``: resolved per run from the data.
    """

    kind: str
    unit: str = ""
    help: str = ""
    cli: bool = True
    rule: Rule | None = None
    default_text: str | None = None
    flag: int | None = None
    metavar: str | None = None
    choices: Callable[[], list[str]] | None = None
    deprecated: bool = False
    scope: str | None = None
    sep: str | None = None
    group: str = ""
    words: tuple[str, ...] = ()
    auto: bool = False


GROUPS = {
    "input": "Input",
    "search": "Search",
    "refinement": "Refinement",
    "qc": "Quality control",
    "amv": "AMV (height, parallax)",
    "nowcast": "Nowcast",
    "output": "Output",
    "run": "Running",
}
"""Group key -> heading of the options in ``--help``, in the order the headings are shown."""


DEFAULT_MAX_ERROR = 0.3
"""Default ``max_error``, px, where a pair's time step or pixel size is unknown: chosen by
measurement (benchmarks/expected_error.py, RESULTS.md)."""

DEFAULT_MAX_ERROR_SPEED = 2.0
"""Default ``max_error``, m/s, where both are known: 0.3 px of a 2 km pixel in 5 min."""


@dataclass(frozen=True)
class Speed:
    """A threshold given as a speed, m/s (``--max-error 2.5m/s``)."""

    value: float

    def __str__(self) -> str:
        return f"{self.value:g}m/s"


def parse_error_limit(value: Any) -> Any:
    """``max_error`` as given: a number or ``"0.3"``/``"0.3px"`` -> float px; ``"2.5m/s"`` -> :class:`Speed`.

    Anything else is returned as it is, for the type check to name.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower().replace(" ", "")
    for suffix, make in (("m/s", Speed), ("px", float), ("", float)):
        if text.endswith(suffix):
            try:
                number = float(text[: len(text) - len(suffix)] if suffix else text)
            except ValueError:
                continue
            return make(number)
    return value


def error_limit_px(value: Any, px_per_mps: Any = None) -> Any:
    """The ``max_error`` threshold in px: per vector when it is a speed.

    Parameters
    ----------
    value : float, Speed or None
        ``max_error``: px, m/s, or None for the default (:data:`DEFAULT_MAX_ERROR_SPEED`
        where ``px_per_mps`` is known, else :data:`DEFAULT_MAX_ERROR` px).
    px_per_mps : float or ndarray, optional
        Pixels per m/s of each vector: the pair's time step over the local ground size of
        a pixel, s/m (NaN where unknown, e.g. off the Earth).

    Returns
    -------
    float or ndarray
        px; 0 disables the test. Where ``px_per_mps`` is NaN a speed gives NaN (no vector
        there passes) and the default gives :data:`DEFAULT_MAX_ERROR`.

    Raises
    ------
    SettingError
        A speed without ``px_per_mps``.
    """
    import numpy as np

    if isinstance(value, Speed):
        if px_per_mps is None:
            raise SettingError(
                "max_error",
                f"is a speed ({value}): it needs the pair's time step (file names, tags or --dt) and pixel "
                "size (a CRS or --pixel-size); give it in px (e.g. 0.3px) otherwise",
            )
        return value.value * np.asarray(px_per_mps, dtype=np.float64)
    if value is None:
        if px_per_mps is None:
            return DEFAULT_MAX_ERROR
        scale = np.asarray(px_per_mps, dtype=np.float64)
        return np.where(np.isfinite(scale), DEFAULT_MAX_ERROR_SPEED * scale, DEFAULT_MAX_ERROR)
    return float(value)


def _error_limit(v: Any) -> str | None:
    number = v.value if isinstance(v, Speed) else v
    if math.isfinite(number) and number >= 0:
        return None
    return "must be a finite number >= 0, in px (0.3, 0.3px) or m/s (2.5m/s)"


def deprecation_message(name: str, value: float) -> str:
    """The warning for a deprecated texture threshold (``min_texture``, ``max_sigma``)."""
    effect = "0 disables the texture test" if value == 0 else "the value is ignored"
    return (
        f"{name} is deprecated: LOW_TEXTURE now flags vectors whose expected error ee exceeds "
        f"max_error (--max-error, default {DEFAULT_MAX_ERROR_SPEED:g} m/s, or {DEFAULT_MAX_ERROR} px "
        f"without a time step and pixel size); {effect}"
    )


def _spec(default: Any, kind: str, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"spec": Spec(kind=kind, help=help, **kw)})


# ---- rules ---------------------------------------------------------------------------------


def _int_at_least(lo: int) -> Rule:
    return lambda v: None if v >= lo else f"must be an integer >= {lo}"


def _number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> Rule:
    def rule(v: float) -> str | None:
        low = lo is None or (v > lo if lo_open else v >= lo)
        high = hi is None or (v < hi if hi_open else v <= hi)
        if math.isfinite(v) and low and high:
            return None
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi:g}")
        return "must be a finite number" + (" " + " and ".join(parts) if parts else "")

    return rule


def _choice(names: Callable[[], list[str]]) -> Rule:
    return lambda v: None if v in names() else f"must be one of {', '.join(names())}"


def _range(v: tuple[float, float]) -> str | None:
    lo, hi = v
    return None if math.isfinite(lo) and math.isfinite(hi) and lo < hi else "needs finite MIN < MAX"


def _bandpass(v: tuple[float, float]) -> str | None:
    lo, hi = v
    return None if math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi <= 100 else "needs 0 <= LOW < HIGH <= 100"


def _cloud_model(v: str) -> str | None:
    ok = v in ("auto", "auto-cold", "auto-bright") or v.lower().endswith(".toml")
    return None if ok else "must be auto, auto-cold, auto-bright or a .toml file"


def _formats(v: str) -> str | None:
    names = [f.strip().lower().lstrip(".") for f in v.split(",") if f.strip()]
    known = sorted({ext.lstrip(".") for ext in registry.WRITER_SUFFIXES})
    bad = [f for f in names if f not in known]
    if bad or not names:
        return f"must be one or more of {', '.join(known)}, comma-separated (e.g. csv,tif)"
    return None


def _name_pattern(v: str) -> str | None:
    from cloudmotion.errors import UsageError
    from cloudmotion.settings.name_patterns import compile_name_pattern

    try:
        compile_name_pattern(v)
    except UsageError as exc:
        return str(exc).split(": ", 1)[-1].replace(f"--name-pattern {v}: ", "")
    return None


_SUBPIXEL = registry.SUBPIXEL.names
_EQUALIZE = lambda: list(registry.EQUALIZERS)
_CALIBRATE = lambda: ["auto", "radiance", "bt", "reflectance"]


def _profile(v: str) -> str | None:
    ok = v in ("standard", "tropical") or v.lower().endswith(".csv")
    return None if ok else "must be standard, tropical or a .csv file"


_CHANNELS = lambda: list(registry.CHANNELS)
_INTERP = lambda: list(registry.INTERPOLATIONS)


def check_value(name: str, spec: Spec, value: Any) -> None:
    """Raise :class:`SettingError` naming ``name`` when ``value`` is not of the spec's kind or breaks its rule."""
    kind_ok = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "range": lambda v: (
            isinstance(v, tuple)
            and len(v) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        ),
        "duration": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "error": lambda v: isinstance(v, Speed) or (isinstance(v, int | float) and not isinstance(v, bool)),
    }[spec.kind]
    if spec.auto and value == "auto":
        return  # resolved per run from the data
    if not kind_ok(value):
        what = {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "str": "a string",
            "range": "a pair [MIN, MAX]",
            "duration": "a duration: seconds or a number with a unit (900, 20min, 1h, 1d)",
            "error": "a number in px (0.3, 0.3px) or a speed (2.5m/s)",
        }[spec.kind]
        raise SettingError(name, f"must be {what}{' or auto' if spec.auto else ''}, got {value!r}")
    if spec.rule is not None:
        problem = spec.rule(value)
        if problem:
            raise SettingError(name, f"{problem}, got {value!r}")
