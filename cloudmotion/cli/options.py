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

__all__ = [
    "OPTION_GROUPS",
    "GroupedCommand",
    "batch_options",
    "complete_config",
    "complete_setting",
    "setting_options",
    "settings_from",
    "tracker_options",
    "verbosity",
]

OPTION_GROUPS = {
    "outputs": "output",
    "output": "output",
    "outdir": "output",
    "plot_path": "output",
    "overwrite": "output",
    "flow": "output",
    "config_spec": "input",
    "files_from": "input",
    "triplets": "input",
    "lead": "nowcast",
    "every": "nowcast",
    "nowcast": "nowcast",
    "sites": "output",
    "site_output": "output",
    "members": "nowcast",
    "write_members": "nowcast",
    "advect": "nowcast",
    "seed": "nowcast",
    "retry_failed": "run",
    "scheduler": "run",
    "progress": "run",
    "quiet": "run",
    "verbose": "run",
}
"""Group (a key of ``params.GROUPS``) of the options that are not settings, by parameter name;
a setting's group is its Spec's, ``--help``'s is ``run``."""


class GroupedCommand(click.Command):
    """A command whose ``--help`` lists its options under headings (input, search, refinement,
    quality control, AMV, output, ...): a setting's ``Spec.group``, else :data:`OPTION_GROUPS`."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list] = {key: [] for key in params.GROUPS}
        other = []
        help_names = set(self.get_help_option_names(ctx))
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record is None:
                continue
            try:
                key = params.spec_of(param.name).group
            except KeyError:
                key = "run" if help_names & set(param.opts) else OPTION_GROUPS.get(param.name, "")
            sections.get(key, other).append(record)
        for key, rows in sections.items():
            if rows:
                with formatter.section(f"{params.GROUPS[key]} options"):
                    formatter.write_dl(rows)
        if other:
            with formatter.section("Other options"):
                formatter.write_dl(other)


def complete_setting(spec: params.Spec) -> Callable:
    """Shell completion of a setting's option: its ``choices``, else its ``words`` and file names."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        words = list(spec.choices()) if spec.choices else list(spec.words)
        items = [CompletionItem(w) for w in words if w.startswith(incomplete)]
        return items if spec.choices else [*items, CompletionItem(incomplete, type="file")]

    return complete


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
    typ = str if spec.auto else {"int": int, "float": float, "str": str, "duration": str, "error": str}[spec.kind]
    metavar = spec.metavar or (
        "|".join(spec.choices())
        if spec.choices
        else {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "duration": "DURATION", "error": "PX|M/S"}[spec.kind]
    )
    if spec.choices or spec.words:
        kw["shell_complete"] = complete_setting(spec)
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
