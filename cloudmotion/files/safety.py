"""Protect the user's files: an output must never be one of the run's inputs, temporary
names fit where the final name fits, and only this tool's own stale temporary files are
removed.

Temporary files are named ``.NAME.XXXXXXXXXXXX.part`` (12 lowercase hex digits) beside
their target; when that would exceed the file system's name limit, NAME is shortened.
A writer holds a lock on its temporary file while it writes (see :func:`new_temp`), so a
temporary file nobody holds is stale (its writer was killed) and may be removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import struct
from collections.abc import Iterable, Sequence

from cloudmotion.errors import DataError, UsageError

__all__ = [
    "TEMP_SUFFIX",
    "InputSet",
    "check_not_inputs",
    "input_file",
    "new_temp",
    "output_complete",
    "prepare_folder",
    "remove_stale_temps",
    "temp_name",
    "temp_prefix",
]

TEMP_SUFFIX = ".part"
_TOKEN_HEX = 12
_TOKEN_RE = re.compile(rf"[0-9a-f]{{{_TOKEN_HEX}}}{re.escape(TEMP_SUFFIX)}")


def _name_max(folder: str) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def temp_prefix(path: str) -> tuple[str, str]:
    """The folder and the name prefix (``.NAME.``) of ``path``'s temporary files.

    NAME is the target's base name, shortened (on a UTF-8 character boundary) so that
    ``.NAME.XXXXXXXXXXXX.part`` fits in the folder's name limit.
    """
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    room = _name_max(folder) - (2 + _TOKEN_HEX + len(TEMP_SUFFIX))  # two dots, token, suffix
    raw = os.fsencode(base)
    if len(raw) > room:
        raw = raw[:room]
        while raw:
            try:
                raw.decode("utf-8")
                break
            except UnicodeDecodeError:
                raw = raw[:-1]
        base = os.fsdecode(raw)
    return folder, f".{base}."


def temp_name(path: str) -> str:
    """A new temporary name for ``path``: ``.NAME.XXXXXXXXXXXX.part`` in the same folder."""
    folder, prefix = temp_prefix(path)
    return os.path.join(folder, f"{prefix}{secrets.token_hex(_TOKEN_HEX // 2)}{TEMP_SUFFIX}")


def new_temp(path: str, tmp: str | None = None) -> tuple[str, int]:
    """Create ``path``'s temporary file (``tmp``, default :func:`temp_name`) exclusively and
    lock it; return its path and the locked descriptor (close it once the file is renamed
    or removed).

    Raises
    ------
    OSError
        As :func:`os.open` (no folder, no permission, no space).
    """
    tmp = tmp or temp_name(path)
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # usual permissions (umask)
    try:
        _lock(fd, write=True)
    except OSError:
        pass  # a file system without locks: the temporary file is simply not protected from cleanup
    return tmp, fd


def _lock(fd: int, *, write: bool) -> None:
    """A non-blocking whole-file lock owned by the open file description.

    Linux open-file-description locks (``F_OFD_SETLK``): unlike ``flock`` they do not
    clash with the ``flock`` HDF5 takes on a netCDF-4 file it creates, and unlike
    ``lockf`` they survive the library closing its own descriptor. Elsewhere ``flock``.
    """
    if hasattr(fcntl, "F_OFD_SETLK"):
        kind = fcntl.F_WRLCK if write else fcntl.F_RDLCK
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0))
    else:  # pragma: no cover - not Linux
        fcntl.flock(fd, (fcntl.LOCK_EX if write else fcntl.LOCK_SH) | fcntl.LOCK_NB)


def _stale(path: str) -> bool:
    """True when no process holds the lock of the temporary file ``path``; it is then removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        try:
            _lock(fd, write=False)
        except OSError:
            return False  # its writer is alive
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True
    finally:
        os.close(fd)


def remove_stale_temps(outputs: Iterable[str]) -> list[str]:
    """Remove the temporary files that writers of these outputs left behind when killed.

    Only names of the exact form ``.NAME.XXXXXXXXXXXX.part`` for a listed output are
    touched, and only when no live writer holds them; every other file, including a
    user's ``.notes.v2.final.part``, stays.

    Returns
    -------
    list of str
        The files removed.
    """
    wanted: dict[str, set[str]] = {}
    for out in outputs:
        if out == "-":
            continue
        folder, prefix = temp_prefix(out)
        wanted.setdefault(folder, set()).add(prefix)
    removed = []
    for folder, prefixes in wanted.items():
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.endswith(TEMP_SUFFIX) or not name.startswith("."):
                continue
            head, tail = name[: -(_TOKEN_HEX + len(TEMP_SUFFIX))], name[-(_TOKEN_HEX + len(TEMP_SUFFIX)) :]
            if head in prefixes and _TOKEN_RE.fullmatch(tail):
                path = os.path.join(folder, name)
                if _stale(path):
                    removed.append(path)
    return removed


def input_file(spec: str) -> str:
    """The file behind a frame argument: ``NETCDF:"file.nc":VAR`` -> ``file.nc``."""
    if spec.upper().startswith("NETCDF:"):
        rest = spec.split(":", 1)[1]
        return (rest.rpartition(":")[0] if rest.count(":") else rest).strip('"')
    return spec


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


class InputSet:
    """The files a run reads, by device and inode (so a symlink, ``..`` or a hard link
    to one of them is recognised)."""

    def __init__(self, inputs: Iterable[str]) -> None:
        self._ids: dict[tuple[int, int], str] = {}
        for spec in inputs:
            ident = _identity(input_file(spec))
            if ident is not None:
                self._ids.setdefault(ident, spec)

    def which(self, output: str) -> str | None:
        """The input that ``output`` resolves to, or None."""
        if output == "-" or not self._ids:
            return None
        ident = _identity(output)
        return self._ids.get(ident) if ident is not None else None


def check_not_inputs(outputs: Sequence[str], inputs: Iterable[str] | InputSet, *, option: str = "-o") -> None:
    """Refuse an output that is one of the inputs (same file after resolving symlinks, ``..``
    and hard links), whatever ``--overwrite`` says.

    An output that does not exist yet cannot be an input, so only existing outputs are
    looked at (one ``stat`` each).

    Raises
    ------
    UsageError
        ``OPTION PATH: is the input FRAME; writing it would destroy the frame``.
    """
    ins = inputs if isinstance(inputs, InputSet) else InputSet(inputs)
    for out in outputs:
        hit = ins.which(out)
        if hit is not None:
            raise UsageError(
                f"{option} {out}: is the input {hit}; writing it would destroy the input, choose another output name"
            )


_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def output_complete(path: str, kind: str) -> bool:
    """A cheap check that an existing output is a whole file of its kind (a few bytes read).

    Zero-byte files, files cut short before their end marker (CSV and GeoJSON end with a
    newline; a GeoTIFF's first directory lies inside the file; netCDF-4 starts with the
    HDF5 signature) and other debris from older versions are not complete, so a batch run
    redoes them instead of counting them done.
    """
    try:
        size = os.path.getsize(path)
        if size == 0:
            return False
        with open(path, "rb") as fh:
            head = fh.read(16)
            fh.seek(max(0, size - 2))
            tail = fh.read(2)
    except OSError:
        return False
    if kind == "csv":
        return head.startswith(b"time_a,") and tail.endswith(b"\n")
    if kind == "geojson":
        return head.startswith(b"{") and tail.endswith(b"}\n")
    if kind in ("nc", "dmw"):
        return head.startswith((_HDF5_MAGIC, b"CDF"))
    if kind == "tif":
        if head[:4] not in _TIFF_MAGIC:
            return False
        order = "little" if head[:2] == b"II" else "big"
        if head[2:4] in (b"*\x00", b"\x00*"):
            first_ifd = int.from_bytes(head[4:8], order)
        else:  # BigTIFF
            first_ifd = int.from_bytes(head[8:16], order)
        return 8 <= first_ifd < size
    return True


def prepare_folder(path: str, label: str) -> str:
    """Create an output folder if needed (one line on failure); return its absolute path.

    Raises
    ------
    UsageError
        ``LABEL PATH: is a file, not a folder``.
    DataError
        It cannot be created or written.
    """
    full = os.path.abspath(path)
    if os.path.exists(full) and not os.path.isdir(full):
        raise UsageError(f"{label}{path}: is a file, not a folder")
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{label}{path}: cannot create the folder ({exc.strerror or exc})") from None
    probe = None
    try:  # os.access says yes to root on a read-only mount: try for real
        probe, fd = new_temp(os.path.join(full, ".cloudmotion-write-test"))
        os.close(fd)
    except OSError as exc:
        raise DataError(f"{label}{path}: folder is not writable ({exc.strerror or exc})") from None
    finally:
        if probe:
            with contextlib.suppress(OSError):
                os.unlink(probe)
    return full
