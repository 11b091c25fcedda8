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

from cloudmotion.errors import DataError, UsageError, missing_extra
from cloudmotion.model import MotionField, Vectors
from cloudmotion.tools.plot_layout import (
    auto_figsize,
    decorate,
    fit_to_frame,
    place_key,
)

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


def _nice_scale(x: float) -> float:
    """``x`` rounded down to one significant digit (at least 0.1): 4.3 -> 4, 0.27 -> 0.2."""
    if not (x > 0 and math.isfinite(x)):
        return 1.0
    k = 10 ** math.floor(math.log10(x))
    return max(math.floor(x / k) * k, 0.1)


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


def _speed_colours():
    """Speed palette: plasma without its darkest fifth, so slow vectors show on dark (and, with
    their dark outline, on white) cloud."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    return ListedColormap(colormaps["plasma"](np.linspace(0.3, 1.0, 256)), name="plasma_light")


def _draw_arrows(ax, v: Vectors, good, bad, colour, norm, spacing: float, in_ms: bool) -> tuple[object, str]:
    """Arrows along the motion, lengths ×k, at least ``MIN_ARROW`` grid steps; the reference
    arrow in m/s when speeds are known."""
    mag = np.hypot(v.dx, v.dy)
    sel = good | bad
    med = float(np.median(mag[good])) if good.any() else float(np.median(mag[sel])) if sel.any() else 0.0
    k = _nice_scale(0.8 * spacing / med) if med > 0 else 1.0
    shortest = MIN_ARROW * spacing
    with np.errstate(invalid="ignore", divide="ignore"):
        boost = np.where((mag * k > 0) & (mag * k < shortest), shortest / (mag * k), 1.0)
    u, w = v.dx * k * boost, v.dy * k * boost
    # minshaft: an arrow shorter than 2.5 head lengths is scaled down whole, so it keeps a shaft
    qkw = {
        "angles": "xy",
        "scale_units": "xy",
        "scale": 1.0,
        "width": 0.003,
        "headwidth": 3.6,
        "headlength": 4.0,
        "headaxislength": 3.6,
        "minshaft": 2.5,
        "linewidth": 0.25,
    }
    if bad.any():
        ax.quiver(v.col[bad], v.row[bad], u[bad], w[bad], color=(0.85, 0.85, 0.85, 0.45), **qkw)
    mappable = None
    if good.any():
        mappable = ax.quiver(
            v.col[good],
            v.row[good],
            u[good],
            w[good],
            np.nan_to_num(colour[good]),
            cmap=_speed_colours(),
            norm=norm,
            edgecolor=(0.05, 0.05, 0.1, 0.9),
            **qkw,
        )
        ratio = np.nanmedian((mag / v.speed)[good & (v.speed > 0)]) if in_ms else np.nan
        if in_ms and np.isfinite(ratio):  # px per m/s over the good vectors
            ref = _nice_scale(2 * float(np.nanmedian(v.speed[good])))
            length, label = ref * ratio * k, f"{ref:g} m/s"
        else:
            ref = _nice_scale(2 * med) if med > 0 else 1.0
            length, label = ref * k, f"{ref:g} px"
        ax._cloudmotion_key = ax.quiverkey(
            mappable, 0.99, -0.1, length, label, labelpos="W", coordinates="axes", fontproperties={"size": 9}
        )  # placed by _place_key
    note = f"arrows: displacement ×{k:g}" if k != 1 else "arrows: displacement"
    return mappable, note + f", at least {MIN_ARROW:g} grid steps long"


def _draw_barbs(
    ax, v: Vectors, good, bad, colour, norm, spacing: float, in_ms: bool, size, shape: tuple[int, int]
) -> tuple[object, str]:
    """Wind barbs along the motion: knots when speeds are known, else px."""
    rows, cols = shape
    mag = np.hypot(v.dx, v.dy)
    spacing_pt = spacing * (0.8 * min(size) * 72.0 / max(rows, cols))
    length = float(np.clip(spacing_pt / 4.0, 3.0, 7.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        ux, uy = np.where(mag > 0, v.dx / mag, 0.0), np.where(mag > 0, -v.dy / mag, 0.0)
    amount = np.where(np.isfinite(v.speed), v.speed * KNOTS_PER_MS, 0.0) if in_ms else mag
    incr = {"half": 5, "full": 10, "flag": 50} if in_ms else {"half": 0.5, "full": 1, "flag": 5}
    bkw = {"length": length, "barb_increments": incr, "linewidth": 0.7, "pivot": "middle"}
    if bad.any():
        ax.barbs(v.col[bad], v.row[bad], (amount * ux)[bad], (amount * uy)[bad], color=(0.85, 0.85, 0.85, 0.45), **bkw)
    mappable = None
    if good.any():
        mappable = ax.barbs(
            v.col[good],
            v.row[good],
            (amount * ux)[good],
            (amount * uy)[good],
            np.nan_to_num(colour[good]),
            cmap=_speed_colours(),
            norm=norm,
            **bkw,
        )
    return mappable, "barbs in knots" if in_ms else "barbs in px (half 0.5, full 1, flag 5)"


def _frame_image(v: Vectors, frame, valid, transform, crs_wkt) -> tuple:
    """The frame as float64 with its validity, GOES identity and georeference (from the
    arguments, else the vectors, else a ``Frame``)."""
    tr, wkt, goes = v.transform, v.crs_wkt, None
    info = getattr(frame, "info", None)
    if info is not None:  # a Frame
        valid = frame.valid if valid is None else valid
        tr = tr if tr is not None else info.transform
        wkt = wkt if wkt is not None else info.crs_wkt
        goes, frame = info.goes, frame.data
    img = np.asarray(frame, dtype=np.float64)
    if img.ndim != 2:
        raise DataError(f"the frame must be a 2-D array, got shape {img.shape}")
    ok = np.isfinite(img) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(img))
    if not ok.any():
        raise DataError("the frame has no valid pixel to draw")
    return img, ok, goes, transform if transform is not None else tr, crs_wkt if crs_wkt is not None else wkt


def _selection(v: Vectors, every: int, show_flagged: bool, shape: tuple[int, int]) -> tuple:
    """Good and (shown) flagged vectors on the frame, every N-th, and the grid spacing in px."""
    rows, cols = shape
    sel = _thin(v, max(1, int(every))) & np.isfinite(v.dx) & np.isfinite(v.dy)
    sel &= (v.row >= -0.5) & (v.row <= rows - 0.5) & (v.col >= -0.5) & (v.col <= cols - 0.5)
    gcols = np.unique(v.col[sel])
    spacing = float(np.min(np.diff(gcols))) if gcols.size > 1 else max(rows, cols) / 20.0
    return sel & (v.flag == 0), sel & (v.flag != 0) & show_flagged, spacing


MIN_ARROW = 0.4
"""Shortest arrow drawn, in grid steps: slower vectors are lengthened to it (direction kept)."""


def quicklook(
    result_or_vectors,
    frame,
    path: str,
    *,
    style: str = "arrows",
    every: int = 1,
    show_flagged: bool = False,
    dpi: float = 100.0,
    size: tuple[float, float] | None = None,
    valid: np.ndarray | None = None,
    transform: tuple[float, ...] | None = None,
    crs_wkt: str | None = None,
    title: str | None = None,
    invert: bool | None = None,
    stretch: tuple[float, float] = (2.0, 98.0),
    graticule: bool = True,
    cloud: np.ndarray | None = None,
) -> None:
    """Draw a frame in grey with its good motion vectors on top and save it, atomically.

    Parameters
    ----------
    result_or_vectors : Vectors or MotionField
        The vectors of one pair: :class:`cloudmotion.model.Vectors` (from tracking or
        read back from a file; carries times, transform and CRS) or a bare
        :class:`cloudmotion.model.MotionField`.
    frame : ndarray, shape (rows, cols), or cloudmotion.formats.raster.Frame
        Frame A in physical units; NaN (or ``valid`` False) is NoData and drawn
        transparent. A ``Frame`` also supplies the validity mask, transform, CRS and the
        GOES satellite, band and sector (for the title and the default ``invert``).
    path : str
        Output file; ``.png``, ``.svg`` or ``.pdf`` picks the format.
    style : {"arrows", "barbs"}
        Arrows (length = displacement in px, exaggerated by a stated factor, at least
        :data:`MIN_ARROW` grid steps; the reference arrow in m/s when speeds are known) or
        wind barbs (knots when the speed in m/s is known, else px: half barb 0.5, full 1,
        flag 5 px), drawn along the motion on the image.
    every : int
        Draw every N-th vector along each grid axis.
    show_flagged : bool
        Draw flagged vectors faint grey (hidden otherwise).
    dpi : float
        Dots per inch; the picture is ``size`` x ``dpi`` pixels.
    size : (float, float), optional
        Figure width and height in inches; default :func:`auto_figsize` (the frame's aspect).
    valid : ndarray of bool, optional
        Validity mask of ``frame`` (True = valid).
    transform, crs_wkt : optional
        Georeference of the frame (pixel-corner affine transform and CRS WKT), for the
        lon/lat graticule; default from ``result_or_vectors`` or ``frame``.
    title : str, optional
        Replaces the title line of times and Δt.
    invert : bool, optional
        White for low values (cold cloud tops bright). Default: on for GOES infrared and
        water-vapour bands (ABI 7-16), off otherwise (visible bands, unknown frames).
    stretch : (float, float)
        Percentiles of the valid pixels mapped to black and white.
    graticule : bool
        Draw lon/lat lines and ticks when the frame has a CRS.
    cloud : ndarray, shape (rows, cols), optional
        Cloud probability 0-1 of the frame's pixels, shaded blue under the vectors.

    Raises
    ------
    DataError
        No valid pixel, or the file cannot be written.
    UsageError
        matplotlib missing (the plot extra), unsupported extension or style.
    """
    require_matplotlib()
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    from cloudmotion.files.atomic import atomic_path
    from cloudmotion.formats.goes_names import describe_goes, is_infrared

    fmt = plot_format(path)
    if fmt is None:
        raise UsageError(f"{path}: unknown picture format; use .png, .svg or .pdf")
    if style not in ("arrows", "barbs"):
        raise UsageError(f"--style {style}: use arrows or barbs")
    v = _as_vectors(result_or_vectors)
    img, ok, goes, transform, crs_wkt = _frame_image(v, frame, valid, transform, crs_wkt)
    rows, cols = img.shape
    fit, size = size is None, size or auto_figsize((rows, cols))
    invert = is_infrared(goes) if invert is None else invert
    lo, hi = np.percentile(img[ok], stretch)
    hi = hi if hi > lo else lo + 1.0

    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_facecolor("none")
    cmap = colormaps["gray_r" if invert else "gray"].with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(
        np.ma.masked_array(img, ~ok),
        cmap=cmap,
        vmin=lo,
        vmax=hi,
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
        interpolation="nearest" if max(rows, cols) <= 2000 else "antialiased",
    )
    if cloud is not None:  # blue, as opaque as the cloud is probable
        shade = np.dstack([np.full((rows, cols), c) for c in (0.15, 0.55, 1.0)] + [0.55 * np.nan_to_num(cloud)])
        ax.imshow(shade, extent=(-0.5, cols - 0.5, rows - 0.5, -0.5), interpolation="nearest")

    good, bad, spacing = _selection(v, every, show_flagged, (rows, cols))
    in_ms = bool(np.isfinite(v.speed[good]).any())
    colour = np.where(np.isfinite(v.speed), v.speed, np.nan) if in_ms else np.hypot(v.dx, v.dy)
    cvals = colour[good]
    vmax = float(np.nanpercentile(cvals, 98)) if np.isfinite(cvals).any() else 1.0
    norm = Normalize(vmin=0.0, vmax=vmax if vmax > 0 else 1.0)
    if style == "arrows":
        mappable, note = _draw_arrows(ax, v, good, bad, colour, norm, spacing, in_ms)
    else:
        mappable, note = _draw_barbs(ax, v, good, bad, colour, norm, spacing, in_ms, size, (rows, cols))
    cbar_ax = decorate(fig, ax, mappable, in_ms, (rows, cols), transform if graticule else None, crs_wkt)
    ngood, ntotal = int((v.flag == 0).sum()), int(v.flag.size)
    shown = f"{ngood} good of {ntotal} vectors" + (f", every {every}" if every > 1 else "")
    shown += ", flagged faint" if show_flagged else ""
    shown += ", cloud probability blue" if cloud is not None else ""
    head = [describe_goes(goes)] if goes else []
    ax.set_title("\n".join([*head, _title(v, title), f"{shown}; {note}"]), fontsize=10)
    key = getattr(ax, "_cloudmotion_key", None)
    if key is not None:  # room for the reference arrow: a second line under the x label
        ax.set_xlabel(ax.get_xlabel() + "\n ")
    if fit:
        fit_to_frame(fig, ax, cbar_ax)
    if key is not None:
        place_key(fig, ax, key)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)


def plot_file(
    vectors: str,
    frame: str,
    output: str,
    *,
    pair: int = 1,
    style: str = "arrows",
    every: int = 1,
    show_flagged: bool = False,
    dpi: float = 100.0,
    size: str | None = None,
    invert: bool | None = None,
    band: int | None = None,
    overwrite: bool = False,
    cloud: bool = False,
    cloud_model: str | None = None,
    cloud_mask: str | None = None,
) -> None:
    """The ``plot`` command as a library call: a vector file and its frame to a picture.

    Parameters
    ----------
    vectors : str
        CSV or GeoTIFF written by ``track`` or ``batch``, or ``-`` for CSV on standard input.
    frame : str
        The frame to draw (usually the pair's first).
    output : str
        ``.png``, ``.svg`` or ``.pdf``.
    pair : int
        Which pair of a multi-pair CSV (1-based).
    size : str, optional
        ``WxH`` in inches or ``WxHpx``; default from the frame's aspect ratio.
    cloud, cloud_model, cloud_mask
        Shade the cloud probability (``cloud_model``, default ``auto``, or ``cloud_mask``).
    Other parameters as for :func:`quicklook`.
    """
    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.formats.vectors import check_vectors_match, read_vectors

    if plot_format(output) is None:
        raise UsageError(f"-o {output}: unknown picture format; use .png, .svg or .pdf")
    figsize = parse_figsize(size, dpi) if size else None
    require_matplotlib()
    check_destinations([output], overwrite)
    check_not_inputs([output], [p for p in (vectors, frame) if p != "-"])
    info = open_frame(frame, band=band)
    pairs = read_vectors(vectors, frame_transform=info.transform)
    name = "standard input" if vectors == "-" else vectors
    if pair > len(pairs):
        raise UsageError(f"--pair {pair}: {name} holds {len(pairs)} pair(s)")
    check_vectors_match(
        pairs[pair - 1], name, frame, shape=info.shape, transform=info.transform, crs_wkt=info.crs_wkt, time=info.time
    )
    shade = None
    image = read_frame(info)
    if cloud or cloud_model or cloud_mask:
        from cloudmotion.formats.clouds import make_cloud_source

        shade = make_cloud_source(cloud_model, cloud_mask, read_frame).probability(image)
    quicklook(
        pairs[pair - 1],
        image,
        output,
        style=style,
        every=every,
        show_flagged=show_flagged,
        dpi=dpi,
        size=figsize,
        invert=invert,
        cloud=shade,
    )
