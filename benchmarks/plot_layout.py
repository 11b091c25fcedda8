"""Cost of fitting the quick-look figure to the frame: `cloudmotion plot` with the
default size (the figure trimmed to the frame's aspect, a few layout passes) against an
explicit size of the same picture. Standalone:

    python benchmarks/plot_layout.py [REPEATS]

Prints medians over REPEATS (default 7) runs on the sample pair, in seconds.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "sample_data")


def main(repeats: int = 7) -> None:
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.pipeline import open_frames, pair_steps, track_frames
    from cloudmotion.settings.params import Settings
    from cloudmotion.tools.plot import quicklook

    frames = [os.path.join(SAMPLE, f"G17_M1_C13_s2019300200{m}275.tif") for m in (0, 5)]
    settings = Settings()
    infos = open_frames(frames, settings)
    vectors = next(track_frames(infos, settings, [s for s, _ in pair_steps(infos, None)]))
    frame = read_frame(open_frame(frames[0]))
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "q.png")
        for label, kw in (("default size (fitted to the frame)", {}), ("explicit --size 8x7.9", {"size": (8.0, 7.9)})):
            quicklook(vectors, frame, out, **kw)  # warm-up: fonts, colour maps
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                quicklook(vectors, frame, out, **kw)
                times.append(time.perf_counter() - t)
            print(f"{label}: median {statistics.median(times):.3f} s over {repeats}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
