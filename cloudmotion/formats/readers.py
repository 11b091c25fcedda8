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
from datetime import datetime

import numpy as np

from cloudmotion import registry

__all__ = ["Frame", "FrameInfo", "Reader", "open_frame", "read_frame"]


@dataclass(frozen=True)
class FrameInfo:
    """What a frame's header says, read without loading the pixels.

    Attributes
    ----------
    path : str
        The path as given by the user (the name used in messages).
    source : str
        What rasterio opens (may be a ``NETCDF:path:VAR`` subdataset).
    shape : (int, int)
        Rows and columns.
    count : int
        Number of bands.
    band : int
        The band read (1-based).
    dtype : str
        Storage data type.
    transform : tuple of 6 floats or None
        Affine pixel-corner transform, ``None`` when the file has no georeference.
    crs_wkt : str or None
        CRS as WKT.
    time : datetime or None
        Acquisition (scan start) time, UTC.
    time_source : str or None
        Where the time came from, in the order of trust: ``"file name (--name-pattern)"``,
        ``"file name"`` (a GOES name), a tag (``"netCDF time_coverage_start"``,
        ``"TIFFTAG_DATETIME"`` ...), or ``"file name stamp"`` (one unambiguous date-time
        stamp in the name, :mod:`cloudmotion.formats.name_stamps`).
    goes : dict or None
        Satellite, sector and band parsed from a GOES ABI file name.
    bands : tuple of int
        The 1-based bands read (several when ``channels`` reduces them to one).
    channels : str or None
        Channel reduction applied to ``bands`` (``luminance``, ``pca``, ``mean``).
    dqf_source : str or None
        The GOES data quality flag variable beside the image, when there is one.
    driver : str
        GDAL driver name.
    reader : str
        The registered reader that opened it (:data:`cloudmotion.registry.READERS`).
    palette : bool
        The band holds palette indices: it is expanded to red, green and blue through its
        colour table and then reduced by ``channels`` (luminance by default).
    quantity, unit : str or None
        What the values read are (``radiance``, ``brightness_temperature``,
        ``reflectance_factor``, a CF standard name) and their unit; None when unknown.
    calibration : dict or None
        GOES L1b calibration constants found (``planck_*`` or ``kappa0``,
        :mod:`cloudmotion.formats.calibration`).
    calibrate : {"bt", "reflectance"} or None
        The conversion applied at read (chosen by :func:`calibration.resolve`).
    notes : tuple of str
        Things worth a warning about the header (constants that could not be read).
    """

    path: str
    source: str
    shape: tuple[int, int]
    count: int
    band: int
    dtype: str
    transform: tuple[float, ...] | None
    crs_wkt: str | None
    time: datetime | None
    time_source: str | None
    goes: dict | None
    bands: tuple[int, ...] = (1,)
    channels: str | None = None
    dqf_source: str | None = None
    driver: str = ""
    reader: str = "raster"
    palette: bool = False
    # calibration of GOES L1b values
    quantity: str | None = None
    unit: str | None = None
    calibration: dict | None = None
    calibrate: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Frame:
    """A frame's pixels: float32 values in physical units plus a validity mask.

    ``raw`` holds the stored values the pixels were computed from (before scale, offset and
    calibration; (rows, cols), or (bands, rows, cols) for several bands), when the reader
    keeps them: the tracker compares them bit for bit to find unchanged data.
    """

    info: FrameInfo
    data: np.ndarray
    valid: np.ndarray
    raw: np.ndarray | None = None


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


def read_frame(info, *, nodata: float | None = None, valid_range: tuple[float, float] | None = None, dqf: bool = False):
    """Read a frame's pixels through the reader that opened it."""
    return registry.READERS.get(info.reader).read(info, nodata=nodata, valid_range=valid_range, dqf=dqf)
