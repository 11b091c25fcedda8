"""Quick-look of a nowcast: the extrapolated frame with its lead and valid time, optionally
next to the observed frame at that time and with streamlines of the motion field.

matplotlib's object-oriented API on the Agg canvas, imported lazily (the plot extra).
"""

from __future__ import annotations

import os

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.tools.plot import parse_figsize, plot_format, require_matplotlib

__all__ = ["plot_nowcast_file"]


def _panel(fig, ax, img, valid, lo, hi, title, invert):
    from matplotlib import colormaps

    rows, cols = img.shape
    cmap = colormaps["gray_r" if invert else "gray"].with_extremes(bad=(1.0, 0.85, 0.85, 1.0))
    ax.imshow(
        np.ma.masked_array(img, ~valid),
        cmap=cmap,
        vmin=lo,
        vmax=hi,
        extent=(-0.5, cols - 0.5, rows - 0.5, -0.5),
        interpolation="antialiased",
    )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("column, px", fontsize=8)
    ax.set_ylabel("row, px", fontsize=8)
    ax.tick_params(labelsize=7)


def _streamlines(fig, ax, flow_path: str, shape: tuple[int, int]) -> None:
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
    sp = ax.streamplot(cc, rr, dx, dy, color=speed, cmap=colormaps["plasma"], density=1.2, linewidth=0.7, arrowsize=0.7)
    cb = fig.colorbar(sp.lines, ax=ax, shrink=0.7, pad=0.02)
    cb.set_label(label, fontsize=8)
    cb.ax.tick_params(labelsize=7)


def plot_nowcast_file(
    nowcast: str,
    output: str,
    *,
    observed: str | None = None,
    flow: str | None = None,
    dpi: float = 100.0,
    size: str | None = None,
    invert: bool = False,
    overwrite: bool = False,
) -> None:
    """Draw a nowcast GeoTIFF (``cloudmotion nowcast``) to a picture, atomically.

    Parameters
    ----------
    nowcast : str
        A nowcast written by ``cloudmotion nowcast`` (tags LEAD_MINUTES, VALID_TIME).
    output : str
        ``.png``, ``.svg`` or ``.pdf``.
    observed : str, optional
        The observed frame at the valid time, drawn beside it with the same grey scale.
    flow : str, optional
        The ``--flow`` GeoTIFF: streamlines over the nowcast, coloured by speed.
    dpi, size, invert, overwrite
        As for ``cloudmotion plot``; ``size`` defaults to 8x8 inches, 14x7 with ``observed``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from cloudmotion.files.atomic import atomic_path
    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.frame_geotiff import read_tags
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import open_frame, read_frame

    if plot_format(output) is None:
        raise UsageError(f"-o {output}: unknown picture format; use .png, .svg or .pdf")
    if nowcast == "-" or not nowcast.lower().endswith((".tif", ".tiff")):
        raise UsageError(
            f"{nowcast}: vectors are drawn over their frame; give FRAME too (cloudmotion plot VECTORS FRAME "
            "-o PICTURE), or a NOWCAST.tif alone"
        )
    if not os.path.isfile(nowcast):
        raise DataError(f"{nowcast}: {'is a folder' if os.path.isdir(nowcast) else 'no such file'}")
    figsize = parse_figsize(size or ("14x7" if observed else "8x8"), dpi)
    require_matplotlib()
    check_destinations([output], overwrite)
    check_not_inputs([output], [p for p in (nowcast, observed, flow) if p])
    tags = read_tags(nowcast)
    if "LEAD_MINUTES" not in tags:
        raise UsageError(f"{nowcast}: not a nowcast (no LEAD_MINUTES tag); to draw vectors give VECTORS FRAME")
    now = read_frame(open_frame(nowcast))
    frames = [
        (
            now,
            (
                f"nowcast +{tags['LEAD_MINUTES']} min, valid {tags.get('VALID_TIME') or 'unknown'}\n"
                f"from {tags.get('SOURCE_TIME') or 'the latest frame'}; NoData pink"
            ),
        )
    ]
    if observed:
        info = open_frame(observed)
        if info.shape != now.data.shape:
            raise DataError(
                f"{observed}: {info.shape[0]}x{info.shape[1]} px, the nowcast is "
                f"{now.data.shape[0]}x{now.data.shape[1]} px"
            )
        from cloudmotion.files.times import format_iso

        frames.append((read_frame(info), f"observed {format_iso(info.time) or observed}"))
    values = np.concatenate([f.data[f.valid] for f, _ in frames])
    if not values.size:
        raise DataError(f"{nowcast}: no valid pixel to draw")
    lo, hi = np.percentile(values, (2.0, 98.0))
    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(frames), squeeze=False)[0]
    for ax, (f, title) in zip(axes, frames, strict=True):
        _panel(fig, ax, f.data, f.valid, lo, hi if hi > lo else lo + 1, title, invert)
    if flow:
        _streamlines(fig, axes[0], flow, now.data.shape)
    with atomic_path(output) as tmp:
        fig.savefig(tmp, format=plot_format(output), dpi=dpi)
