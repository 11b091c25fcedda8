"""The output folder of a batch run: its lock, leftover temporary files and the JSON-lines
manifest of every pair."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator
from typing import Self

from cloudmotion.errors import DataError
from cloudmotion.files import safety

__all__ = ["LOCK_NAME", "MANIFEST_NAME", "Manifest", "OutdirLock", "outdir_lock", "prepare_outdir", "read_manifest"]

MANIFEST_NAME = "manifest.jsonl"
"""The JSON-lines manifest in the output folder."""

LOCK_NAME = ".cloudmotion.lock"
"""The lock file in the output folder."""


def prepare_outdir(outdir: str) -> str:
    """Create the output folder if needed and check it can be written; return its absolute path.

    Raises
    ------
    UsageError
        When it is a file.
    DataError
        When it cannot be created or written (tried for real: root passes ``os.access``
        on a read-only mount).
    """
    return safety.prepare_folder(outdir, "-o ")


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


class OutdirLock:
    """The lock on ``OUTDIR/.cloudmotion.lock`` held by a run, from :func:`outdir_lock`."""

    def __init__(self, fd: int, exclusive: bool) -> None:
        self._fd = fd
        self.exclusive = exclusive

    def remove_stale_temps(self, outputs: Iterable[str]) -> list[str]:
        """Remove the temporary files a killed run left for these outputs (those of the plan).

        Only when no other run uses the folder: the lock is taken exclusively for the
        cleanup (without waiting) and then shared again unless this run holds it with
        ``--lock``. Only the tool's exact names for the listed outputs are touched
        (:func:`cloudmotion.files.safety.remove_stale_temps`).

        Returns
        -------
        list of str
            The files removed.
        """
        if not self.exclusive and not _try_flock(self._fd, fcntl.LOCK_EX):
            # another run is using the folder, so its temporary files may be live; a failed
            # conversion may drop the shared lock (flock(2)), so take it again
            _try_flock(self._fd, fcntl.LOCK_SH, patience=5.0)
            return []
        try:
            return safety.remove_stale_temps(outputs)
        finally:
            if not self.exclusive:
                fcntl.flock(self._fd, fcntl.LOCK_SH)


@contextlib.contextmanager
def outdir_lock(outdir: str, *, exclusive: bool) -> Iterator[OutdirLock]:
    """Lock ``OUTDIR/.cloudmotion.lock`` with :func:`fcntl.flock` for the duration of a run.

    Every run holds the lock shared; an ``exclusive`` run (``--lock``) holds it exclusively
    and stops at once when another run holds it. Once the plan is known, call
    :meth:`OutdirLock.remove_stale_temps` with its outputs.

    Yields
    ------
    OutdirLock

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
        if exclusive:
            if not _try_flock(fd, fcntl.LOCK_EX):
                raise DataError(f"{path}: locked by another cloudmotion batch run on this folder; exiting")
        else:
            _try_flock(fd, fcntl.LOCK_SH, patience=5.0)  # wait out another run's cleanup, not a --lock run
        yield OutdirLock(fd, exclusive)
    finally:
        os.close(fd)


class Manifest:
    """The JSON-lines manifest, appended one whole line per ``write`` (``O_APPEND``) under an
    exclusive ``flock`` of the manifest, so lines from concurrent runs never interleave, a
    line never glues onto a torn one, and a short write is taken back."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Self:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise DataError(f"{self.path}: cannot write the manifest ({exc.strerror})") from None
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def append(self, record: dict) -> None:
        """Append one record as one line.

        When the file does not end with a newline (a crash, a full disk or a hand edit
        left a torn last line), the record starts on a new line. When the disk fills up
        mid-line, the partial line is truncated away again, so no later run extends it.

        Raises
        ------
        DataError
            When the line cannot be written whole (disk full).
        """
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        fd = self._fd
        locked = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            locked = False  # no flock on this file system: O_APPEND alone
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            try:
                n = os.write(fd, data)
            except OSError as exc:
                self._take_back(size)
                raise DataError(f"{self.path}: cannot append to the manifest ({exc.strerror})") from None
            if n != len(data):
                self._take_back(size)
                raise DataError(f"{self.path}: short write to the manifest (disk full?); the partial line was removed")
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def _take_back(self, size: int) -> None:
        """Cut the file back to ``size`` bytes after a failed append (under the lock)."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, size)


def read_manifest(path: str) -> tuple[list[dict], list[str]]:
    """Read a manifest; skip lines that are not a JSON object, with one warning each.

    Returns
    -------
    records : list of dict
    warnings : list of str
        ``MANIFEST:LINE: not a JSON record (torn or edited line); skipped``.
    """
    records, warnings = [], []
    try:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    rec = json.loads(raw)
                except ValueError:
                    rec = None
                if not isinstance(rec, dict):
                    warnings.append(f"{path}:{number}: not a JSON record (torn or edited line); skipped")
                    continue
                records.append(rec)
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        raise DataError(f"{path}: cannot read the manifest ({exc.strerror})") from None
    return records, warnings
