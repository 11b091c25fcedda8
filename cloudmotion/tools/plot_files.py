"""The ``plot`` command's file-level calls: a vector file and its frame to one picture
(:func:`plot_file`), or a vector file and several frames to a loop (:func:`plot_loop_file`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.model import Vectors
from cloudmotion.tools.plot import (
    draw_quicklook,
    grey_range,
    parse_figsize,
    plot_format,
    quicklook,
    require_matplotlib,
    speed_range,
)
from cloudmotion.tools.plot_layout import auto_figsize, place_key
from cloudmotion.tools.plot_loop import check_loop_output, loop_format, match_pairs, write_loop

__all__ = ["plot_file", "plot_loop_file"]


def plot_file(
    vectors: str,
    frame: str,
    output: str,
    *,
    pair: int = 1,
    style: str = "arrows",
    every: int | None = None,
    show_flagged: bool = False,
    dpi: float = 100.0,
    size: str | None = None,
    invert: bool | None = None,
    band: int | None = None,
    overwrite: bool = False,
    cloud: bool = False,
    cloud_model: str | None = None,
    cloud_mask: str | None = None,
    coastlines: bool = True,
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
        pairs[pair - 1],
        name,
        frame,
        shape=info.shape,
        transform=info.transform,
        crs_wkt=info.crs_wkt,
        time=info.time,
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
        coastlines=coastlines,
    )


def plot_loop_file(
    vectors: str,
    frames: Sequence[str],
    output: str,
    *,
    style: str = "arrows",
    every: int | None = None,
    show_flagged: bool = False,
    dpi: float = 100.0,
    size: str | None = None,
    invert: bool | None = None,
    band: int | None = None,
    overwrite: bool = False,
    coastlines: bool = True,
    fps: float = 2.0,
) -> None:
    """``cloudmotion plot VECTORS FRAME FRAME ... -o loop.gif``: one picture per frame.

    Parameters
    ----------
    vectors : str
        CSV (one or more pairs) or vector GeoTIFF written by ``track`` or ``batch``.
    frames : sequence of str
        The frames, in time order; each picture shows a frame with the vectors of the pair
        that starts there (:func:`match_pairs`), the last frame those of the last pair.
    output : str
        ``.gif`` or ``.mp4`` (needs ffmpeg).
    fps : float
        Pictures per second.
    Other parameters as for :func:`cloudmotion.tools.plot.plot_file`.

    Raises
    ------
    UsageError
        Unknown loop format, MP4 without ffmpeg, existing output without ``overwrite``.
    DataError
        Unreadable frames, frames of another grid than the vectors, no pair for a frame.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.formats.vectors import check_vectors_match, read_vectors

    if loop_format(output) is None:
        raise UsageError(f"-o {output}: a loop is written as .gif or .mp4")
    if style not in ("arrows", "barbs"):
        raise UsageError(f"--style {style}: use arrows or barbs")
    check_loop_output(output)
    figsize = parse_figsize(size, dpi) if size else None
    require_matplotlib()
    check_destinations([output], overwrite)
    check_not_inputs([output], [p for p in (vectors, *frames) if p != "-"])
    infos = [open_frame(f, band=band) for f in frames]
    pairs = read_vectors(vectors, frame_transform=infos[0].transform)
    name = "standard input" if vectors == "-" else vectors
    if not pairs:
        raise DataError(f"{name}: no vectors")
    which = match_pairs(pairs, [i.time for i in infos], name)
    for info, k in zip(infos, which, strict=True):
        check_vectors_match(
            pairs[k],
            name,
            info.path,
            shape=info.shape,
            transform=info.transform,
            crs_wkt=info.crs_wkt,
            time=None,
        )
    images = [read_frame(i) for i in infos]
    if not all(im.valid.any() for im in images):
        bad = next(i.path for i, im in zip(infos, images, strict=True) if not im.valid.any())
        raise DataError(f"{bad}: no valid pixel to draw")
    grey = grey_range([im.data[im.valid] for im in images])
    vmax = speed_range([pairs[k] for k in set(which)])
    fit, figsize = figsize is None, figsize or auto_figsize(infos[0].shape)
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)

    def draw(i: int) -> None:
        fig.clear()
        im, v = images[i], pairs[which[i]]
        key = draw_quicklook(
            fig,
            v,
            np.asarray(im.data, dtype=np.float64),
            im.valid,
            im.info.goes,
            im.info.transform,
            im.info.crs_wkt,
            style=style,
            every=every,
            show_flagged=show_flagged,
            dpi=dpi,
            invert=invert,
            grey=grey,
            vmax=vmax,
            coastlines=coastlines,
            fit=fit and i == 0,
            title=_loop_title(v, im.info.time, i, len(images)),
        )
        if key is not None:
            place_key(fig, fig.axes[0], key)

    draw(0)  # the first picture fixes the figure size for the whole loop
    write_loop(fig, draw, len(images), output, fps=fps, dpi=dpi)


def _loop_title(v: Vectors, time, i: int, n: int) -> str:
    from cloudmotion.files.times import format_iso

    when = format_iso(time) if time is not None else f"frame {i + 1}"
    pair = (
        f"vectors {format_iso(v.time_a)} → {format_iso(v.time_b)}"
        if v.time_a is not None and v.time_b is not None
        else "vectors of the pair starting here"
    )
    return f"{when} ({i + 1}/{n}); {pair}"
