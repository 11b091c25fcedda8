# The public API, for type checkers and editors (the package imports these lazily).
from cloudmotion.formats.readers import Frame as Frame
from cloudmotion.formats.readers import FrameInfo as FrameInfo
from cloudmotion.formats.readers import open_frame as open_frame
from cloudmotion.formats.readers import read_frame as read_frame
from cloudmotion.formats.vectors import read_vectors as read_vectors
from cloudmotion.formats.writers import write_vectors as write_vectors
from cloudmotion.model import MotionField as MotionField
from cloudmotion.model import Vectors as Vectors
from cloudmotion.qc.checks import Flag as Flag
from cloudmotion.sequence import iter_track_sequence as iter_track_sequence
from cloudmotion.sequence import track_sequence as track_sequence
from cloudmotion.settings.params import TrackParams as TrackParams
from cloudmotion.track import track_pair as track_pair

__version__: str
MOVED: dict[str, str]
