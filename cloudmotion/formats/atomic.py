"""Atomic outputs: write to a temporary file beside the target, rename only when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from ..errors import DataError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success, delete it on failure.

    The temporary name is ``.NAME.XXXXXXXXXXXX.part`` in the destination folder, so the
    rename never crosses a file system and a reader never sees a half-written file.

    Raises
    ------
    DataError
        When the destination folder does not exist or is not writable, or the write fails.
    """
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    # the name is chosen before the file exists, so cleanup knows it whenever a signal lands
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.part")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # usual permissions (umask)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise DataError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
