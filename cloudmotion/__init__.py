"""Cloud motion vectors from consecutive geostationary satellite frames.

The public names below are imported lazily, so ``import cloudmotion`` (and the command
line's ``--help``) costs nothing until a function is used. The package is laid out in one
subpackage per stage (``settings``, ``motion``, ``qc``, ``amv``, ``nowcast``, ``formats``,
``files``, ``batch``, ``tools``, ``cli``); docs/design.md states the layers.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

__version__ = "0.3.0.dev0"

__all__ = [
    "Flag",
    "Frame",
    "FrameInfo",
    "MotionField",
    "TrackParams",
    "Vectors",
    "iter_track_sequence",
    "open_frame",
    "read_frame",
    "read_vectors",
    "track_pair",
    "track_sequence",
    "write_vectors",
]

_LAZY = {
    "Flag": "cloudmotion.qc.checks",
    "Frame": "cloudmotion.formats.readers",
    "FrameInfo": "cloudmotion.formats.readers",
    "MotionField": "cloudmotion.model",
    "Vectors": "cloudmotion.model",
    "TrackParams": "cloudmotion.settings.params",
    "iter_track_sequence": "cloudmotion.sequence",
    "open_frame": "cloudmotion.formats.readers",
    "read_frame": "cloudmotion.formats.readers",
    "read_vectors": "cloudmotion.formats.vectors",
    "track_pair": "cloudmotion.track",
    "track_sequence": "cloudmotion.sequence",
    "write_vectors": "cloudmotion.formats.writers",
}

# Module paths of release 0.2.0 that moved into the stage packages. They still import, with a
# DeprecationWarning, for one release.
MOVED = {
    "cloudmotion.params": "cloudmotion.settings.params",
    "cloudmotion.params_rules": "cloudmotion.settings.rules",
    "cloudmotion.params_text": "cloudmotion.settings.text",
    "cloudmotion.config": "cloudmotion.settings.config",
    "cloudmotion.durations": "cloudmotion.settings.durations",
    "cloudmotion.provenance": "cloudmotion.settings.provenance",
    "cloudmotion.formats.name_patterns": "cloudmotion.settings.name_patterns",
    "cloudmotion.preprocess": "cloudmotion.motion.prefilter",
    "cloudmotion.equalize": "cloudmotion.motion.equalize",
    "cloudmotion.plateau": "cloudmotion.motion.plateau",
    "cloudmotion.search": "cloudmotion.motion.search",
    "cloudmotion.correlate": "cloudmotion.motion.correlate",
    "cloudmotion.subpixel": "cloudmotion.motion.subpixel",
    "cloudmotion.refine": "cloudmotion.motion.refine",
    "cloudmotion.refine_numpy": "cloudmotion.motion.references.refine",
    "cloudmotion.motion.refine_reference": "cloudmotion.motion.references.refine",
    "cloudmotion.expected_error": "cloudmotion.motion.expected_error",
    "cloudmotion.ee_terms": "cloudmotion.motion.ee_terms",
    "cloudmotion.kernels": "cloudmotion.motion.kernels.ncc",
    "cloudmotion.frame_kernels": "cloudmotion.motion.kernels.frame",
    "cloudmotion.lk_kernels": "cloudmotion.motion.kernels.lucas_kanade",
    "cloudmotion.ee_kernels": "cloudmotion.motion.kernels.ee",
    "cloudmotion.jit": "cloudmotion.motion.kernels.jit",
    "cloudmotion.field_stats": "cloudmotion.qc.field_stats",
    "cloudmotion.cloudtop": "cloudmotion.amv.cloudtop",
    "cloudmotion.height": "cloudmotion.amv.height",
    "cloudmotion.parallax": "cloudmotion.amv.parallax",
    "cloudmotion.cloudprob": "cloudmotion.amv.cloudprob",
    "cloudmotion.cloudfit": "cloudmotion.amv.cloudfit",
    "cloudmotion.dense_flow": "cloudmotion.nowcast.dense_flow",
    "cloudmotion.extrapolate": "cloudmotion.nowcast.extrapolate",
    "cloudmotion.skill": "cloudmotion.nowcast.skill",
    "cloudmotion.formats.atomic": "cloudmotion.files.atomic",
    "cloudmotion.formats.safety": "cloudmotion.files.safety",
    "cloudmotion.formats.stdout": "cloudmotion.files.stdout",
    "cloudmotion.formats.templates": "cloudmotion.files.templates",
    "cloudmotion.formats.gdal_errors": "cloudmotion.files.gdal_errors",
    "cloudmotion.formats.times": "cloudmotion.files.times",
    "cloudmotion.tools.synthetic": "cloudmotion.tools.known_motion",
    "cloudmotion.tools.scoring": "cloudmotion.tools.score_vectors",
    "cloudmotion.tools.verify": "cloudmotion.tools.verify_nowcast",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a 0.2.0 module path and hands out the module at its new path, with a warning.

    Consulted after the regular finders, so it costs nothing for paths that exist.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(new)
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module):
        """The module was executed under its new name; nothing to run."""


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if f"cloudmotion.{name}" in MOVED:
        return importlib.import_module(f"cloudmotion.{name}")
    raise AttributeError(f"module 'cloudmotion' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
