"""Settings from TOML presets, validated, with command-line options taking precedence.

A preset is a flat TOML table whose keys are the long option names of
``cloudmotion track`` (``-`` or ``_`` both accepted) plus the advanced tracker settings
of :class:`cloudmotion.track.TrackParams`. ``configs/`` ships documented presets; they are
installed with the package and can be named without a path (``--config fast``).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from importlib import resources

from .errors import UsageError
from .track import TrackParams

__all__ = ["IO_KEYS", "PARAM_KEYS", "load_config", "make_params", "preset_names"]

PARAM_KEYS = tuple(f.name for f in dataclasses.fields(TrackParams))
"""Keys that map onto :class:`TrackParams`."""

IO_KEYS = ("band", "nodata", "dt", "pixel_size", "max_speed", "fill", "channels", "valid_range", "dqf", "align",
           "max_dt", "force")
"""Keys about reading frames, times, physical units and post-processing (:class:`pipeline.Settings`)."""

_TYPES = {"band": int, "nodata": float, "dt": float, "pixel_size": float, "max_speed": float, "fill": bool,
          "channels": str, "valid_range": list, "dqf": bool, "align": bool, "max_dt": float, "force": bool}


def _preset_root():
    """The installed presets, or ``configs/`` beside the package in a source checkout."""
    try:
        return resources.files("cloudmotion.presets")
    except ModuleNotFoundError:
        return resources.files("cloudmotion").joinpath("..", "configs")


def preset_names() -> list[str]:
    """Names of the presets shipped with the package."""
    return sorted(p.name[:-5] for p in _preset_root().iterdir() if p.name.endswith(".toml"))


def _read_toml(spec: str) -> tuple[str, dict]:
    if os.path.sep in spec or spec.endswith(".toml") or os.path.exists(spec):
        try:
            with open(spec, "rb") as fh:
                return spec, tomllib.load(fh)
        except FileNotFoundError:
            raise UsageError(f"--config {spec}: no such file") from None
        except OSError as exc:
            raise UsageError(f"--config {spec}: cannot read ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--config {spec}: invalid TOML ({exc})") from None
    names = preset_names()
    if spec not in names:
        hint = difflib.get_close_matches(spec, names, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; presets: {', '.join(names)}"
        raise UsageError(f"--config {spec}: unknown preset{extra}")
    text = _preset_root().joinpath(spec + ".toml").read_text()
    return spec, tomllib.loads(text)


def load_config(spec: str) -> dict:
    """Load and check a preset file or a shipped preset name.

    Parameters
    ----------
    spec : str
        A TOML file path, or the name of a shipped preset.

    Returns
    -------
    dict
        Settings keyed by canonical name (``_`` separators).

    Raises
    ------
    UsageError
        Missing file, invalid TOML, an unknown key (naming the closest valid key) or a
        value of the wrong type.
    """
    name, raw = _read_toml(spec)
    table = raw.get("track", raw) if isinstance(raw.get("track"), dict) else raw
    valid = PARAM_KEYS + IO_KEYS
    out = {}
    for key, value in table.items():
        canon = key.replace("-", "_")
        if canon not in valid:
            hint = difflib.get_close_matches(canon, valid, n=1)
            tip = f"; did you mean {hint[0].replace('_', '-')!r}?" if hint else ""
            raise UsageError(f"--config {name}: unknown key {key!r}{tip}")
        if isinstance(value, dict) or (isinstance(value, list) and canon != "valid_range"):
            raise UsageError(f"--config {name}: key {key!r} must be a single value")
        out[canon] = value
    return out


def make_params(settings: dict) -> TrackParams:
    """Build :class:`TrackParams` from merged settings, turning ``ValueError`` into ``UsageError``.

    Parameters
    ----------
    settings : dict
        Canonical keys; those not in :data:`PARAM_KEYS` are ignored.

    Raises
    ------
    UsageError
        Naming the option whose value is invalid.
    """
    kw = {k: v for k, v in settings.items() if k in PARAM_KEYS and v is not None}
    try:
        return TrackParams(**kw)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        key = msg.split(" ", 1)[0]
        opt = "--" + key.replace("_", "-") if key in PARAM_KEYS else "settings"
        raise UsageError(f"{opt}: {msg.split(' ', 1)[1] if key in PARAM_KEYS else msg}") from None


def coerce_io(settings: dict, source: str) -> dict:
    """Check the types of the I/O keys of a preset (``band`` int, others numbers)."""
    for key, typ in _TYPES.items():
        if key in settings and settings[key] is not None:
            v = settings[key]
            if typ is list:
                if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, int | float) for x in v)):
                    raise UsageError(f"--config {source}: {key} must be [MIN, MAX]")
                settings[key] = (float(v[0]), float(v[1]))
                continue
            if typ is str:
                if not isinstance(v, str):
                    raise UsageError(f"--config {source}: {key} must be a string")
                continue
            if typ is bool:
                if not isinstance(v, bool):
                    raise UsageError(f"--config {source}: {key} must be true or false")
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or (typ is int and not isinstance(v, int)):
                raise UsageError(f"--config {source}: {key} must be {'an integer' if typ is int else 'a number'}")
            settings[key] = typ(v)
    return settings
