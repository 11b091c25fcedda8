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
from cloudmotion.tools.plot_layout import auto_figsize, decorate, fit_to_frame, place_key, screen_scale
from cloudmotion.tools.plot_vectors import MIN_ARROW, auto_every, draw_arrows, draw_barbs, selection

__all__ = [
    "INSTALL_HINT",
    "MIN_ARROW",
    "PLOT_FORMATS",
    "draw_quicklook",
    "grey_range",
    "parse_figsize",
    "plot_format",
    "quicklook",
    "require_matplotlib",
    "speed_range",
]

INSTALL_HINT = "pip install 'cloudmotion[plot]'"
PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
"""Output extension -> matplotlib format."""


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
        return Vectors(
            values={
                "row": obj.row,
                "col": obj.col,
                "dx": obj.dx,
                "dy": obj.dy,
                "flag": obj.flag,
            }
        )
    raise TypeError(f"expected Vectors or MotionField, got {type(obj).__name__}")


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
    return (
        img,
        ok,
        goes,
        transform if transform is not None else tr,
        crs_wkt if crs_wkt is not None else wkt,
    )


def quicklook(
    result_or_vectors,
    frame,
    path: str,
    *,
    style: str = "arrows",
    every: int | None = None,
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
    coastlines: bool = True,
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
    every : int, optional
        Draw every N-th vector along each grid axis. Default: thinned to at most about
        one vector per :data:`~cloudmotion.tools.plot_vectors.ARROW_SPACING_PX` (28)
        screen pixels, whatever the frame and picture size.
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
    coastlines : bool
        Draw coastlines and land borders (Natural Earth 1:50m, shipped with the package)
        when the frame has a CRS.

    Raises
    ------
    DataError
        No valid pixel, or the file cannot be written.
    UsageError
        matplotlib missing (the plot extra), unsupported extension or style.
    """
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cloudmotion.files.atomic import atomic_path

    fmt = plot_format(path)
    if fmt is None:
        raise UsageError(f"{path}: unknown picture format; use .png, .svg or .pdf")
    if style not in ("arrows", "barbs"):
        raise UsageError(f"--style {style}: use arrows or barbs")
    v = _as_vectors(result_or_vectors)
    img, ok, goes, transform, crs_wkt = _frame_image(v, frame, valid, transform, crs_wkt)
    fit, size = size is None, size or auto_figsize(img.shape)
    lo, hi = grey_range([img[ok]], stretch)
    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    key = draw_quicklook(
        fig,
        v,
        img,
        ok,
        goes,
        transform,
        crs_wkt,
        style=style,
        every=every,
        show_flagged=show_flagged,
        dpi=dpi,
        title=title,
        invert=invert,
        grey=(lo, hi),
        vmax=speed_range([v]),
        graticule=graticule,
        coastlines=coastlines,
        cloud=cloud,
        fit=fit,
    )
    if key is not None:
        place_key(fig, fig.axes[0], key)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)


def grey_range(values: list[np.ndarray], stretch: tuple[float, float] = (2.0, 98.0)) -> tuple[float, float]:
    """The grey scale (black, white) of one picture or a whole loop: the ``stretch``
    percentiles of all the valid pixel values given (physical units)."""
    lo, hi = (float(x) for x in np.percentile(np.concatenate([np.ravel(x) for x in values]), stretch))
    return lo, hi if hi > lo else lo + 1.0


def _colour_values(v: Vectors) -> np.ndarray:
    """What the vectors are coloured by: speed in m/s when any good vector has one, else px."""
    if np.isfinite(v.speed[v.flag == 0]).any():
        return np.where(np.isfinite(v.speed), v.speed, np.nan)
    return np.hypot(v.dx, v.dy)


def speed_range(pairs: list[Vectors]) -> float:
    """Top of the colour scale of one picture or a whole loop: the 98th percentile of the good
    vectors' speeds (m/s; px when no speed is known), 1 when there is none."""
    vals = np.concatenate([_colour_values(v)[v.flag == 0] for v in pairs])
    vals = vals[np.isfinite(vals)]
    vmax = float(np.percentile(vals, 98)) if vals.size else 1.0
    return vmax if vmax > 0 else 1.0


def draw_quicklook(
    fig,
    v: Vectors,
    img: np.ndarray,
    ok: np.ndarray,
    goes,
    transform,
    crs_wkt,
    *,
    style: str,
    every: int | None,
    show_flagged: bool,
    dpi: float,
    title: str | None,
    invert: bool | None,
    grey: tuple[float, float],
    vmax: float,
    graticule: bool = True,
    coastlines: bool = True,
    cloud: np.ndarray | None = None,
    fit: bool = False,
):
    """Draw one quick-look on an empty figure (one axes): the frame in grey, coastlines,
    the thinned vectors, colour bar, graticule and title. The grey scale ``grey`` (black,
    white) and the colour scale top ``vmax`` are given, so that a loop shares them.
    ``fit`` trims the figure to the frame. Returns the reference arrow to place (or None)."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    from cloudmotion.formats.goes_names import describe_goes, is_infrared

    rows, cols = img.shape
    size = tuple(fig.get_size_inches())
    invert = is_infrared(goes) if invert is None else invert
    ax = fig.add_subplot()
    ax.set_facecolor("none")
    cmap = colormaps["gray_r" if invert else "gray"].with_extremes(bad=(0, 0, 0, 0))
    ax.imshow(
        np.ma.masked_array(img, ~ok),
        cmap=cmap,
        vmin=grey[0],
        vmax=grey[1],
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
        interpolation="nearest" if max(rows, cols) <= 2000 else "antialiased",
    )
    if cloud is not None:  # blue, as opaque as the cloud is probable
        shade = np.dstack([np.full((rows, cols), c) for c in (0.15, 0.55, 1.0)] + [0.55 * np.nan_to_num(cloud)])
        ax.imshow(shade, extent=(-0.5, cols - 0.5, rows - 0.5, -0.5), interpolation="nearest")
    if coastlines and crs_wkt and transform is not None:
        from cloudmotion.tools.coastlines import draw_coastlines

        draw_coastlines(ax, (rows, cols), transform, crs_wkt)
    auto = every is None
    every = auto_every(v, screen_scale(size, dpi, (rows, cols))) if auto else max(1, int(every))
    good, bad, spacing = selection(v, every, show_flagged, (rows, cols))
    in_ms = bool(np.isfinite(v.speed[good]).any())
    colour = _colour_values(v) if in_ms else np.hypot(v.dx, v.dy)
    norm = Normalize(vmin=0.0, vmax=vmax)
    if style == "arrows":
        mappable, note = draw_arrows(ax, v, good, bad, colour, norm, spacing, in_ms)
    else:
        mappable, note = draw_barbs(ax, v, good, bad, colour, norm, spacing, in_ms, size, (rows, cols))
    cbar_ax = decorate(
        fig,
        ax,
        mappable,
        in_ms,
        (rows, cols),
        transform if graticule else None,
        crs_wkt,
    )
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
    return key
