"""The quick-look picture that ``track --plot`` draws per pair, handed to the pipeline as a plotter."""

from __future__ import annotations

from cloudmotion.errors import UsageError

__all__ = ["QUICKLOOK", "QuicklookPlotter"]


class QuicklookPlotter:
    """A :class:`cloudmotion.pipeline.Plotter` drawing :func:`cloudmotion.tools.plot.quicklook` with defaults."""

    def check(self, path: str) -> None:
        """Refuse a picture name whose format matplotlib cannot write, or a missing plot extra."""
        from cloudmotion.tools.plot import plot_format, require_matplotlib

        if plot_format(path) is None:
            raise UsageError(f"--plot {path}: unknown picture format; use .png, .svg or .pdf")
        require_matplotlib()

    def draw(self, vectors, frame, path: str) -> None:
        """Draw one pair's vectors over frame A and write the picture atomically."""
        from cloudmotion.tools.plot import quicklook

        quicklook(vectors, frame, path)


QUICKLOOK = QuicklookPlotter()
