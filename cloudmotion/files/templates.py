"""Output-name templates: only the documented placeholders and format specs.

:meth:`str.format` would also evaluate attribute and index access
(``{time_a.__class__.__name__}``, ``{time_a.tzinfo}``) and nested fields; a template may
name only its documented fields, each with an optional format spec (strftime for times)
and no conversion.
"""

from __future__ import annotations

import string
from collections.abc import Collection

from cloudmotion.errors import UsageError

__all__ = ["check_fields"]


def check_fields(template: str, allowed: Collection[str], option: str, hint: str) -> None:
    """Refuse placeholders other than ``{NAME}`` or ``{NAME:SPEC}`` with NAME in ``allowed``.

    Parameters
    ----------
    template : str
    allowed : collection of str
        The documented field names.
    option : str
        The option named in the message (``-o``, ``--template``, ``--plot``).
    hint : str
        What to use instead, appended to the message.

    Raises
    ------
    UsageError
        An unknown field, attribute or index access, a conversion (``!r``), a nested field
        in a format spec, or unbalanced braces.
    """
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"{option} {template}: bad placeholder ({exc}); {hint}") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in allowed:
            what = "attribute or index access" if name.split(".")[0].split("[")[0] in allowed else "unknown field"
            raise UsageError(f"{option} {template}: {what} {{{name}}} is not allowed; {hint}")
        if conversion is not None:
            raise UsageError(f"{option} {template}: conversion !{conversion} in {{{name}}} is not allowed; {hint}")
        if spec and ("{" in spec or "}" in spec):
            raise UsageError(f"{option} {template}: nested placeholder in {{{name}:{spec}}} is not allowed; {hint}")
