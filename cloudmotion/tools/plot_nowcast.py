"""Pictures of nowcasts: the extrapolated frame with its lead and valid time on lon/lat axes
with coastlines, optionally beside the observed frame at that time and with streamlines of
the motion field; one picture, or a loop of a nowcast's leads.

matplotlib's object-oriented API on the Agg canvas, imported lazily (the plot extra).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.tools.plot import grey_range, parse_figsize, plot_format, require_matplotlib
from cloudmotion.tools.plot_layout import auto_figsize

__all__ = ["is_nowcast", "plot_nowcast_file"]


@dataclass
class _Scene:
    """One picture: a nowcast (a Frame) and its title, the observed frame beside it (or None)."""

    now: object
    title: str
    lead: float
    valid_time: object
    observed: object = None
    observed_title: str = ""


def is_nowcast(path: str) -> bool:
    """Whether ``path`` is a GeoTIFF written by ``cloudmotion nowcast`` (it has a LEAD_MINUTES tag)."""
    if os.path.splitext(path)[1].lower() not in (".tif", ".tiff") or not os.path.isfile(path):
        return False
    from cloudmotion.formats.frame_geotiff import read_tags

    try:
        return "LEAD_MINUTES" in read_tags(path)
    except Exception:  # noqa: BLE001 - unreadable: not a nowcast; the reader names the problem later
        return False


def _panel(fig, ax, frame, grey, title, invert, coastlines: bool):
    """One frame on lon/lat axes (pixel axes without a CRS), coastlines on it; returns the image."""
    from matplotlib import colormaps

    from cloudmotion.tools.coastlines import draw_coastlines
    from cloudmotion.tools.graticule import LABEL_SIZE, draw_graticule

    rows, cols = frame.data.shape
    info = frame.info
    cmap = colormaps["gray_r" if invert else "gray"].with_extremes(bad=(1.0, 0.85, 0.85, 1.0))
    im = ax.imshow(
        np.ma.masked_array(frame.data, ~frame.valid),
        cmap=cmap,
        vmin=grey[0],
        vmax=grey[1],
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
        interpolation="antialiased",
    )
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    georef = info.crs_wkt and info.transform is not None
    if georef and coastlines:
        draw_coastlines(ax, (rows, cols), info.transform, info.crs_wkt)
    if not (georef and draw_graticule(ax, (rows, cols), info.transform, info.crs_wkt)):
        ax.set_xlabel("column, px", fontsize=LABEL_SIZE)
        ax.set_ylabel("row, px", fontsize=LABEL_SIZE)
        ax.tick_params(labelsize=LABEL_SIZE)
    ax.set_title(title, fontsize=10)
    return im


def _empty_panel(ax, shape, title) -> None:
    rows, cols = shape
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(
        0.5,
        0.5,
        "no observed frame\nat this time",
        ha="center",
        va="center",
        transform=ax.transAxes,
    )
    ax.set_title(title, fontsize=10)


def _streamlines(fig, ax, flow_path: str, shape: tuple[int, int], axes) -> None:
    """Streamlines of the ``--flow`` field on ``ax``, their speed colour bar under all ``axes``."""
    import rasterio
    from matplotlib import colormaps

    with rasterio.open(flow_path) as ds:
        names = list(ds.descriptions)
        if (ds.height, ds.width) != shape or "dx" not in names or "dy" not in names:
            raise DataError(
                f"--flow {flow_path}: not a motion field of this nowcast's grid (bands dx, dy, "
                f"{shape[0]}x{shape[1]} px)"
            )
        bands = {n: ds.read(i + 1).astype(np.float64) for i, n in enumerate(names) if n in ("dx", "dy", "u", "v")}
    k = max(1, max(shape) // 60)
    dx, dy = bands["dx"][::k, ::k], bands["dy"][::k, ::k]
    if "u" in bands and np.isfinite(bands["u"]).any():
        speed, label = np.hypot(bands["u"], bands["v"])[::k, ::k], "speed, m/s"
    else:
        speed, label = np.hypot(dx, dy), "displacement, px per frame interval"
    rr, cc = np.arange(0, shape[0], k), np.arange(0, shape[1], k)
    sp = ax.streamplot(
        cc,
        rr,
        dx,
        dy,
        color=speed,
        cmap=colormaps["plasma"],
        density=1.2,
        linewidth=0.7,
        arrowsize=0.7,
    )
    cb = fig.colorbar(sp.lines, ax=axes, location="bottom", shrink=0.5, pad=0.02, aspect=40)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def _value_label(path: str, info) -> str:
    """The colour bar's label: quantity and unit from the nowcast's tags, else from the frame."""
    from cloudmotion.formats.frame_geotiff import read_tags, value_meaning

    tags = read_tags(path)
    quantity, unit = tags.get("QUANTITY", ""), tags.get("UNIT", "")
    if not (quantity or unit):
        quantity, unit = value_meaning(info)
    if not (quantity or unit):
        return "value (quantity and unit not recorded in the file)"
    return ", ".join(x for x in (quantity, unit) if x)


def _read_scenes(nowcasts: Sequence[str], observed: Sequence[str]) -> list[_Scene]:
    """The nowcasts in lead order, each with the observed frame valid at its time."""
    from cloudmotion.files.times import format_iso, parse_iso
    from cloudmotion.formats.frame_geotiff import read_tags
    from cloudmotion.formats.readers import open_frame, read_frame

    scenes = []
    for path in nowcasts:
        tags = read_tags(path)
        if "LEAD_MINUTES" not in tags:
            raise UsageError(f"{path}: not a nowcast (no LEAD_MINUTES tag); to draw vectors give VECTORS FRAME")
        now = read_frame(open_frame(path))
        if scenes and now.data.shape != scenes[0].now.data.shape:
            raise DataError(
                f"{path}: {now.data.shape[0]}x{now.data.shape[1]} px, {nowcasts[0]} is "
                f"{scenes[0].now.data.shape[0]}x{scenes[0].now.data.shape[1]} px"
            )
        lead = float(tags.get("LEAD_SECONDS") or 60.0 * float(tags["LEAD_MINUTES"]))
        title = (
            f"nowcast +{tags['LEAD_MINUTES']} min, valid {tags.get('VALID_TIME') or 'unknown'}\n"
            f"from {tags.get('SOURCE_TIME') or 'the latest frame'}; NoData pink"
        )
        scenes.append(_Scene(now, title, lead, parse_iso(tags.get("VALID_TIME"))))
    scenes.sort(key=lambda s: s.lead)
    shape = scenes[0].now.data.shape
    for path in observed:
        info = open_frame(path)
        if info.shape != shape:
            raise DataError(f"{path}: {info.shape[0]}x{info.shape[1]} px, the nowcast is {shape[0]}x{shape[1]} px")
        if len(scenes) == 1 and len(observed) == 1:
            at = scenes[0]  # one picture: the observed frame the user gave, whatever its time
        else:
            at = next(
                (s for s in scenes if info.time is not None and s.valid_time == info.time),
                None,
            )
            if at is None:
                raise DataError(
                    f"--observed {path}: its time ({format_iso(info.time) or 'unknown'}) is no lead's "
                    f"valid time ({', '.join(format_iso(s.valid_time) or '?' for s in scenes)})"
                )
        at.observed, at.observed_title = (
            read_frame(info),
            f"observed {format_iso(info.time) or path}",
        )
    return scenes


def plot_nowcast_file(
    nowcasts: str | Sequence[str],
    output: str,
    *,
    observed: str | Sequence[str] | None = None,
    flow: str | None = None,
    dpi: float = 100.0,
    size: str | None = None,
    invert: bool | None = None,
    overwrite: bool = False,
    coastlines: bool = True,
    fps: float = 2.0,
) -> None:
    """Draw nowcast GeoTIFFs (``cloudmotion nowcast``) to a picture or a loop, atomically.

    Parameters
    ----------
    nowcasts : str or sequence of str
        Nowcasts written by ``cloudmotion nowcast`` (tags LEAD_MINUTES, VALID_TIME,
        SOURCE_TIME, QUANTITY, UNIT); one for a picture, any number for a loop (drawn in
        lead order).
    output : str
        ``.png``, ``.svg`` or ``.pdf`` for one nowcast; ``.gif`` or ``.mp4`` (ffmpeg) for a
        loop of the leads.
    observed : str or sequence of str, optional
        Observed frames, each drawn beside the nowcast valid at its time (one picture: the
        frame given, whatever its time), with the same grey scale.
    flow : str, optional
        The ``--flow`` GeoTIFF: streamlines over the nowcast, coloured by speed.
    dpi, size, overwrite
        As for ``cloudmotion plot``; ``size`` defaults to the frame's aspect, 8 inches
        wide (14 with ``observed``).
    invert : bool, optional
        Low values bright (cold cloud tops white). Default: on when the nowcast's source
        frame is a GOES infrared or water-vapour band (ABI 7-16).
    coastlines : bool
        Draw Natural Earth coastlines and borders when the nowcast has a CRS.
    fps : float
        Loop pictures per second.

    Raises
    ------
    UsageError
        Not a nowcast, unknown format, several nowcasts for a single picture, MP4 without ffmpeg.
    DataError
        No valid pixel, an observed frame of another grid or valid at no lead's time.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cloudmotion.files.atomic import atomic_path
    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.goes_names import is_infrared, parse_goes_name
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.tools.plot_loop import check_loop_output, loop_format, write_loop

    nowcasts = [nowcasts] if isinstance(nowcasts, str) else list(nowcasts)
    observed = [observed] if isinstance(observed, str) else list(observed or [])
    loop = loop_format(output)
    if plot_format(output) is None and loop is None:
        raise UsageError(f"-o {output}: unknown picture format; use .png, .svg or .pdf, or .gif or .mp4 for a loop")
    if loop is None and len(nowcasts) > 1:
        raise UsageError(f"-o {output}: {len(nowcasts)} nowcasts make a loop; write .gif or .mp4")
    for nowcast in nowcasts:
        if nowcast == "-" or not nowcast.lower().endswith((".tif", ".tiff")):
            raise UsageError(
                f"{nowcast}: vectors are drawn over their frame; give FRAME too (cloudmotion plot VECTORS FRAME "
                "-o PICTURE), or a NOWCAST.tif alone"
            )
        if not os.path.isfile(nowcast):
            raise DataError(f"{nowcast}: {'is a folder' if os.path.isdir(nowcast) else 'no such file'}")
    if loop:
        check_loop_output(output)
    require_matplotlib()
    check_destinations([output], overwrite)
    check_not_inputs([output], [*nowcasts, *observed, *([flow] if flow else [])])
    scenes = _read_scenes(nowcasts, observed)
    shape = scenes[0].now.data.shape
    values = [s.now.data[s.now.valid] for s in scenes] + [
        s.observed.data[s.observed.valid] for s in scenes if s.observed is not None
    ]
    if not sum(v.size for v in values):
        raise DataError(f"{nowcasts[0]}: no valid pixel to draw")
    grey = grey_range([v for v in values if v.size])
    if invert is None:
        from cloudmotion.formats.frame_geotiff import read_tags

        source = read_tags(nowcasts[0]).get("SOURCE_FRAME", "")
        invert = is_infrared(scenes[0].now.info.goes or parse_goes_name(source)[1])
    label = _value_label(nowcasts[0], scenes[0].now.info)
    pair = bool(observed)
    w, h = auto_figsize(shape, width=7.0 if pair else 8.0)
    figsize = parse_figsize(size, dpi) if size else (2 * w - 0.8 if pair else w, h + (0.8 if flow else 0.0))
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)

    def draw(i: int) -> None:
        fig.clear()
        scene = scenes[i]
        axes = fig.subplots(1, 2 if pair else 1, squeeze=False)[0]
        im = _panel(fig, axes[0], scene.now, grey, scene.title, invert, coastlines)
        if pair and scene.observed is not None:
            _panel(
                fig,
                axes[1],
                scene.observed,
                grey,
                scene.observed_title,
                invert,
                coastlines,
            )
        elif pair:
            _empty_panel(axes[1], shape, "observed")
        cb = fig.colorbar(im, ax=list(axes), shrink=0.9, pad=0.02)
        cb.set_label(label, fontsize=9)
        cb.ax.tick_params(labelsize=8)
        if flow:
            _streamlines(fig, axes[0], flow, shape, list(axes))

    if loop:
        write_loop(fig, draw, len(scenes), output, fps=fps, dpi=dpi)
        return
    draw(0)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=plot_format(output), dpi=dpi)
