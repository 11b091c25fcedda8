"""Pairs per minute of `cloudmotion batch` with 1, 2, ... local worker processes (and optionally a
Dask LocalCluster), on real GOES texture.

    python benchmarks/batch_scaling.py                      # 24 frames of 500 x 500, workers 1 and 2
    python benchmarks/batch_scaling.py --frames 40 --workers 1,2,4 --dask local:2 --format csv,tif

Frames are the first sample frame (GOES-17 band 13, 500 x 500) moved by a uniform shift per frame
and written with GOES names into a temporary folder. Each configuration runs in a fresh process,
into an empty output folder, and is timed from process start to exit (start-up and process-pool
start included, as in cron), best of --repeat runs. Outputs of every run are checked to be
byte-identical to the first configuration's.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import rasterio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_frames(folder: str, n: int) -> list[str]:
    """Write ``n`` GOES-named frames of the first sample frame moving 1.2 px east, 0.4 px north per frame."""
    from cloudmotion.tools.known_motion import uniform_field, warp

    sample = min(glob.glob(os.path.join(ROOT, "sample_data", "*.tif")))
    with rasterio.open(sample) as ds:
        base = ds.read(1).astype(np.float64)
        profile = ds.profile
    profile.update(dtype="float32", nodata=None)
    t0 = datetime(2020, 1, 4, 3, 0, tzinfo=UTC)
    paths = []
    for i in range(n):
        img = warp(base, *uniform_field(base.shape, 1.2 * i, -0.4 * i)).astype(np.float32)
        s = f"{t0 + timedelta(minutes=5 * i):%Y%j%H%M%S}0"
        path = os.path.join(folder, f"OR_ABI-L1b-RadC-M6C13_G16_s{s}_e{s}_c{s}.tif")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(img, 1)
        paths.append(path)
    return paths


def run_once(src: str, out: str, extra: list[str], fmt: str) -> float:
    """Seconds for one `cloudmotion batch` run in a fresh process."""
    cmd = [sys.executable, "-m", "cloudmotion.cli.main", "batch", src, "-o", out, "--format", fmt, "-q", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds


def tree(folder: str) -> dict[str, bytes]:
    """Output files (relative path -> bytes), without the manifest and the lock."""
    found = {}
    for root, _dirs, files in os.walk(folder):
        for f in files:
            if f not in ("manifest.jsonl", ".cloudmotion.lock"):
                path = os.path.join(root, f)
                with open(path, "rb") as fh:
                    found[os.path.relpath(path, folder)] = fh.read()
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=24, help="frames in the sequence (pairs = frames - 1)")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--dask", metavar="SCHEDULER", help="also run with --scheduler SCHEDULER, e.g. local:2")
    ap.add_argument("--format", default="csv", help="--format of the runs")
    ap.add_argument("--repeat", type=int, default=2, help="runs per configuration; the best is reported")
    args = ap.parse_args()

    configs = [(f"--workers {w}", ["--workers", w]) for w in args.workers.split(",")]
    if args.dask:
        configs.append((f"--scheduler {args.dask}", ["--scheduler", args.dask]))
    pairs = args.frames - 1
    with tempfile.TemporaryDirectory(prefix="cm-batch-bench-") as tmp:
        src = os.path.join(tmp, "frames")
        os.makedirs(src)
        make_frames(src, args.frames)
        print(
            f"{args.frames} frames of 500 x 500 ({pairs} pairs), default settings, --format {args.format}, "
            f"{os.cpu_count()} cores"
        )
        print(f"{'configuration':<24} {'seconds':>8} {'pairs/min':>10} {'speed-up':>9}")
        reference = first = None
        for label, extra in configs:
            best = float("inf")
            for r in range(args.repeat):
                out = os.path.join(tmp, f"out-{label.replace(' ', '')}-{r}")
                best = min(best, run_once(src, out, extra, args.format))
                got = tree(out)
                reference = reference or got
                if got != reference:
                    raise SystemExit(f"{label}: outputs differ from the first configuration's")
            first = first or best
            print(f"{label:<24} {best:8.2f} {60 * pairs / best:10.1f} {first / best:8.2f}x")


if __name__ == "__main__":
    main()
