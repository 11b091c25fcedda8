"""Toy entries of every registry, following the documented contracts.

The extension tests register them in-process; the plug-in test installs this file as the
module of a tiny package whose entry points name them.
"""

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.formats.readers import Frame, FrameInfo, Reader
from cloudmotion.formats.writers import Writer
from cloudmotion.qc.checks import QCTest


def sad_surfaces(t, tm, s, sm, *, min_overlap, **hints):
    """1 - mean absolute difference of standardised pixels, at every lag."""
    n, w, _ = t.shape
    k = s.shape[1] - w + 1
    tz = (t - t.mean(axis=(1, 2), keepdims=True)) / (t.std(axis=(1, 2), keepdims=True) + 1e-12)
    out = np.empty((n, k, k), dtype=np.float32)
    for i in range(k):
        for j in range(k):
            win = s[:, i : i + w, j : j + w]
            wz = (win - win.mean(axis=(1, 2), keepdims=True)) / (win.std(axis=(1, 2), keepdims=True) + 1e-12)
            out[:, i, j] = 1.0 - 0.5 * np.abs(tz - wz).mean(axis=(1, 2))
    return np.clip(out, -1, 1)


def parabolic(minus, centre, plus):
    den = minus - 2.0 * centre + plus
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den < 0, 0.5 * (minus - plus) / den, np.nan)


def _open(path, *, band=None, channels=None):
    shape = np.load(path, mmap_mode="r").shape
    return FrameInfo(
        path=path,
        source=path,
        shape=shape,
        count=1,
        band=1,
        dtype="float64",
        transform=None,
        crs_wkt=None,
        time=None,
        time_source=None,
        goes=None,
        reader="toy-npy",
    )


def _read(info, *, nodata=None, valid_range=None, dqf=False):
    data = np.load(info.path).astype(np.float32)
    return Frame(info=info, data=data, valid=np.isfinite(data))


READER = Reader("toy-npy", lambda p: str(p).endswith(".npy"), _open, _read)


def _write(path, vectors):
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write("".join(f"{dx:.3f} {dy:.3f}\n" for dx, dy in zip(vectors.dx, vectors.dy, strict=True)))


WRITER = Writer(name="toy-text", suffixes=(".toy.csv",), write=_write)

EASTWARD = QCTest(
    2**20,
    (),
    lambda ctx: ctx.field.dx > float(ctx.options.get("max_dx", 99.0)),
    "moves east faster than [qc.toy-eastward] max_dx",
)
