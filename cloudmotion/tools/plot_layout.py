"""Layout of the quick-look pictures: a figure sized to the frame, the colour bar beside the
image, the reference arrow under the x label, the graticule or pixel axes."""

from __future__ import annotations

from cloudmotion.tools.graticule import draw_graticule

__all__ = ["auto_figsize", "decorate", "fit_to_frame", "place_key", "screen_scale"]

SIDE, TOP = 1.7, 1.6
"""Inches a quick-look needs beside the image (colour bar, y labels) and above and below it
(title lines, x labels)."""


def auto_figsize(shape: tuple[int, int], width: float = 8.0) -> tuple[float, float]:
    """Figure size in inches that fits a frame of ``shape`` (rows, cols) with its colour bar,
    title and labels, without wide margins: the axes take the frame's aspect ratio."""
    rows, cols = shape
    aspect = rows / max(cols, 1)
    side, top = SIDE, TOP
    ax_w = width - side
    ax_h = ax_w * aspect
    if ax_h > 10.0:  # a tall frame: keep the height, narrow the figure
        ax_h = 10.0
        ax_w = ax_h / aspect
    return float(max(ax_w + side, 4.0)), float(max(ax_h + top, 3.0))


def screen_scale(size: tuple[float, float], dpi: float, shape: tuple[int, int]) -> float:
    """Picture pixels per frame pixel when a frame of ``shape`` (rows, cols) fills the room a
    figure of ``size`` inches at ``dpi`` leaves beside its colour bar, title and labels."""
    rows, cols = shape
    side, top = SIDE, TOP
    return dpi * max(
        min((size[0] - side) / max(cols, 1), (size[1] - top) / max(rows, 1)),
        0.1 / max(rows, cols),
    )


def fit_to_frame(fig, ax, cbar_ax) -> None:
    """Trim the figure to the image: the frame's aspect leaves the axes lower (or narrower)
    than the room the layout gave them, which the colour bar fills; take that slack off the
    figure, so the colour bar is as tall as the image and no margin is wide."""
    if cbar_ax is None:
        return
    for _ in range(4):
        fig.draw_without_rendering()
        width, height = fig.get_size_inches()
        tight = fig.get_tightbbox()  # everything drawn, inches
        dh, dw = height - tight.height - 0.12, width - tight.width - 0.12
        if max(dh, dw) < 0.03:
            return
        fig.set_size_inches(width - max(dw, 0.0), height - max(dh, 0.0))


def place_key(fig, ax, key) -> None:
    """Put the reference arrow on the blank second line of the x label, at the right end."""
    fig.draw_without_rendering()
    box, label = ax.get_window_extent(), ax.xaxis.label.get_window_extent()
    key.Y = (label.y0 + 0.27 * label.height - box.y0) / box.height
    key.X = 1.0


def decorate(fig, ax, mappable, in_ms: bool, shape: tuple[int, int], transform, crs_wkt):
    """Colour bar beside the axes, limits, and the graticule or pixel axes; returns the colour
    bar's axes (None without vectors)."""
    rows, cols = shape
    cb = None
    if mappable is not None:
        cb = fig.colorbar(mappable, cax=ax.inset_axes((1.015, 0.0, 0.025, 1.0)))  # as tall as the image
        cb.set_label("speed, m/s" if in_ms else "displacement, px", fontsize=10)
        cb.ax.tick_params(labelsize=9)
    ax.set_xlim(-0.5, cols - 0.5)
    ax.set_ylim(rows - 0.5, -0.5)
    if not (crs_wkt and transform is not None and draw_graticule(ax, (rows, cols), transform, crs_wkt)):
        ax.set_xlabel("column, px", fontsize=10)
        ax.set_ylabel("row, px", fontsize=10)
        ax.tick_params(labelsize=9)
    return None if cb is None else cb.ax
