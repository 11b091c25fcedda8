"""Catch the write errors GDAL, libtiff and HDF5 report without raising, and check a written
file before it is renamed into place.

GDAL reports many write failures (a full disk at close, a failed directory rewrite)
only through its error handler: rasterio logs them as ``GDAL signalled an error`` and the
dataset closes without an exception. libtiff and HDF5 also print raw lines such as
``_tiffSeekProc: No space left on device.`` straight to file descriptor 2. Inside
:func:`capture_write_errors` both are collected instead of reaching the terminal, and a
failure becomes one :class:`~cloudmotion.errors.DataError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator

from cloudmotion.errors import DataError

__all__ = ["WriteErrors", "capture_write_errors", "disk_full", "os_reason", "verify_geotiff", "verify_netcdf"]

_RASTERIO_LOGGER = "rasterio"
_SIGNALLED = "GDAL signalled an error"


def disk_full(path: str) -> bool:
    """True when the file system holding ``path`` has no block left for this user."""
    try:
        st = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return st.f_bavail == 0 or st.f_favail == 0


def os_reason(exc: BaseException, path: str) -> str:
    """The reason a write of ``path`` failed: ``No space left on device`` when the disk is
    full, whatever the library made of it (netCDF-C reports ``Permission denied``)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return exc.strerror or "No space left on device"
    if disk_full(path):
        return "No space left on device"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return " ".join(str(exc).split()) or type(exc).__name__


class WriteErrors:
    """Messages collected while a file was written."""

    def __init__(self) -> None:
        self.gdal: list[str] = []  # CE_Failure / CE_Fatal, through rasterio's error handler
        self.raw: list[str] = []  # lines printed to fd 2 by libtiff, HDF5 or GDAL itself

    @property
    def failed(self) -> bool:
        return bool(self.gdal)

    def reason(self) -> str:
        """A short reason: the operating system's message when there is one, else GDAL's first."""
        for text in self.raw + self.gdal:
            for known in (
                "No space left on device",
                "Disk quota exceeded",
                "Input/output error",
                "Read-only file system",
                "File too large",
            ):
                if known in text:
                    return known
        return (self.gdal or self.raw or ["write error"])[0]

    def reason_for(self, path: str) -> str:
        """:meth:`reason`, or ``No space left on device`` when GDAL's text does not say but the disk is full."""
        text = self.reason()
        if text in self.gdal + self.raw and disk_full(path):
            return "No space left on device"
        return text


class _Collector(logging.Handler):
    def __init__(self, errors: WriteErrors) -> None:
        super().__init__(level=logging.DEBUG)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is no reason to fail a write
            return
        if _SIGNALLED in msg or record.levelno >= logging.ERROR:
            self.errors.gdal.append(" ".join(msg.split()))


@contextlib.contextmanager
def _fd2_captured(errors: WriteErrors) -> Iterator[None]:
    """Point file descriptor 2 at a temporary file for the block; keep its lines in ``errors.raw``."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to capture
        yield
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read(1 << 16).decode("utf-8", "replace")
                errors.raw.extend(" ".join(ln.split()) for ln in text.splitlines() if ln.strip())
    finally:
        os.close(saved)


@contextlib.contextmanager
def capture_write_errors(path: str) -> Iterator[WriteErrors]:
    """Collect GDAL's error-handler messages and raw fd-2 output while writing ``path``.

    Nothing reaches standard error. On a normal exit from the block, raise
    :class:`DataError` (``PATH: cannot write (REASON)``) when GDAL signalled a failure
    (e.g. a full disk when the dataset was closed); an ``OSError`` or ``RuntimeError``
    from the block after such messages becomes the same error with GDAL's reason. Other
    exceptions pass through unchanged.

    Yields
    ------
    WriteErrors
    """
    errors = WriteErrors()
    logger = logging.getLogger(_RASTERIO_LOGGER)
    handler = _Collector(errors)
    old_level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)  # rasterio logs signalled errors at INFO
    try:
        with _fd2_captured(errors), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NotGeoreferencedWarning and friends: not the user's concern here
            try:
                yield errors
            except (OSError, RuntimeError) as exc:  # RasterioIOError "Write failed", netCDF4 "HDF error", ...
                if errors.failed or errors.raw:
                    raise DataError(f"{path}: cannot write ({errors.reason_for(path)})") from exc
                raise DataError(f"{path}: cannot write ({os_reason(exc, path)})") from exc
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    if errors.failed:
        raise DataError(f"{path}: cannot write ({errors.reason_for(path)})")


def _check(path: str, what: str, ok: Callable[[], bool]) -> None:
    try:
        with capture_write_errors(path) as errors:
            good = ok()
        good = good and not errors.failed
    except DataError:
        good = False
    except Exception:  # noqa: BLE001 - whatever the reader trips on, the file is not complete
        good = False
    if not good:
        raise DataError(f"{path}: cannot write (the {what} written is incomplete; disk full?)")


def verify_geotiff(tmp: str, path: str, *, count: int, shape: tuple[int, int], tags: tuple[str, ...] = ()) -> None:
    """Re-open a GeoTIFF just written to ``tmp`` and read every band and the ``tags`` written.

    Raises
    ------
    DataError
        Naming ``path`` when the file does not open, has the wrong size or band count, a
        block cannot be read or a tag is missing (a truncated or zero-byte file: GDAL reads
        a TIFF cut inside its metadata without an error, only without the metadata).
    """
    import rasterio

    def ok() -> bool:
        with rasterio.open(tmp) as ds:
            if ds.count != count or (ds.height, ds.width) != tuple(shape):
                return False
            ds.read()
            return all(key in ds.tags() for key in tags)

    _check(path, "GeoTIFF", ok)


def verify_netcdf(tmp: str, path: str, *, variables: tuple[str, ...]) -> None:
    """Re-open a netCDF file just written to ``tmp`` and read the named variables.

    Raises
    ------
    DataError
        Naming ``path`` when the file does not open or a variable is missing or unreadable.
    """
    import netCDF4

    def ok() -> bool:
        with netCDF4.Dataset(tmp, "r") as ds:
            for name in variables:
                if name not in ds.variables:
                    return False
                ds.variables[name][:]
        return True

    _check(path, "netCDF file", ok)
