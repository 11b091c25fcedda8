"""cloudmotion: cloud motion vectors from consecutive geostationary satellite frames."""

from .qc import Flag
from .track import MotionField, TrackParams, track_pair, track_sequence

__version__ = "0.1.0"
__all__ = ["Flag", "MotionField", "TrackParams", "__version__", "track_pair", "track_sequence"]
