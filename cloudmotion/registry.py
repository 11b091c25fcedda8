"""The extension points: one registry per family of interchangeable parts.

Every registry maps a name to ``"module:attribute"`` and imports the entry only when it is
first asked for, so listing the choices (for ``--help``, or to validate a setting) imports
nothing heavy. A new entry is one call to :meth:`Registry.register`, with an object or a
``"module:attribute"`` path; CONTRIBUTING.md has a recipe per registry.

=================  ==============================================================
registry           contract of an entry
=================  ==============================================================
``CORRELATORS``    ``f(t, tm, s, sm, *, min_overlap, **hints) -> surfaces``: templates ``t``
                   (N, w, w) float32 with validity ``tm`` (bool, same shape), search
                   regions ``s`` (N, w + 2r, w + 2r) with validity ``sm``; returns
                   (N, 2r + 1, 2r + 1) float32 correlation coefficients in [-1, 1]
                   normalised at every lag, NaN where a lag is undefined (too little
                   overlap of valid pixels or no variance). Index ``[r, r]`` is lag 0.
                   ``hints`` (``region_norms``, ``dense``) may be used or ignored.
``SUBPIXEL``       ``f(minus, centre, plus) -> offset``: three correlation values
                   along one axis around an integer peak (arrays of shape (N,)); returns
                   the peak's offset from the centre sample in px, NaN where undefined.
``READERS``        a :class:`cloudmotion.formats.readers.Reader`: ``claims(path) ->
                   bool`` and ``open(path, band=, channels=) -> FrameInfo``; readers are
                   asked in registration order, the first that claims a path reads it.
``WRITERS``        a :class:`cloudmotion.formats.writers.Writer`: suffixes, the optional
                   extra it needs, whether it can stream to stdout, and ``write(path,
                   result)`` which must write atomically (``atomic_path``).
``QC_TESTS``       a :class:`cloudmotion.qc.checks.QCTest`: its flag bit, the settings it
                   reads and ``test(ctx) -> mask`` (True = flag the vector). A plug-in's
                   bit is 2**20 or above (the bits below are the project's); its own
                   thresholds come from a ``[qc.NAME]`` table of the config file, as
                   ``ctx.options``.
=================  ==============================================================

Installed packages add entries through entry points, which are listed by name without
importing anything (so ``--help`` stays light) and imported when first used:

===========================  ============  ==========================================
entry-point group            registry      ordering
===========================  ============  ==========================================
``cloudmotion.correlators``  CORRELATORS   after the built-in methods
``cloudmotion.subpixel``     SUBPIXEL      after the built-in fits
``cloudmotion.readers``      READERS       before the built-in readers (asked first)
``cloudmotion.writers``      WRITERS       after the built-in writers; suffixes from
                                           the entry's ``Writer.suffixes``
``cloudmotion.qc_tests``     QC_TESTS      after the built-in tests
===========================  ============  ==========================================

An entry point's name is the registry name and its value the ``"module:attribute"`` of
the entry, e.g. in the plug-in's ``pyproject.toml``::

    [project.entry-points."cloudmotion.correlators"]
    sad = "mypkg.sad:sad_surfaces"
"""

from __future__ import annotations

import difflib
import functools
import importlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "CHANNELS",
    "CORRELATORS",
    "EQUALIZERS",
    "INTERPOLATIONS",
    "QC_TESTS",
    "READERS",
    "SUBPIXEL",
    "WRITERS",
    "Registry",
]


_installed: dict[tuple[str, ...], Any] = {}  # sys.path -> every installed entry point, read once


def installed_entry_points(group: str) -> dict[str, str]:
    """Installed entry points of ``group``: name -> ``"module:attribute"`` (nothing imported).

    The metadata of the installed packages is read once per process for every group (one
    pass over the folders of :data:`sys.path`, about 15 ms with a few hundred packages,
    rather than one pass per registry), and again only when :data:`sys.path` changes. The
    names and order are those of ``importlib.metadata.entry_points(group=group)``.
    """
    key = tuple(sys.path)
    if key not in _installed:
        from importlib.metadata import entry_points

        _installed.clear()
        _installed[key] = entry_points()
    return {ep.name: ep.value for ep in _installed[key].select(group=group)}


class Registry:
    """Named entries of one kind, imported lazily.

    Parameters
    ----------
    kind : str
        What an entry is, for messages (``"correlation method"``).
    entries : dict of str to str or object
        Name -> ``"module:attribute"`` (imported when first used) or the object itself.
    group : str, optional
        Entry-point group whose installed plug-ins join the registry.
    plugins_first : bool
        Plug-ins come before the registered entries (readers: a plug-in that claims a
        path must be asked before the generic reader that claims everything).
    """

    def __init__(
        self, kind: str, entries: dict[str, Any] | None = None, *, group: str | None = None, plugins_first: bool = False
    ) -> None:
        self.kind = kind
        self.group = group
        self.plugins_first = plugins_first
        self._entries: dict[str, Any] = dict(entries or {})
        self._plugins: dict[str, Any] | None = None if group else {}

    def plugins(self) -> dict[str, Any]:
        """Installed plug-ins of this registry's entry-point group: name -> entry (nothing imported)."""
        if self._plugins is None:
            self._plugins = installed_entry_points(self.group or "")
        return self._plugins

    def _all(self) -> dict[str, Any]:
        plugins = {k: v for k, v in self.plugins().items() if k not in self._entries}
        return {**plugins, **self._entries} if self.plugins_first else {**self._entries, **plugins}

    def names(self) -> list[str]:
        """Registered and installed names, in the order they are asked (nothing is imported)."""
        return list(self._all())

    def is_plugin(self, name: str) -> bool:
        """Whether ``name`` comes from an installed package's entry point."""
        return name not in self._entries and name in self.plugins()

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self.plugins()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def register(self, name: str, entry: Any, *, replace: bool = False, first: bool = False) -> None:
        """Add an entry: an object, or a ``"module:attribute"`` path imported when first used.

        ``first`` puts it ahead of the others (readers are asked in order).

        Raises
        ------
        ValueError
            When ``name`` is taken and ``replace`` is False.
        """
        if name in self._entries and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        if first:
            self._entries = {name: entry, **{k: v for k, v in self._entries.items() if k != name}}
        else:
            self._entries[name] = entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests use it to clean up a toy entry)."""
        self._entries.pop(name, None)

    def get(self, name: str) -> Any:
        """The entry called ``name``, imported on first use.

        Raises
        ------
        ValueError
            For an unknown name, listing the choices and the closest one.
        """
        try:
            entry = self._entries[name] if name in self._entries else self.plugins()[name]
        except KeyError:
            hint = difflib.get_close_matches(str(name), self.names(), n=1)
            tip = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ValueError(f"unknown {self.kind} {name!r}; choose from {', '.join(self.names())}{tip}") from None
        if isinstance(entry, str) and ":" in entry:
            module, _, attr = entry.partition(":")
            entry = functools.reduce(getattr, attr.strip().split("."), importlib.import_module(module.strip()))
            (self._entries if name in self._entries else self.plugins())[name] = entry
        return entry

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def values(self) -> Iterator[Any]:
        """The entries, in registration order, each imported."""
        for name in self.names():
            yield self.get(name)

    def items(self) -> Iterator[tuple[str, Any]]:
        """(name, entry) pairs, importing each entry."""
        for name in self.names():
            yield name, self.get(name)


CORRELATORS = Registry(
    "correlation method",
    {
        "ncc": "cloudmotion.motion.correlate:ncc_surfaces",
    },
    group="cloudmotion.correlators",
)
"""Correlation methods normalised at every lag (contract in the module docstring)."""

SUBPIXEL = Registry(
    "sub-pixel method",
    {
        "gaussian": "cloudmotion.motion.subpixel:gaussian_fit",
        "parabolic": "cloudmotion.motion.subpixel:parabolic_fit",
        "centroid": "cloudmotion.motion.subpixel:centroid_fit",
    },
    group="cloudmotion.subpixel",
)
"""Three-point sub-pixel peak fitters."""

SEARCH_MODES = ("c2f", "full")
"""Peak searches: coarse-to-fine with compiled kernels, or the exhaustive FFT reference."""

INTERPOLATIONS = ("bicubic", "bilinear")
"""Warp kernels of the Lucas-Kanade refinement."""

CHANNELS = ("luminance", "pca", "mean")
"""Reductions of a multi-band frame to one channel (:func:`cloudmotion.motion.prefilter.reduce_channels`)."""

EQUALIZERS = ("none", "clahe")
"""Contrast equalisations before the pre-filter (:func:`cloudmotion.motion.prefilter.prepare_frame`)."""

READERS = Registry(
    "reader",
    {
        "goes-netcdf": "cloudmotion.formats.goes:GOES_NETCDF",
        "raster": "cloudmotion.formats.raster:RASTER",
    },
    group="cloudmotion.readers",
    plugins_first=True,
)
"""Frame readers, asked in order; the generic GDAL raster reader comes last."""

WRITERS = Registry(
    "output format",
    {
        "csv": "cloudmotion.formats.csv:WRITER",
        "tif": "cloudmotion.formats.geotiff:WRITER",
        "geojson": "cloudmotion.formats.geojson:WRITER",
        "nc": "cloudmotion.formats.netcdf:WRITER",
        "dmw": "cloudmotion.formats.dmw:WRITER",
    },
    group="cloudmotion.writers",
)
"""Output formats, chosen by the longest matching suffix of the output path."""

PLUGIN_BIT = 1 << 20
"""The lowest flag bit a plug-in QC test may use; the bits below are the project's."""

WRITER_SUFFIXES = {".csv": "csv", ".tif": "tif", ".tiff": "tif", ".geojson": "geojson", ".nc": "nc", ".dmw.nc": "dmw"}
"""Suffix -> writer name for the built-in writers, so choosing one imports nothing; a
registered writer adds its own suffixes (see :func:`cloudmotion.formats.writers.writer_for`)."""

QC_TESTS = Registry("quality test", {}, group="cloudmotion.qc_tests")
"""Quality-control tests, run in registration order (filled by :mod:`cloudmotion.qc.checks`)."""
