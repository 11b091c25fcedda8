"""Cost of ``search = "auto"`` against ``--search 16`` on a CONUS infrared pair 5 min apart.

Frame A is the real GOES-16 band-16 CONUS L1b frame (1500 x 2500, brightness temperature),
frame B the same warped by the vortex + shear field of :func:`benchmarks.data.vortex`; both
written as timed GeoTIFFs on the frame's own fixed grid. Each setting runs the whole
``track`` pipeline in this process (read, track, write a CSV) ``--repeat`` times after one
warm-up run; the figure is the median process CPU time (all threads), which the other jobs
on a shared machine disturb less than the wall time.

Run: ``python -m benchmarks.search_auto [--repeat N] [--conus FILE.nc]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import log
from .data import vortex_motion, warp_masked, write_tif

CONUS = Path("/work/shared/sample_goes/OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e20200040318566_c20200040319074.nc")
T_A = dt.datetime(2020, 1, 4, 3, 16, 18)


def make_pair(conus: Path, folder: Path) -> tuple[str, str]:
    """Frame A (the real frame in K) and frame B (warped), 5 min apart, as GeoTIFFs."""
    from cloudmotion.formats.calibration import resolve
    from cloudmotion.formats.readers import open_frame, read_frame

    info = resolve(open_frame(str(conus)), "auto")
    frame = read_frame(info)
    a = np.where(frame.valid, frame.data, np.nan).astype(np.float64)
    b = warp_masked(a, frame.valid, vortex_motion(a.shape))
    kw = {"crs_wkt": info.crs_wkt, "transform": info.transform}
    fa = write_tif(folder / "a.tif", a, when=T_A, **kw)
    fb = write_tif(folder / "b.tif", b, when=T_A + dt.timedelta(minutes=5), **kw)
    return fa, fb


def run_once(fa: str, fb: str, out: Path, search) -> tuple[float, float, int, int]:
    """CPU s, wall s, the search used and the good vectors of one in-process ``track`` run."""
    import io

    from cloudmotion.formats.vectors import read_vectors
    from cloudmotion.pipeline import run_track
    from cloudmotion.settings.params import build_settings

    settings = build_settings({"search": search})
    used = {}

    def on_pair(i, a, b, dt_, vectors):
        used["search"] = vectors.extra["provenance"]["settings"]["search"]

    c0, w0 = time.process_time(), time.perf_counter()
    run_track([fa, fb], [str(out)], settings, stdout=io.StringIO(), overwrite=True, on_pair=on_pair)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    (vec,) = read_vectors(str(out))
    return cpu, wall, int(used["search"]), int(np.count_nonzero(np.asarray(vec.flag) == 0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--conus", type=Path, default=CONUS)
    args = ap.parse_args(argv)
    if not args.conus.exists():
        print(f"{args.conus}: no such file", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fa, fb = make_pair(args.conus, folder)
        run_once(fa, fb, folder / "warm.csv", 16)  # compile and cache the kernels first
        rows = []
        for search in ("auto", 16):
            runs = [run_once(fa, fb, folder / f"{search}.csv", search) for _ in range(args.repeat)]
            cpu = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            rows.append((search, runs[0][2], cpu, wall, runs[0][3], [round(r[0], 2) for r in runs]))
            log(f"search {search}: used {runs[0][2]} px, CPU {cpu:.2f} s, wall {wall:.2f} s")
    base = rows[1][2]
    print(
        "| search | px used | CPU s (median) | wall s (median) | CPU vs --search 16 | good vectors | CPU s, each run |"
    )
    print("|---|---|---|---|---|---|---|")
    for search, used, cpu, wall, good, each in rows:
        print(f"| {search} | {used} | {cpu:.2f} | {wall:.2f} | {cpu / base:.3f}x | {good:,} | {each} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
