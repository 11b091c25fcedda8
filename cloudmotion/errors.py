"""Exceptions raised at the edges (reading, writing, configuration).

The command line maps :class:`DataError` to exit status 1 and :class:`UsageError` to
exit status 2, printing the message as one line without a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["CloudmotionError", "DataError", "Terminated", "UsageError", "missing_extra", "sigterm_raises"]


class CloudmotionError(Exception):
    """Base class of the errors cloudmotion reports to users."""

    exit_code = 1


class DataError(CloudmotionError):
    """Unreadable, mismatched or untrackable input data, or an output that cannot be written."""

    exit_code = 1


class UsageError(CloudmotionError):
    """A bad option, option value or configuration key."""

    exit_code = 2


def missing_extra(what: str, extra: str, module: str) -> UsageError:
    """The one error for a missing optional dependency (exit status 2), for ``raise ... from None``.

    Parameters
    ----------
    what : str
        What needs it, naming the option or file (``-o v.nc: netCDF output``).
    extra : str
        The extra that installs it (``plot``, ``netcdf``, ``dask``).
    module : str
        The Python module that is missing (``matplotlib``).
    """
    return UsageError(
        f"{what} needs the {extra} extra ({module} is not installed): "
        f"pip install 'cloudmotion[{extra}]', or pip install '.[{extra}]' in a source checkout"
    )


class Terminated(BaseException):
    """Raised by SIGTERM (see :func:`sigterm_raises`) so that temporary files are removed on the
    way out; the command line exits with status 143."""


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    Does nothing outside the main thread. The previous handler is restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
