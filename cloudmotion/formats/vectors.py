"""Read motion vectors written by ``cloudmotion track`` (CSV or GeoTIFF grid) back into arrays.

The inverse of the writers: one :class:`cloudmotion.model.Vectors` per tracked pair, with
flat arrays in the conventions of docs/design.md (``row``/``col`` pixel index of the origin in
frame A, ``dx`` along columns, ``dy`` along rows, pixels).
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import warnings

import numpy as np

from cloudmotion.errors import DataError
from cloudmotion.files.times import parse_iso
from cloudmotion.formats.geotiff import GEOTIFF_BANDS
from cloudmotion.model import CSV_COLUMNS, NUMERIC, Vectors

__all__ = ["check_vectors_match", "read_vectors"]

_REQUIRED = ("row", "col", "dx", "dy", "flag")


def _floats(values: list[str], path: str, name: str) -> np.ndarray:
    try:
        return np.array([float(v) if v.strip() else np.nan for v in values], dtype=np.float64)
    except ValueError as exc:
        raise DataError(f"{path}: column {name}: {exc}") from None


def _read_csv(path: str, stream=None) -> list[Vectors]:
    try:
        with contextlib.nullcontext(stream) if stream is not None else open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = list(reader)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    if not header:
        raise DataError(f"{path}: empty file, not a cloudmotion CSV")
    header = [h.strip() for h in header]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}: not a cloudmotion vector CSV (missing column {', '.join(missing)})")
    rows = [r for r in rows if r]
    if any(len(r) < len(header) for r in rows):
        raise DataError(f"{path}: a line has fewer cells than the header")
    cols = {name: [r[i] for r in rows] for i, name in enumerate(header)}
    n = len(rows)
    for name in CSV_COLUMNS:
        cols.setdefault(name, [""] * n)
    # a new pair starts where the times change or the row-major grid starts over
    keys = list(zip(cols["time_a"], cols["time_b"], strict=True))
    origin = list(zip(cols["row"], cols["col"], strict=True))
    starts = [0]
    for i in range(1, n):
        if keys[i] != keys[i - 1] or origin[i] == origin[starts[-1]]:
            starts.append(i)
    bounds = list(zip(starts, [*starts[1:], n], strict=True)) if n else []
    arrays = {name: _floats(cols[name], path, name) for name in NUMERIC}
    if np.isnan(arrays["flag"]).any():
        raise DataError(f"{path}: empty flag cell")
    pairs = []
    for s, e in bounds:
        values = {k: v[s:e] for k, v in arrays.items()}
        pairs.append(
            Vectors(
                values=values,
                time_a=parse_iso(keys[s][0]),
                time_b=parse_iso(keys[s][1]),
                shape=_grid_shape(values["row"], values["col"]),
            )
        )
    return pairs


def _read_geotiff(path: str, frame_transform: tuple[float, ...] | None) -> list[Vectors]:
    import rasterio
    from affine import Affine
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                names = list(ds.descriptions)
                missing = [b for b in ("dx", "dy", "flag") if b not in names]
                if missing:
                    raise DataError(
                        f"{path}: not a cloudmotion vector grid (no band {', '.join(missing)}; "
                        f"expected bands {', '.join(GEOTIFF_BANDS)})"
                    )
                bands = {name: ds.read(names.index(name) + 1).astype(np.float64) for name in NUMERIC if name in names}
                grid = ds.transform
                grid_crs = ds.crs.to_wkt() if ds.crs else None
                tags = ds.tags()
                ny, nx = ds.height, ds.width
    except RasterioError as exc:
        raise DataError(f"{path}: cannot read as a raster ({exc})") from exc
    base = Affine(*frame_transform[:6]) if frame_transform is not None else Affine.identity()
    jj, ii = np.meshgrid(np.arange(nx) + 0.5, np.arange(ny) + 0.5)
    x, y = grid * (jj.ravel(), ii.ravel())
    cc, rr = ~base * (np.asarray(x), np.asarray(y))
    row = np.round(np.asarray(rr) - 0.5, 6)
    col = np.round(np.asarray(cc) - 0.5, 6)
    flag = bands["flag"].ravel()
    flag = np.where(np.isfinite(flag), flag, 1).astype(np.int64)
    values = {name: band.ravel() for name, band in bands.items()}
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if grid_crs is None and frame_transform is None:  # frames without georeference: the grid is in pixels
        x, y = np.full(x.shape, np.nan), np.full(y.shape, np.nan)
    values.update(row=row, col=col, flag=flag, x=x, y=y)
    step = tags.get("STEP", "")
    window = tags.get("WINDOW", "")
    return [
        Vectors(
            values=values,
            time_a=parse_iso(tags.get("TIME_A")),
            time_b=parse_iso(tags.get("TIME_B")),
            transform=tuple(frame_transform[:6]) if frame_transform is not None else None,
            shape=(ny, nx),
            crs_wkt=grid_crs,
            step=int(step) if step.isdigit() else None,
            window=int(window) if window.isdigit() else None,
        )
    ]


def _grid_shape(row: np.ndarray, col: np.ndarray) -> tuple[int, int] | None:
    """(nrows, ncols) when the origins form a full row-major grid, else None."""
    ur, uc = np.unique(row), np.unique(col)
    if ur.size * uc.size != row.size or row.size == 0:
        return None
    if not (np.array_equal(row, np.repeat(ur, uc.size)) and np.array_equal(col, np.tile(uc, ur.size))):
        return None
    return int(ur.size), int(uc.size)


def read_vectors(path: str, *, frame_transform: tuple[float, ...] | None = None, stdin=None) -> list[Vectors]:
    """Read a vector CSV (one or more pairs) or a vector-grid GeoTIFF (one pair).

    Parameters
    ----------
    path : str
        ``.csv`` written by ``cloudmotion track``, a ``.tif``/``.tiff`` vector grid, or
        ``-``: CSV from standard input (``cloudmotion track A B | cloudmotion plot - A ...``).
    frame_transform : tuple of 6 floats, optional
        Pixel-corner affine transform of the *frames* the vectors were tracked on. A
        GeoTIFF grid stores its cells in CRS coordinates; this transform maps them back to
        frame pixel indices (``row``, ``col``). ``None`` means the frames had no
        georeference (identity). Ignored for CSV, which stores ``row``/``col`` directly.
    stdin : text stream, optional
        Read for ``-`` (default: ``sys.stdin`` at the time of the call).

    Returns
    -------
    list of Vectors
        In file order. A CSV is split into pairs where ``time_a``/``time_b`` change or
        the row-major grid starts over.

    Raises
    ------
    DataError
        Missing, unreadable or not a cloudmotion vector file.
    """
    if path == "-":
        pairs = _read_csv("standard input", stdin if stdin is not None else sys.stdin)
        if not pairs or all(p.row.size == 0 for p in pairs):
            raise DataError("standard input: no vectors (is the command before the | writing CSV?)")
        return pairs
    if not os.path.isfile(path):
        raise DataError(f"{path}: {'is a folder' if os.path.isdir(path) else 'no such file'}")
    low = path.lower()
    if low.endswith(".csv"):
        pairs = _read_csv(path)
    elif low.endswith((".tif", ".tiff")):
        pairs = _read_geotiff(path, frame_transform)
    else:
        raise DataError(f"{path}: unknown vector format; expected .csv, .tif or .tiff")
    if not pairs or all(p.row.size == 0 for p in pairs):
        raise DataError(f"{path}: no vectors")
    return pairs


def _grid_fits(values: np.ndarray, size: int) -> bool:
    """True when the distinct origins along one axis are the vector grid that
    :func:`cloudmotion.grid.make_grid` lays over a frame ``size`` px long, for some window."""
    from cloudmotion.grid import make_grid

    u = np.unique(np.round(values[np.isfinite(values)], 3))
    if u.size == 0:
        return True
    if u[0] < -0.5 or u[-1] > size - 0.5:
        return False
    if u.size == 1:
        return True
    steps = np.diff(u)
    step = float(steps[0])
    if not np.allclose(steps, step, atol=1e-3) or abs(step - round(step)) > 1e-3:
        return True  # not a regular grid (hand-made vectors): nothing more to check
    step = round(step)
    for window in range(4, size + 1):
        g = make_grid((size, size), window, step)
        if g.nrows == u.size and abs(g.row0 + (window - 1) / 2.0 - u[0]) < 1e-3:
            return True
    return False


def check_vectors_match(
    pair: Vectors,
    vectors: str,
    other: str,
    *,
    shape: tuple[int, int],
    transform: tuple[float, ...] | None,
    crs_wkt: str | None = None,
    time=None,
) -> None:
    """Refuse vectors that were not tracked on the grid (and time) of ``other``.

    Parameters
    ----------
    pair : Vectors
        From :func:`read_vectors`.
    vectors, other : str
        The two files, for the message.
    shape, transform, crs_wkt
        The frame's (or truth grid's) rows and columns, pixel-corner transform and CRS.
    time : datetime, optional
        The frame's time: it must be the pair's ``time_a`` or ``time_b`` when both are known.

    Raises
    ------
    DataError
        ``VECTORS: does not match OTHER (WHAT)``: origins outside or off the grid of a frame
        of this shape, x/y that the transform does not give, another CRS, or another time.
    """
    from cloudmotion.geo import pixel_to_crs

    def refuse(what: str) -> None:
        raise DataError(
            f"{vectors}: does not match {other} ({what}); give the frame or truth the vectors were tracked on"
        )

    rows, cols = shape
    if not (_grid_fits(pair.row, rows) and _grid_fits(pair.col, cols)):
        refuse(f"the vector origins do not lie on a tracking grid over its {rows}x{cols} px")
    if pair.crs_wkt and crs_wkt:
        from pyproj import CRS

        if not CRS.from_wkt(pair.crs_wkt).equals(CRS.from_wkt(crs_wkt)):
            refuse("another CRS")
    has_xy = bool(np.isfinite(pair.x).any())
    if has_xy and transform is None:
        refuse("the vectors are georeferenced, it is not")
    if has_xy and transform is not None:
        ex, ey = pixel_to_crs(pair.row, pair.col, transform)
        tol = 0.01 * max(abs(transform[0]), abs(transform[4]), abs(transform[1]), abs(transform[3])) + 0.01
        ok = np.isfinite(pair.x) & np.isfinite(pair.y)
        if np.any(np.abs(ex[ok] - pair.x[ok]) > tol) or np.any(np.abs(ey[ok] - pair.y[ok]) > tol):
            refuse("its transform puts the vector origins elsewhere: another grid or satellite")
    if time is not None and pair.time_a is not None and pair.time_b is not None:
        near = min(abs((time - t).total_seconds()) for t in (pair.time_a, pair.time_b))
        if near > 0.5:
            refuse(
                f"its time {time:%Y-%m-%dT%H:%M:%S}Z is neither the pair's time_a "
                f"{pair.time_a:%Y-%m-%dT%H:%M:%S}Z nor time_b {pair.time_b:%Y-%m-%dT%H:%M:%S}Z"
            )
