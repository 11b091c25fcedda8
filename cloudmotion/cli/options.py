"""Command-line options generated from :mod:`cloudmotion.settings.params`, and shared option groups.

The tracker options of ``track`` and ``batch`` are made from the settings' specs: name,
type, help text, unit, flag bit and default all come from there, and no value is checked
here (``params`` checks every value, whether it comes from here or from ``--config``).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from cloudmotion.settings import params
from cloudmotion.settings import text as settings_text

__all__ = ["batch_options", "complete_config", "setting_options", "settings_from", "tracker_options", "verbosity"]


def _help(name: str, spec: params.Spec, default) -> str:
    text = settings_text.describe(spec)
    shown = settings_text.default_text(name, spec, default)
    return text + "." + (f"  [default: {shown}]" if shown is not None else "")


def _option(name: str, spec: params.Spec, default) -> Callable:
    opt = settings_text.option_name(name)
    kw: dict = {"help": _help(name, spec, default), "default": None}
    if spec.kind == "bool":
        return click.option(f"{opt}/--no-{opt[2:]}", name, **kw)
    if spec.kind == "range" and spec.sep:
        return click.option(opt, name, type=str, metavar=spec.metavar or f"MIN{spec.sep}MAX", **kw)
    if spec.kind == "range":
        return click.option(opt, name, type=(float, float), metavar=spec.metavar or "MIN MAX", **kw)
    typ = {"int": int, "float": float, "str": str, "duration": str, "error": str}[spec.kind]
    metavar = spec.metavar or (
        "|".join(spec.choices())
        if spec.choices
        else {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "duration": "DURATION", "error": "PX|M/S"}[spec.kind]
    )
    return click.option(opt, name, type=typ, metavar=metavar, **kw)


def _tracker_options() -> list[Callable]:
    opts = [_option(name, spec, default) for name, spec, default in params.specs() if spec.cli and spec.scope is None]
    opts.append(
        click.option(
            "--config",
            "config_spec",
            metavar="FILE.toml|PRESET",
            shell_complete=complete_config,
            help="Settings from a TOML file or a shipped preset (default, fast, dense, fastmoving, visible, amv); "
            "command-line options win.",
        )
    )
    return opts


def complete_config(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    """Shell completion of ``--config``: the shipped preset names, then file names."""
    from click.shell_completion import CompletionItem

    from cloudmotion.settings.config import preset_names

    presets = [CompletionItem(n, help="shipped preset") for n in preset_names() if n.startswith(incomplete)]
    return [*presets, CompletionItem(incomplete, type="file")]


def tracker_options(f: Callable) -> Callable:
    """Attach the tracker, quality-control and reading options (from the settings' specs)."""
    for option in reversed(_tracker_options()):
        f = option(f)
    return f


def setting_options(*names: str) -> Callable[[Callable], Callable]:
    """Attach options for settings that are not tracker options (``spec.cli`` False), from their specs;
    :func:`settings_from` with the same ``names`` reads them."""

    def attach(f: Callable) -> Callable:
        for name in reversed(names):
            spec = params.spec_of(name)
            default = next(d for n, _, d in params.specs() if n == name)
            f = _option(name, spec, default)(f)
        return f

    return attach


def batch_options(f: Callable) -> Callable:
    """Attach batch's own settings (``--format``, ``--template``, ``--workers``, ``--lock``), from their specs."""
    for name, spec, default in reversed(list(params.specs())):
        if spec.cli and spec.scope == "batch":
            f = _option(name, spec, default)(f)
    return f


def verbosity(f: Callable, verbose_help: str = "More messages (repeatable); tracebacks on errors.") -> Callable:
    """Attach ``-q/--quiet`` and ``-v/--verbose`` (a count), as the group has them (see ``main.set_verbosity``)."""
    f = click.option("-v", "--verbose", count=True, help=verbose_help)(f)
    return click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")(f)


def settings_from(opts: dict, ctx: click.Context | None = None, extra: tuple[str, ...] = ()) -> params.Settings:
    """Defaults < ``--config`` < command-line options, validated by :mod:`cloudmotion.settings.params`.

    ``opts`` holds the tracker options' values (None where not given) and ``config_spec``;
    the tracker options (and the ``extra`` settings of :func:`setting_options`) are
    removed from it. A deprecated setting is one warning line on
    stderr (unless ``-q``), not a Python warning.
    """
    import warnings

    from cloudmotion.cli.main import warn
    from cloudmotion.settings.config import resolve_settings

    names = [name for name, spec, _ in params.specs() if spec.cli or name in extra]
    values = {name: opts.pop(name) for name in names if name in opts}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FutureWarning)
        settings = resolve_settings(values, opts.pop("config_spec", None))
    for w in caught:
        if ctx is not None and issubclass(w.category, FutureWarning):
            warn(ctx, str(w.message))
    return settings
