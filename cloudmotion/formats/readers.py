"""Frame readers: the :class:`Reader` contract, and opening a frame through the registry.

Readers live in :data:`cloudmotion.registry.READERS` and are asked in registration order;
the first whose ``claims(path)`` is True opens the frame (the generic GDAL raster reader is
last and claims everything). To add one, write ``open(path, *, band, channels) ->
FrameInfo`` and ``read(info, *, nodata, valid_range, dqf) -> Frame`` (values float32 in
physical units, never 8 bit, and a validity mask), wrap them in a :class:`Reader` and
register it *before* the generic one::

    READERS.register("radar", "mypkg.radar:READER", first=True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import registry

__all__ = ["Reader", "open_frame", "read_frame"]


@dataclass(frozen=True)
class Reader:
    """One input format.

    Attributes
    ----------
    name : str
        Registry name; stored in ``FrameInfo.reader`` so reads come back to it.
    claims : callable
        ``claims(path) -> bool``: whether it reads this path (by name only; no I/O).
    open : callable
        ``open(path, *, band=None, channels=None) -> FrameInfo``: the header.
    read : callable
        ``read(info, *, nodata=None, valid_range=None, dqf=False) -> Frame``: the pixels.
    description : str
        One line for users.
    """

    name: str
    claims: Callable[[str], bool]
    open: Callable
    read: Callable
    description: str = ""


def reader_for(path: str) -> Reader:
    """The first registered reader that claims ``path``."""
    for reader in registry.READERS.values():
        if reader.claims(path):
            return reader
    raise ValueError(f"{path}: no reader claims this file")


def open_frame(path: str, *, band: int | None = None, channels: str | None = None):
    """Open a frame's header with the reader that claims it (see :class:`Reader`).

    Raises
    ------
    DataError
        Missing, unreadable or unsupported file (one line naming it).
    UsageError
        A band the file does not have, or ``band`` and ``channels`` together.
    """
    return reader_for(path).open(path, band=band, channels=channels)


def read_frame(info, *, nodata: float | None = None, valid_range: tuple[float, float] | None = None,
               dqf: bool = False):
    """Read a frame's pixels through the reader that opened it."""
    return registry.READERS.get(info.reader).read(info, nodata=nodata, valid_range=valid_range, dqf=dqf)
