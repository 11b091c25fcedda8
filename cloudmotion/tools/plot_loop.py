"""Loops of quick-looks: which pair each frame shows, and the writer of animated GIF (Pillow)
and MP4 (ffmpeg) files, written through matplotlib's animation writers, atomically.

Every picture of a loop shares one grey stretch, one colour scale and one figure size, so
that changes of brightness and colour between pictures are real.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence

from cloudmotion.errors import DataError, UsageError
from cloudmotion.model import Vectors

__all__ = [
    "LOOP_FORMATS",
    "check_loop_output",
    "loop_format",
    "match_pairs",
    "write_loop",
]

LOOP_FORMATS = {".gif": "gif", ".mp4": "mp4"}
"""Output extension -> loop format."""


def loop_format(path: str) -> str | None:
    """``"gif"`` or ``"mp4"`` from a path's extension; None when it names no loop."""
    return LOOP_FORMATS.get(os.path.splitext(path)[1].lower())


def check_loop_output(path: str) -> str:
    """The loop format of ``path``; a :class:`UsageError` (exit 2) for an MP4 without ffmpeg."""
    fmt = loop_format(path)
    if fmt == "mp4" and shutil.which("ffmpeg") is None:
        raise UsageError(f"-o {path}: MP4 needs ffmpeg, which is not installed; write a .gif loop instead")
    return fmt


def match_pairs(pairs: Sequence[Vectors], times: Sequence, name: str) -> list[int]:
    """Which pair each loop frame shows: the pair that starts at the frame's time.

    Parameters
    ----------
    pairs : sequence of Vectors
        The pairs of a vector file, in file order.
    times : sequence of datetime or None
        The loop frames' times, in loop order.
    name : str
        The vector file, for messages.

    Returns
    -------
    list of int
        One pair index per frame. With times on both sides a frame shows the pair whose
        ``time_a`` is its time; the frame at the last pair's ``time_b`` shows the last pair.
        Without times, pairs are taken in order (frame i shows pair i, the last frame the
        last pair), which needs one pair fewer than frames, or as many.

    Raises
    ------
    DataError
        A frame has no pair that starts (or, for the last, ends) at its time, or the counts
        do not match.
    """
    if all(t is not None for t in times) and all(p.time_a is not None for p in pairs):
        starts = {p.time_a: i for i, p in enumerate(pairs)}
        last_end = pairs[-1].time_b
        out = []
        for t in times:
            if t in starts:
                out.append(starts[t])
            elif t == last_end:
                out.append(len(pairs) - 1)
            else:
                from cloudmotion.files.times import format_iso

                raise DataError(f"{name}: no pair starts at {format_iso(t)}, the time of loop frame {len(out) + 1}")
        return out
    if len(times) not in (len(pairs), len(pairs) + 1):
        raise DataError(
            f"{name}: {len(pairs)} pair(s) for {len(times)} frames and no times to match them; give "
            f"{len(pairs) + 1} frames in pair order"
        )
    return [min(i, len(pairs) - 1) for i in range(len(times))]


class _PillowGif:
    """matplotlib's Pillow writer saving as GIF whatever the (temporary) file's name."""

    def __new__(cls, fps: float):
        from matplotlib.animation import PillowWriter

        class Writer(PillowWriter):
            def finish(self) -> None:
                if not self._frames:  # drawing failed before the first picture: let its error through
                    return
                self._frames[0].save(
                    self.outfile,
                    format="GIF",
                    save_all=True,
                    append_images=self._frames[1:],
                    duration=int(1000 / self.fps),
                    loop=0,
                )

        return Writer(fps=fps)


def write_loop(fig, draw: Callable[[int], None], count: int, output: str, *, fps: float, dpi: float) -> None:
    """Draw ``count`` pictures on ``fig`` (``draw(i)`` clears and redraws it) into a loop file, atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, of a size that stays the same for every picture.
    draw : callable
        ``draw(i)`` draws picture ``i`` (0-based) on ``fig``.
    count : int
        Number of pictures.
    output : str
        ``.gif`` (Pillow) or ``.mp4`` (ffmpeg, H.264).
    fps : float
        Pictures per second.
    dpi : float
        Dots per inch.
    """
    from matplotlib.animation import FFMpegWriter

    from cloudmotion.files.atomic import atomic_path

    fmt = check_loop_output(output)
    writer = _PillowGif(fps) if fmt == "gif" else FFMpegWriter(fps=fps, extra_args=["-f", "mp4", "-pix_fmt", "yuv420p"])
    with atomic_path(output) as tmp, writer.saving(fig, tmp, dpi):
        for i in range(count):
            draw(i)
            writer.grab_frame()
