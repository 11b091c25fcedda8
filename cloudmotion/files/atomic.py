"""Atomic outputs: write to a temporary file beside the target, rename only when complete."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator

from cloudmotion.errors import DataError
from cloudmotion.files.gdal_errors import os_reason
from cloudmotion.files.safety import new_temp, temp_name

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str, verify: Callable[[str], None] | None = None) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on failure.

    The temporary file (``.NAME.XXXXXXXXXXXX.part``, see :mod:`cloudmotion.files.safety`)
    is locked while it is written, flushed to disk and, when ``verify`` is given, checked by
    ``verify(tmp)`` before the rename, so a full disk or a write error GDAL only signals
    leaves the old file as it was. The rename never crosses a file system.

    Raises
    ------
    DataError
        When the destination folder does not exist or is not writable, or the file
        cannot be written whole.
    """
    # the name is chosen before the file exists, so cleanup knows it whenever a signal lands
    tmp, fd = temp_name(path), None
    try:
        _, fd = new_temp(path, tmp)
        yield tmp
        os.fsync(fd)  # a delayed write error (NFS, quota) shows here, before the rename
        if verify is not None:
            verify(tmp)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        if fd is None and exc.errno == errno.EEXIST:
            tmp = None  # not ours (a name collision): never remove it
        raise DataError(f"{path}: cannot write ({os_reason(exc, path)})") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if fd is not None:
            os.close(fd)
