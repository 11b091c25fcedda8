"""Output formats: the :class:`Writer` contract and the choice of a writer by file name.

Writers live in :data:`cloudmotion.registry.WRITERS`. To add one: write a module with a
``write(path, vectors)`` function that writes through
:func:`cloudmotion.files.atomic.atomic_path`, wrap it in a :class:`Writer` and register
it with :func:`register_writer` (which also records its suffixes, so that choosing a
writer by name imports nothing). The longest matching suffix wins, so ``.dmw.nc`` can
sit beside ``.nc``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cloudmotion import registry

__all__ = ["Writer", "write_vectors", "writer_for", "writer_name_for"]


@dataclass(frozen=True)
class Writer:
    """One output format.

    Attributes
    ----------
    name : str
        Registry name (``csv``, ``tif``, ...).
    suffixes : tuple of str
        File name endings it writes, lower case, with the dot.
    write : callable
        ``write(path, vectors: cloudmotion.model.Vectors) -> None``; atomic.
    extra : str or None
        The optional dependency group it needs (``netcdf``), or None.
    require : callable or None
        ``require(path)`` raises a one-line UsageError when ``extra`` is missing.
    streams : bool
        It can append several pairs to one file or to standard output (CSV).
    per_pair : bool
        Several pairs need one file each (a ``{pair}`` placeholder).
    description : str
        One line for the help.
    """

    name: str
    suffixes: tuple[str, ...]
    write: Callable
    extra: str | None = None
    require: Callable[[str], object] | None = None
    streams: bool = False
    per_pair: bool = True
    description: str = ""


def register_writer(writer: Writer, *, replace: bool = False) -> None:
    """Register ``writer`` under its name and claim its suffixes for it."""
    registry.WRITERS.register(writer.name, writer, replace=replace)
    for suffix in writer.suffixes:
        registry.WRITER_SUFFIXES[suffix.lower()] = writer.name


def writer_name_for(path: str) -> str | None:
    """Registry name of the writer for ``path`` by its longest matching suffix (``-`` is CSV).

    Built-in suffixes come from :data:`cloudmotion.registry.WRITER_SUFFIXES`, so only installed
    writer plug-ins are imported (to learn their suffixes).
    """
    if path == "-":
        return "csv"
    low = path.lower()
    _claim_plugin_suffixes()
    best = max((s for s in registry.WRITER_SUFFIXES if low.endswith(s)), key=len, default=None)
    return registry.WRITER_SUFFIXES[best] if best else None


def _claim_plugin_suffixes() -> None:
    """Import the installed writer plug-ins whose suffixes are not known yet (none installed: nothing)."""
    known = set(registry.WRITER_SUFFIXES.values())
    for name in [name for name in registry.WRITERS.plugins() if name not in known]:
        for suffix in registry.WRITERS.get(name).suffixes:
            registry.WRITER_SUFFIXES.setdefault(suffix.lower(), name)


def writer_for(path: str) -> Writer | None:
    """The :class:`Writer` for ``path``, or None when no suffix matches."""
    name = writer_name_for(path)
    return registry.WRITERS.get(name) if name else None


def write_vectors(path: str, vectors, name: str | None = None) -> None:
    """Write one pair to its own file with the writer ``name`` (default: by the suffix)."""
    writer = registry.WRITERS.get(name) if name else writer_for(path)
    if writer is None:
        raise ValueError(f"{path}: no writer for this file name")
    writer.write(path, vectors)
