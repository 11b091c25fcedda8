"""Quick-look pictures: a frame in grey with its motion vectors on top.

matplotlib is an optional dependency (``pip install 'cloudmotion[plot]'``) imported only
inside these functions, through its object-oriented API on the Agg canvas: no pyplot, no
global backend switch, safe in servers and in other programs' sessions.
"""

from __future__ import annotations

import math
import os
from datetime import datetime

import numpy as np

from ..errors import DataError, UsageError, missing_extra
from ..model import MotionField, Vectors

__all__ = ["INSTALL_HINT", "PLOT_FORMATS", "parse_figsize", "plot_format", "quicklook", "require_matplotlib"]

INSTALL_HINT = "pip install 'cloudmotion[plot]'"
PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""Output extension -> matplotlib format."""

KNOTS_PER_MS = 3600.0 / 1852.0


def require_matplotlib(what: str = "plotting") -> None:
    """Raise the missing-extra :class:`UsageError` (exit 2) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise missing_extra(what, "plot", "matplotlib") from None


def plot_format(path: str) -> str | None:
    """``"png"``, ``"svg"`` or ``"pdf"`` from a path's extension; None when unsupported."""
    return PLOT_FORMATS.get(os.path.splitext(path)[1].lower())


def parse_figsize(text: str, dpi: float) -> tuple[float, float]:
    """``"WxH"`` in inches or ``"WxHpx"`` in pixels -> figure size in inches.

    Raises
    ------
    UsageError
        When malformed or not positive.
    """
    raw = (text or "").strip().lower()
    px = raw.endswith("px")
    parts = raw.removesuffix("px").split("x")
    try:
        w, h = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"--size {text}: expected WIDTHxHEIGHT in inches (8x6) or pixels (1200x900px)") from None
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise UsageError(f"--size {text}: width and height must be > 0")
    if px:
        w, h = w / dpi, h / dpi
    if w * dpi > 20000 or h * dpi > 20000 or w * dpi < 50 or h * dpi < 50:
        raise UsageError(f"--size {text} at --dpi {dpi:g}: the picture must be 50 to 20000 pixels on each side")
    return w, h


def _as_vectors(obj: Vectors | MotionField) -> Vectors:
    """The one vector model; a bare MotionField (no times, no georeference) is wrapped."""
    if isinstance(obj, Vectors):
        return obj
    if isinstance(obj, MotionField):
        return Vectors(values={"row": obj.row, "col": obj.col, "dx": obj.dx, "dy": obj.dy, "flag": obj.flag})
    raise TypeError(f"expected Vectors or MotionField, got {type(obj).__name__}")


def _thin(v: Vectors, every: int) -> np.ndarray:
    """Boolean selection of every N-th grid row and column of vector origins."""
    keep = np.isfinite(v.row) & np.isfinite(v.col)
    if every <= 1:
        return keep
    rows = np.unique(v.row[keep])
    cols = np.unique(v.col[keep])
    ri = np.searchsorted(rows, v.row)
    ci = np.searchsorted(cols, v.col)
    return keep & (ri % every == 0) & (ci % every == 0)


def _nice_step(span: float, target: int = 5) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10, 15, 20, 30, 45, 90):
        if span / step <= target:
            return step
    return 90.0


def _nice_scale(x: float) -> float:
    """``x`` rounded down to one significant digit (at least 0.1): 4.3 -> 4, 0.27 -> 0.2."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return max(math.floor(x / k) * k, 0.1)


def _deg(value: float, axis: str) -> str:
    if axis == "lon":
        value = (value + 180.0) % 360.0 - 180.0
        hemi = "E" if value > 0 else "W" if value < 0 else ""
    else:
        hemi = "N" if value > 0 else "S" if value < 0 else ""
    return f"{abs(round(value, 4)):g}°{hemi}"


def _crossings(values: np.ndarray, positions: np.ndarray, levels: np.ndarray) -> list[tuple[float, float]]:
    """Positions along an edge where ``values`` crosses each level (linear interpolation)."""
    out = []
    for lev in levels:
        d = values - lev
        ok = np.isfinite(d[:-1]) & np.isfinite(d[1:]) & (np.sign(d[:-1]) != np.sign(d[1:]))
        for i in np.flatnonzero(ok)[:1]:
            t = d[i] / (d[i] - d[i + 1])
            out.append((float(positions[i] + t * (positions[i + 1] - positions[i])), float(lev)))
    return out


def _graticule(ax, shape: tuple[int, int], transform, crs_wkt: str) -> bool:
    """Lon/lat graticule lines with labels, and lon/lat ticks where lines cross the frame edges."""
    from pyproj import CRS

    from ..geo import _lonlat, pixel_to_crs

    crs = CRS.from_wkt(crs_wkt)
    rows, cols = shape
    n = 160
    rr, cc = np.meshgrid(np.linspace(-0.5, rows - 0.5, n), np.linspace(-0.5, cols - 0.5, n), indexing="ij")
    lon, lat = _lonlat(*pixel_to_crs(rr, cc, transform), crs)
    lon, lat = lon.reshape(rr.shape), lat.reshape(rr.shape)
    if not np.isfinite(lon).any():
        return False
    if np.nanmax(lon) - np.nanmin(lon) > 180:  # across the antimeridian: work in [0, 360)
        lon = lon % 360.0
    levels = {}
    for name, grid in (("lon", lon), ("lat", lat)):
        lo, hi = float(np.nanmin(grid)), float(np.nanmax(grid))
        step = _nice_step(hi - lo)
        levels[name] = np.arange(math.ceil(lo / step) * step, hi + 1e-9, step)
    style = {"colors": "#ffe08a", "linewidths": 0.6, "alpha": 0.75, "linestyles": "-"}
    for name, grid in (("lon", lon), ("lat", lat)):
        if len(levels[name]):
            cs = ax.contour(cc, rr, np.ma.masked_invalid(grid), levels=levels[name], **style)
            ax.clabel(cs, fontsize=6, fmt=lambda v, name=name: _deg(v, name), inline=True)
    # ticks where the lines meet the bottom and left edges
    xt = _crossings(lon[-1, :], cc[-1, :], levels["lon"])
    yt = _crossings(lat[:, 0], rr[:, 0], levels["lat"])
    ax.set_xticks([p for p, _ in xt], [_deg(v, "lon") for _, v in xt])
    ax.set_yticks([p for p, _ in yt], [_deg(v, "lat") for _, v in yt])
    ax.tick_params(labelsize=7)
    ax.set_xlabel("longitude (graticule on the frame)", fontsize=8)
    ax.set_ylabel("latitude", fontsize=8)
    return True


def _fmt_time(t: datetime, with_date: bool = True) -> str:
    s = t.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")
    if t.microsecond:
        s += f".{t.microsecond // 100000}"
    return s + "Z"


def _title(v: Vectors, title: str | None) -> str:
    if title:
        return title
    if v.time_a is None or v.time_b is None:
        return "time unknown"
    dt = (v.time_b - v.time_a).total_seconds()
    same_day = v.time_a.date() == v.time_b.date()
    return f"{_fmt_time(v.time_a)} → {_fmt_time(v.time_b, not same_day)}  (Δt {dt:g} s)"


def quicklook(
    result_or_vectors,
    frame,
    path: str,
    *,
    style: str = "arrows",
    every: int = 1,
    show_flagged: bool = False,
    dpi: float = 100.0,
    size: tuple[float, float] = (8.0, 8.0),
    valid: np.ndarray | None = None,
    transform: tuple[float, ...] | None = None,
    crs_wkt: str | None = None,
    title: str | None = None,
    invert: bool = False,
    stretch: tuple[float, float] = (2.0, 98.0),
    graticule: bool = True,
) -> None:
    """Draw a frame in grey with its good motion vectors on top and save it, atomically.

    Parameters
    ----------
    result_or_vectors : Vectors or MotionField
        The vectors of one pair: :class:`cloudmotion.model.Vectors` (from tracking or
        read back from a file; carries times, transform and CRS) or a bare
        :class:`cloudmotion.model.MotionField`.
    frame : ndarray, shape (rows, cols), or cloudmotion.io.Frame
        Frame A in physical units; NaN (or ``valid`` False) is NoData and drawn
        transparent. A ``Frame`` also supplies the validity mask, transform and CRS.
    path : str
        Output file; ``.png``, ``.svg`` or ``.pdf`` picks the format.
    style : {"arrows", "barbs"}
        Arrows (length = displacement in px, exaggerated by a stated factor) or wind
        barbs (knots when the speed in m/s is known, else px: half barb 0.5, full 1,
        flag 5 px), drawn along the motion on the image.
    every : int
        Draw every N-th vector along each grid axis.
    show_flagged : bool
        Draw flagged vectors faint grey (hidden otherwise).
    dpi : float
        Dots per inch; the picture is ``size`` x ``dpi`` pixels.
    size : (float, float)
        Figure width and height in inches.
    valid : ndarray of bool, optional
        Validity mask of ``frame`` (True = valid).
    transform, crs_wkt : optional
        Georeference of the frame (pixel-corner affine transform and CRS WKT), for the
        lon/lat graticule; default from ``result_or_vectors`` or ``frame``.
    title : str, optional
        Replaces the first title line (times and Δt).
    invert : bool
        White for low values (infrared convention: cold cloud tops bright).
    stretch : (float, float)
        Percentiles of the valid pixels mapped to black and white.
    graticule : bool
        Draw lon/lat lines and ticks when the frame has a CRS.

    Raises
    ------
    DataError
        matplotlib missing, no valid pixel, or the file cannot be written.
    UsageError
        Unsupported extension or style.
    """
    require_matplotlib()
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from ..formats.atomic import atomic_path

    fmt = plot_format(path)
    if fmt is None:
        raise UsageError(f"{path}: unknown picture format; use .png, .svg or .pdf")
    if style not in ("arrows", "barbs"):
        raise UsageError(f"--style {style}: use arrows or barbs")
    v = _as_vectors(result_or_vectors)
    tr, wkt = v.transform, v.crs_wkt
    info = getattr(frame, "info", None)
    if info is not None:  # io.Frame
        valid = frame.valid if valid is None else valid
        tr = tr if tr is not None else info.transform
        wkt = wkt if wkt is not None else info.crs_wkt
        frame = frame.data
    transform = transform if transform is not None else tr
    crs_wkt = crs_wkt if crs_wkt is not None else wkt
    img = np.asarray(frame, dtype=np.float64)
    if img.ndim != 2:
        raise DataError(f"the frame must be a 2-D array, got shape {img.shape}")
    ok = np.isfinite(img) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(img))
    if not ok.any():
        raise DataError("the frame has no valid pixel to draw")
    rows, cols = img.shape
    lo, hi = np.percentile(img[ok], stretch)
    if hi <= lo:
        hi = lo + 1.0

    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("none")
    cmap = colormaps["gray_r" if invert else "gray"].with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(np.ma.masked_array(img, ~ok), cmap=cmap, vmin=lo, vmax=hi, extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
              interpolation="nearest" if max(rows, cols) <= 2000 else "antialiased")

    sel = _thin(v, max(1, int(every))) & np.isfinite(v.dx) & np.isfinite(v.dy)
    sel &= (v.row >= -0.5) & (v.row <= rows - 0.5) & (v.col >= -0.5) & (v.col <= cols - 0.5)
    good = sel & (v.flag == 0)
    bad = sel & (v.flag != 0)
    mag = np.hypot(v.dx, v.dy)
    in_ms = bool(np.isfinite(v.speed[good]).any())
    colour = np.where(np.isfinite(v.speed), v.speed, np.nan) if in_ms else mag
    unit = "m/s" if in_ms else "px"
    gcols = np.unique(v.col[sel])
    spacing = float(np.min(np.diff(gcols))) if gcols.size > 1 else max(rows, cols) / 20.0
    ngood, ntotal = int((v.flag == 0).sum()), int(v.flag.size)
    note = ""
    mappable = None
    cvals = colour[good]
    vmax = float(np.nanpercentile(cvals, 98)) if np.isfinite(cvals).any() else 1.0
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    vcmap = colormaps["plasma"]
    if style == "arrows":
        med = float(np.median(mag[good])) if good.any() else float(np.median(mag[sel])) if sel.any() else 0.0
        k = _nice_scale(0.8 * spacing / med) if med > 0 else 1.0
        qkw = {"angles": "xy", "scale_units": "xy", "scale": 1.0 / k, "width": 0.0025, "headwidth": 4,
               "headlength": 4.5, "headaxislength": 4}
        if show_flagged and bad.any():
            ax.quiver(v.col[bad], v.row[bad], v.dx[bad], v.dy[bad], color=(0.85, 0.85, 0.85, 0.45), **qkw)
        if good.any():
            mappable = ax.quiver(v.col[good], v.row[good], v.dx[good], v.dy[good], np.nan_to_num(colour[good]),
                                 cmap=vcmap, norm=norm, **qkw)
            ref = _nice_scale(2 * med) if med > 0 else 1.0
            ax.quiverkey(mappable, 0.97, -0.07, ref, f"{ref:g} px" + (f" (arrows ×{k:g})" if k != 1 else ""),
                         labelpos="W", coordinates="axes", fontproperties={"size": 7})
        note = f"arrows: displacement ×{k:g}" if k != 1 else "arrows: displacement"
    else:
        spacing_pt = spacing * (0.8 * min(size) * 72.0 / max(rows, cols))
        length = float(np.clip(spacing_pt / 4.0, 3.0, 7.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            ux, uy = np.where(mag > 0, v.dx / mag, 0.0), np.where(mag > 0, -v.dy / mag, 0.0)
        amount = np.where(np.isfinite(v.speed), v.speed * KNOTS_PER_MS, 0.0) if in_ms else mag
        incr = {"half": 5, "full": 10, "flag": 50} if in_ms else {"half": 0.5, "full": 1, "flag": 5}
        bkw = {"length": length, "barb_increments": incr, "linewidth": 0.6, "pivot": "middle"}
        if show_flagged and bad.any():
            ax.barbs(v.col[bad], v.row[bad], (amount * ux)[bad], (amount * uy)[bad], color=(0.85, 0.85, 0.85, 0.45),
                     **bkw)
        if good.any():
            mappable = ax.barbs(v.col[good], v.row[good], (amount * ux)[good], (amount * uy)[good],
                                np.nan_to_num(colour[good]), cmap=vcmap, norm=norm, **bkw)
        note = "barbs in knots" if in_ms else "barbs in px (half 0.5, full 1, flag 5)"
    if mappable is not None:
        cb = fig.colorbar(mappable, ax=ax, shrink=0.8, pad=0.02)
        cb.set_label(f"speed, {unit}" if in_ms else "displacement, px", fontsize=8)
        cb.ax.tick_params(labelsize=7)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    drew = False
    if graticule and crs_wkt and transform is not None:
        drew = _graticule(ax, (rows, cols), transform, crs_wkt)
    if not drew:
        ax.set_xlabel("column, px", fontsize=8)
        ax.set_ylabel("row, px", fontsize=8)
        ax.tick_params(labelsize=7)
    shown = f"{ngood} good of {ntotal} vectors" + (f", every {every}" if every > 1 else "")
    shown += ", flagged faint" if show_flagged else ""
    ax.set_title(f"{_title(v, title)}\n{shown}; {note}", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)


def plot_file(vectors: str, frame: str, output: str, *, pair: int = 1, style: str = "arrows", every: int = 1,
              show_flagged: bool = False, dpi: float = 100.0, size: str = "8x8", invert: bool = False,
              band: int | None = None, overwrite: bool = False) -> None:
    """The ``plot`` command as a library call: a vector file and its frame to a picture.

    Parameters
    ----------
    vectors : str
        CSV or GeoTIFF written by ``track`` or ``batch``.
    frame : str
        The frame to draw (usually the pair's first).
    output : str
        ``.png``, ``.svg`` or ``.pdf``.
    pair : int
        Which pair of a multi-pair CSV (1-based).
    size : str
        ``WxH`` in inches or ``WxHpx``.
    Other parameters as for :func:`quicklook`.
    """
    from ..formats.outputs import check_destinations
    from ..formats.readers import open_frame, read_frame
    from ..formats.safety import check_not_inputs
    from ..formats.vectors import check_vectors_match, read_vectors

    if plot_format(output) is None:
        raise UsageError(f"-o {output}: unknown picture format; use .png, .svg or .pdf")
    figsize = parse_figsize(size, dpi)
    require_matplotlib()
    check_destinations([output], overwrite)
    check_not_inputs([output], [vectors, frame])
    info = open_frame(frame, band=band)
    pairs = read_vectors(vectors, frame_transform=info.transform)
    if pair > len(pairs):
        raise UsageError(f"--pair {pair}: {vectors} holds {len(pairs)} pair(s)")
    check_vectors_match(pairs[pair - 1], vectors, frame, shape=info.shape, transform=info.transform,
                        crs_wkt=info.crs_wkt, time=info.time)
    quicklook(pairs[pair - 1], read_frame(info), output, style=style, every=every, show_flagged=show_flagged,
              dpi=dpi, size=figsize, invert=invert)
