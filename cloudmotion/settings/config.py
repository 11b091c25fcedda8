"""Settings from TOML presets, validated, with command-line options taking precedence.

A preset is a flat TOML table whose keys are the long option names of
``cloudmotion track`` (``-`` or ``_`` both accepted) plus the advanced tracker settings
of :class:`cloudmotion.track.TrackParams`. ``configs/`` ships documented presets; they are
installed with the package and can be named without a path (``--config fast``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from importlib import resources

from cloudmotion.errors import UsageError
from cloudmotion.settings import params
from cloudmotion.settings import text as settings_text

__all__ = ["MAX_CONFIG_BYTES", "load_config", "preset_names", "resolve_settings", "setting_names"]

MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (1 MiB): a preset is a few hundred bytes; ``/dev/zero`` is refused."""


def setting_names() -> list[str]:
    """Every TOML key (canonical, ``_`` separators), from :mod:`cloudmotion.settings.params`."""
    return [name for name, _, _ in params.specs()]


def _preset_root():
    """``configs/`` beside the package in a source checkout, else the installed presets.

    The checkout's own presets come first, so that a checkout run beside another installed
    copy of the package reads the presets of its own tree.
    """
    beside = resources.files("cloudmotion").joinpath("..", "configs")
    if beside.is_dir() and beside.joinpath("default.toml").is_file():
        return beside
    try:
        return resources.files("cloudmotion.presets")
    except ModuleNotFoundError:
        return beside


def preset_names() -> list[str]:
    """Names of the presets shipped with the package."""
    return sorted(p.name[:-5] for p in _preset_root().iterdir() if p.name.endswith(".toml"))


def _read_toml(spec: str) -> tuple[str, dict]:
    # a bare preset name is the shipped preset, whatever the current folder holds ("works anywhere")
    if os.path.sep in spec or spec.endswith(".toml") or (os.path.exists(spec) and spec not in preset_names()):
        try:
            with open(spec, "rb") as fh:
                data = fh.read(MAX_CONFIG_BYTES + 1)
            if len(data) > MAX_CONFIG_BYTES:
                raise UsageError(f"--config {spec}: larger than {MAX_CONFIG_BYTES >> 20} MiB; not a settings file")
            return spec, tomllib.loads(data.decode("utf-8"))
        except FileNotFoundError:
            raise UsageError(f"--config {spec}: no such file") from None
        except OSError as exc:
            raise UsageError(f"--config {spec}: cannot read ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise UsageError(f"--config {spec}: not a text file (invalid UTF-8)") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"--config {spec}: invalid TOML ({exc})") from None
        except RecursionError:  # tomllib recurses once per nesting level
            raise UsageError(f"--config {spec}: invalid TOML (nested too deeply); not a settings file") from None
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
    valid = tuple(setting_names())
    out = {}
    if isinstance(table.get("qc"), dict):
        table = dict(table)
        out["qc_options"] = _qc_tables(name, table.pop("qc"))
    for key, value in table.items():
        canon = key.replace("-", "_")
        if canon not in valid:
            hint = difflib.get_close_matches(canon, valid, n=1)
            tip = f"; did you mean {hint[0].replace('_', '-')!r}?" if hint else ""
            raise UsageError(f"--config {name}: unknown key {key!r}{tip}")
        if isinstance(value, dict) or (isinstance(value, list) and params.spec_of(canon).kind != "range"):
            raise UsageError(f"--config {name}: key {key!r} must be a single value")
        out[canon] = value
    return out


def _qc_tables(name: str, tables: dict) -> tuple:
    """``[qc.NAME]`` tables: the options of registered QC tests, as a hashable tuple."""
    from cloudmotion.registry import QC_TESTS

    out = []
    for test, options in sorted(tables.items()):
        if test not in QC_TESTS:
            choices = ", ".join(QC_TESTS.names()) or "none installed"
            raise UsageError(f"--config {name}: [qc.{test}] names no QC test ({choices})")
        if not isinstance(options, dict) or any(isinstance(v, dict | list) for v in options.values()):
            raise UsageError(f"--config {name}: [qc.{test}] must be a table of single values")
        out.append((test, tuple(sorted(options.items()))))
    return tuple(out)


def resolve_settings(options: dict, config: str | None = None) -> params.Settings:
    """Defaults < ``--config`` file < command-line ``options`` (canonical keys; None = not given).

    Every value, wherever it comes from, passes the same rule of :mod:`cloudmotion.settings.params`.

    Raises
    ------
    UsageError
        Naming the option (``--window: ...``) or the config file and key
        (``--config my.toml: window ...``) whose value breaks its rule.
    """
    merged: dict = {}
    source: dict[str, str] = {}
    if config:
        for key, value in load_config(config).items():
            merged[key], source[key] = value, f"--config {config}: {key}"
    for key, value in options.items():
        if value is not None:
            merged[key], source[key] = value, settings_text.option_name(key)
    try:
        return params.build_settings(merged)
    except params.SettingError as exc:
        where = source.get(exc.name, exc.name)
        sep = " " if where.startswith("--config") else ": "
        raise UsageError(f"{where}{sep}{exc.reason}") from None
