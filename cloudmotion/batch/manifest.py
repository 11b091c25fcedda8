"""The output folder of a batch run: its lock, leftover temporary files and the JSON-lines
manifest of every pair."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Self

from ..errors import DataError, UsageError

__all__ = ["LOCK_NAME", "MANIFEST_NAME", "Manifest", "outdir_lock", "prepare_outdir", "remove_stale_temps"]

MANIFEST_NAME = "manifest.jsonl"
"""The JSON-lines manifest in the output folder."""

LOCK_NAME = ".cloudmotion.lock"
"""The lock file in the output folder."""

_TEMP_RE = re.compile(r"^\..+\.[A-Za-z0-9]+\.[A-Za-z0-9_]+\.part$")  # writers.atomic_path: .NAME.XXXXXXXX.part



def prepare_outdir(outdir: str) -> str:
    """Create the output folder if needed; return its absolute path.

    Raises
    ------
    UsageError
        When it is a file.
    DataError
        When it cannot be created or written.
    """
    full = os.path.abspath(outdir)
    if os.path.exists(full) and not os.path.isdir(full):
        raise UsageError(f"-o {outdir}: is a file, not a folder")
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as exc:
        raise DataError(f"-o {outdir}: cannot create the folder ({exc.strerror})") from None
    if not os.access(full, os.W_OK):
        raise DataError(f"-o {outdir}: folder is not writable")
    return full


def _try_flock(fd: int, how: int, patience: float = 0.0) -> bool:
    """Take a non-blocking flock, retrying for up to ``patience`` seconds."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


@contextlib.contextmanager
def outdir_lock(outdir: str, *, exclusive: bool) -> Iterator[list[str]]:
    """Lock ``OUTDIR/.cloudmotion.lock`` with :func:`fcntl.flock` for the duration of a run.

    Every run holds the lock shared; an ``exclusive`` run (``--lock``) holds it exclusively
    and stops at once when another run holds it. A run that finds the folder unused
    first removes the temporary files a killed run left behind (:func:`remove_stale_temps`)
    while it holds the lock exclusively.

    Yields
    ------
    list of str
        The temporary files removed.

    Raises
    ------
    DataError
        ``exclusive`` and another run holds the lock.
    """
    path = os.path.join(outdir, LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise DataError(f"{path}: cannot open the lock file ({exc.strerror})") from None
    try:
        removed = []
        if _try_flock(fd, fcntl.LOCK_EX):
            removed = remove_stale_temps(outdir)
            if not exclusive:
                fcntl.flock(fd, fcntl.LOCK_SH)  # let other runs without --lock share the folder
        elif exclusive:
            raise DataError(f"{path}: locked by another cloudmotion batch run on this folder; exiting")
        else:
            _try_flock(fd, fcntl.LOCK_SH, patience=5.0)  # wait out another run's cleanup, not a --lock run
        yield removed
    finally:
        os.close(fd)


def remove_stale_temps(outdir: str) -> list[str]:
    """Delete the temporary files (``.NAME.XXXX.part``) a killed run left in ``outdir``.

    Call only while no other run uses the folder (see :func:`outdir_lock`).

    Returns
    -------
    list of str
        The files removed.
    """
    removed = []
    for root, _dirs, files in os.walk(outdir):
        for name in files:
            if _TEMP_RE.match(name):
                path = os.path.join(root, name)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                    removed.append(path)
    return removed


class Manifest:
    """The JSON-lines manifest, appended one whole line per ``write`` (``O_APPEND``), so lines
    from concurrent runs never interleave and a killed run leaves only whole lines."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Self:
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot write the manifest ({exc.strerror})") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def append(self, record: dict) -> None:
        """Append one record as one line.

        Raises
        ------
        DataError
            When the line cannot be written whole (disk full).
        """
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            n = os.write(self._fd, data)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot append to the manifest ({exc.strerror})") from None
        if n != len(data):
            raise DataError(f"{self.path}: short write to the manifest (disk full?)")
