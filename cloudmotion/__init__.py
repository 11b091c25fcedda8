"""Cloud motion vectors from consecutive geostationary satellite frames.

The library's entry points are imported lazily, so ``import cloudmotion`` (and the command
line's ``--help``) costs nothing until a function is used.
"""

__version__ = "0.2.0"

__all__ = ["Flag", "MotionField", "TrackParams", "Vectors", "iter_track_sequence", "track_pair", "track_sequence"]

_LAZY = {
    "Flag": "cloudmotion.qc", "MotionField": "cloudmotion.model", "Vectors": "cloudmotion.model",
    "TrackParams": "cloudmotion.params", "track_pair": "cloudmotion.track", "track_sequence": "cloudmotion.track",
    "iter_track_sequence": "cloudmotion.track",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cloudmotion' has no attribute {name!r}")
