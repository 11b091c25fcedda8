"""Where the whole ``cloudmotion track A B -o v.csv`` command spends its time, stage by stage.

A fresh process runs the command itself (``cloudmotion.cli.main.main``, the same arguments
as the timed command line), with a timer around the functions where each stage is called;
nothing of cloudmotion is replaced. Before the command, the process imports what the
command will import (listed by a first run of the command) and loads the kernels with a
small pair, so those two costs stand apart. The stages:

- interpreter: process start to the first line of the script (``/proc``);
- imports: every module the command imports (in the order it does), except those that the
  first tracked pair imports;
- kernel load: a 96 x 96 pair tracked once: numba, the kernel modules, the cached kernels
  and whatever tracking imports lazily (scipy.fft for the expected-error terms);
- read headers, read, track (pre-filter of each frame and the pair's tracking),
  geolocation, write CSV: the command's calls of ``open_frames``, ``read_frame``,
  ``_prepare`` + ``_track_prepared``, ``geolocate`` and ``write_csv_rows``;
- the command's other steps: the rest of ``main`` (options, output and input checks, pixel
  sizes, QC, output rows, provenance, the atomic rename);
- interpreter exit: from the end of ``main`` to the end of the process, seen by the parent.

The stages add up to the process's wall time, measured from outside in the same run
(:func:`breakdown` returns both), up to the process start and the parent's own overhead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, log

MODULES = r"""
import json, sys
import cloudmotion.cli.main, cloudmotion.pipeline
import numpy as np
from cloudmotion import track_pair
before = set(sys.modules)
z = np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32)
track_pair(z, np.roll(z, 1, axis=1), search=16)
kernels = set(sys.modules) - before  # numba, the kernel modules, scipy.fft ...: the kernel-load stage
code = cloudmotion.cli.main.main(json.loads(sys.argv[1]))
print(json.dumps([m for m in sys.modules if m not in kernels]))  # in import order
sys.exit(code)
"""

STAGES = r"""
import json, sys, time
t_script = time.perf_counter()
import os
with open("/proc/self/stat") as fh:
    start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
with open("/proc/uptime") as fh:
    up = float(fh.read().split()[0])
out = {"interpreter": up - start_ticks / os.sysconf("SC_CLK_TCK") - (time.perf_counter() - t_script)}
argv, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
t = time.perf_counter()
import importlib
for name in modules:
    try:
        importlib.import_module(name)
    except Exception:  # a module of this run that cannot be imported alone: the command imports it
        pass
out["imports"] = time.perf_counter() - t
t = time.perf_counter()
import numpy as np
from cloudmotion import track_pair
z = np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32)
track_pair(z, np.roll(z, 1, axis=1), search=16)
out["kernel load"] = time.perf_counter() - t

import cloudmotion.formats.csv, cloudmotion.pipeline, cloudmotion.sequence
from cloudmotion.cli.main import main
spent = {}

def timed(module, name, label):
    inner = getattr(module, name)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0
    setattr(module, name, wrapper)

timed(cloudmotion.pipeline, "open_frames", "read headers")
timed(cloudmotion.pipeline, "read_frame", "read")
timed(cloudmotion.sequence, "_prepare", "track")
timed(cloudmotion.sequence, "_track_prepared", "track")
timed(cloudmotion.pipeline, "geolocate", "geolocation")
timed(cloudmotion.formats.csv, "write_csv_rows", "write CSV")
t = time.perf_counter()
code = main(argv)
whole = time.perf_counter() - t
for label in ("read headers", "read", "track", "geolocation", "write CSV"):
    out[label] = spent.get(label, 0.0)
out["the command's other steps"] = whole - sum(spent.values())
out["end"] = time.time()
print(json.dumps(out), flush=True)
sys.exit(code)
"""


def _run(code: str, args: list[str], tree: Path = ROOT) -> tuple[str, float, float]:
    """Standard output, wall seconds from outside, and the time.time() at which the process was reaped.

    The process runs in ``tree`` with ``tree`` first on its path (the cloudmotion measured).
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tree,
        text=True,
        env=env,
    )
    out, err = proc.communicate()
    reaped = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {err[-600:]}")
    return out, time.perf_counter() - t, reaped


def breakdown(a: str, b: str, out_csv: str, runs: int = 3, search: int = 16, tree: Path = ROOT) -> tuple[dict, float]:
    """Seconds of each stage of ``track A B --search 16 -o out_csv -q`` in the run of median wall
    time (of ``runs`` fresh processes), and that run's wall time measured from outside; ``tree``
    is the source tree measured.

    Raises
    ------
    RuntimeError
        If the command fails.
    """
    argv = ["track", a, b, "--search", str(search), "-o", out_csv, "--overwrite", "-q"]
    listed, _, _ = _run(MODULES, [json.dumps(argv)], tree)
    modules = json.loads(listed.strip().splitlines()[-1])
    runs_ = []
    for _ in range(runs):
        text, wall, reaped = _run(STAGES, [json.dumps(argv), json.dumps(modules)], tree)
        row = json.loads(text.strip().splitlines()[-1])
        row["interpreter exit"] = reaped - row.pop("end")
        runs_.append((wall, row))
    wall, row = sorted(runs_, key=lambda r: r[0])[len(runs_) // 2]  # stages of one run add up to its wall time
    return row, wall


def main() -> int:
    """``python -m benchmarks.whole_command A.tif B.tif [-n RUNS] [--tree PATH]``: the breakdown as a table."""
    import argparse
    import tempfile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("-n", type=int, default=5, help="runs (median)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="source tree to measure (default: this one)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log("breakdown of the whole command")
        stages, wall = breakdown(
            os.path.abspath(opts.a), os.path.abspath(opts.b), str(Path(tmp) / "v.csv"), runs=opts.n, tree=opts.tree
        )
    print("| stage | s |\n|---|---:|")
    for k, v in stages.items():
        print(f"| {k} | {v:.3f} |")
    print(f"| sum | {sum(stages.values()):.3f} |\n| the same processes, from outside | {wall:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
