"""Standard output as a data channel: a full device, a closed descriptor or a reader that
went away each end the command with one line (or, for a closed pipe, quietly with 141).

- :func:`reserve_std_fds` keeps descriptors 0-2 occupied (``/dev/null``) when the shell
  closed them (``>&-``), so no file the tool opens later becomes "standard output", and
  makes a closed standard output fail loudly instead of dropping data.
- :func:`data_stdout` wraps ``sys.stdout`` for CSV on standard output: write errors become
  ``standard output: cannot write (REASON)``; a closed pipe becomes :class:`ReaderGone`
  (status 141, no message).
- :func:`stdout_failure` tells the command line whether an ``OSError`` came from standard
  output; :func:`discard_stdout` keeps the interpreter from complaining at exit.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys

from cloudmotion.errors import DataError

__all__ = [
    "SIGPIPE_STATUS",
    "ReaderGone",
    "click_saw_broken_pipe",
    "data_stdout",
    "discard_stdout",
    "reserve_std_fds",
    "stdout_failure",
]

SIGPIPE_STATUS = 141
"""Exit status after the reader of standard output went away (128 + SIGPIPE), as a shell reports it."""


class ReaderGone(Exception):
    """The reader of standard output went away (a closed pipe); the command ends quietly
    with :data:`SIGPIPE_STATUS`. Not an ``OSError``, so click does not turn it into status 1."""


def click_saw_broken_pipe() -> bool:
    """True after click swallowed a closed pipe (EPIPE) and exited with status 1: it then
    wraps ``sys.stdout`` in its ``_PacifyFlushWrapper``."""
    return type(sys.stdout).__name__ == "_PacifyFlushWrapper"


class _ClosedRaw(io.RawIOBase):
    """Standard output when the shell closed it: every write fails with EBADF (until discarded)."""

    discarded = False

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        if self.discarded:
            return len(b)
        raise OSError(errno.EBADF, "Bad file descriptor")


def reserve_std_fds() -> None:
    """Occupy closed descriptors 0, 1 and 2 with ``/dev/null``; a closed standard output then
    fails on the first write (``standard output: is closed``) instead of being silent.

    Python sets ``sys.stdout`` to None when descriptor 1 was closed at start-up (by then
    another file may hold descriptor 1: it is left alone)."""
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(_ClosedRaw()), encoding="utf-8", newline="\n")
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
            except OSError:
                continue
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def discard_stdout() -> None:
    """After standard output failed: drop what is still buffered, silently, so the
    interpreter's final flush does not print a second error."""
    stream = sys.stdout
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    if isinstance(raw, _ClosedRaw):
        raw.discarded = True
        return
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)


def _describe(exc: OSError) -> str:
    if exc.errno == errno.EBADF:
        return "standard output: is closed; redirect it to a file or give -o FILE"
    return f"standard output: cannot write ({exc.strerror or exc})"


class _DataStdout:
    """``sys.stdout`` whose write errors become :class:`DataError` (a closed pipe stays
    :class:`BrokenPipeError`)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def _call(self, name: str, *args):
        try:
            return getattr(self._stream, name)(*args)
        except BrokenPipeError:
            discard_stdout()
            raise ReaderGone() from None
        except OSError as exc:
            discard_stdout()
            raise DataError(_describe(exc)) from None

    def write(self, text: str) -> int:
        return self._call("write", text)

    def flush(self) -> None:
        self._call("flush")

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def data_stdout(stream=None):
    """Standard output (or ``stream``) for data (CSV), see :class:`_DataStdout`."""
    return _DataStdout(sys.stdout if stream is None else stream)


def stdout_failure(exc: BaseException) -> str | None:
    """The one-line message when ``exc`` is a failure to write standard output, else None.

    Also discards what is still buffered for standard output, so nothing more is reported.
    """
    if not isinstance(exc, OSError) or isinstance(exc, BrokenPipeError) or exc.filename is not None:
        return None
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except OSError as probe:
        discard_stdout()
        return _describe(probe)
    tb = exc.__traceback__
    while tb is not None:  # click.echo(..., err=False) raised it: standard output
        code = tb.tb_frame.f_code
        if code.co_name == "echo" and "click" in code.co_filename and not tb.tb_frame.f_locals.get("err"):
            discard_stdout()
            return _describe(exc)
        tb = tb.tb_next
    return None
