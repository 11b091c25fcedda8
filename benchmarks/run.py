#!/usr/bin/env python3
"""Benchmark harness: cloudmotion against its peers on pairs with known motion.

Runs cloudmotion and four peers on the same frame pairs, on the same 32 px / 16 px grid,
and writes the figures to ``benchmarks/RESULTS.md``:

* accuracy (RMS, bias per axis, 95th percentile, outlier shares, flagged share) on
  correlated-noise textures and real GOES radiance warped by known fields (fractional
  sweep, shifts up to 12 px, vortex plus shear) with 0 %, 1 % and 3 % noise;
* peak locking (flatness of the histogram of fractional parts on the fractional sweep);
* cloudmotion's sub-pixel fitters with and without Lucas-Kanade refinement;
* throughput in vectors/s, and wall time and peak RSS of whole command-line runs
  (``/usr/bin/time -v``), including the CONUS and full-disk sizes;
* scaling with image size and window size;
* cloudmotion's flag precision/recall with injected faults;
* the issue's targets, each met or named with its measured figure.

This file parses the options and runs the sections in order; the measurements live in
the modules of the ``benchmarks`` package (see ``benchmarks/README.md``).

Usage (from the repository root)::

    python3 -m venv .bench && .bench/bin/pip install -e . -r benchmarks/requirements.txt
    .bench/bin/python benchmarks/run.py            # full run, ~11 min on 2 cores
    .bench/bin/python benchmarks/run.py --quick    # reduced run, ~3.5 min
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if __name__ == "__main__" and "benchmarks" not in sys.modules:
    # Run as a script: load this folder as the package ``benchmarks`` without putting the checkout on
    # the path (its cloudmotion/ would shadow the installed one) and without leaving this folder first
    # on the path (``data``, ``report`` ... would shadow any top-level module of that name).
    import importlib.util

    if sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
        sys.path.pop(0)
    _spec = importlib.util.spec_from_file_location(
        "benchmarks", _HERE / "__init__.py", submodule_search_locations=[str(_HERE)]
    )
    sys.modules["benchmarks"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["benchmarks"])

from benchmarks.common import CONUS_DEFAULT, HERE, ROOT, configure_threads, log, threads

if __name__ == "__main__":
    configure_threads(sys.argv[1:])  # before anything imports numpy


def snapshot_package(stack: contextlib.ExitStack) -> None:
    """Measure a copy of the source tree taken now, when cloudmotion is installed from this checkout.

    Others may edit ``cloudmotion/`` while a run takes its minutes; the copy (with
    ``configs/`` as ``cloudmotion.presets``) goes first on ``sys.path`` and ``PYTHONPATH``,
    so the in-process calls and every command-line run use the same code.
    """
    import importlib.util

    from benchmarks.clirun import cloudmotion_cmd

    spec = importlib.util.find_spec("cloudmotion")
    origin = Path(spec.origin).resolve() if spec and spec.origin else None
    if origin is None or origin.parent != (ROOT / "cloudmotion").resolve():
        return  # a regular install: nothing changes under our feet
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cloudmotion-snapshot-")))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "cloudmotion", tmp / "cloudmotion", ignore=ignore)
    if (ROOT / "configs").is_dir() and not (tmp / "cloudmotion" / "presets").exists():
        shutil.copytree(ROOT / "configs", tmp / "cloudmotion" / "presets", ignore=ignore)
    sys.path.insert(0, str(tmp))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")]))
    import cloudmotion

    assert Path(cloudmotion.__file__).resolve().is_relative_to(tmp.resolve()), cloudmotion.__file__
    probe = subprocess.run([*cloudmotion_cmd(), "--version"], capture_output=True, text=True, check=False)
    check = subprocess.run(
        [sys.executable, "-P", "-c", "import cloudmotion; print(cloudmotion.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert probe.returncode == 0 and Path(check).resolve().is_relative_to(tmp.resolve()), (probe.stderr, check)
    log(f"measuring a snapshot of cloudmotion/ taken at start ({tmp})")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced run (a few minutes)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="report path (default benchmarks/RESULTS.md; with --quick benchmarks/out/RESULTS-quick.md)",
    )
    p.add_argument(
        "--conus",
        type=Path,
        default=CONUS_DEFAULT,
        help="GOES-16 CONUS band-16 L1b netCDF (default ../shared/sample_goes/...)",
    )
    p.add_argument("--workdir", type=Path, default=None, help="folder for the temporary frames (default: a temp dir)")
    p.add_argument("--threads", type=int, default=threads(), help="threads for every library (default: all cores)")
    p.add_argument(
        "--no-snapshot",
        action="store_true",
        help="measure the checkout's cloudmotion/ live instead of a copy taken at start",
    )
    p.add_argument(
        "--report-from",
        type=Path,
        default=None,
        metavar="PICKLE",
        help="only rebuild the report from the measurements a previous run saved in benchmarks/out/",
    )
    p.add_argument("--peer-cli", nargs=4, metavar=("METHOD", "A", "B", "OUT"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def measure(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    """Every section, in order; the measurements as the state the report is built from."""
    from benchmarks.accuracy import (
        accuracy,
        check_conventions,
        default_sigma,
        flag_quality,
        prefilter_sweep,
    )
    from benchmarks.clirun import cli_runs
    from benchmarks.data import load_conus, make_textures
    from benchmarks.throughput import throughput

    conus_path = args.conus if args.conus and args.conus.exists() else None
    if conus_path is None:
        log(f"CONUS file not found at {args.conus}: CONUS parts skipped")
    conus = load_conus(conus_path)
    log("checking sign conventions")
    state = {"quick": args.quick, "conventions": check_conventions()}
    textures = make_textures(args.quick, conus)
    state.update(
        textures=textures, scores=accuracy(textures, args.quick), sigma_scores=prefilter_sweep(textures, args.quick)
    )
    log("throughput")
    state["tp"] = throughput(conus, args.quick)
    log("flag quality")
    state["flags"] = flag_quality(textures, args.quick)
    if args.workdir:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cloudmotion-bench-")))
    state["cli"] = cli_runs(conus, conus_path, work, args.quick)
    state["sigma_default"] = default_sigma()
    return state


def main(argv: list[str] | None = None) -> int:
    """Run every section and write the report."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.peer_cli:
        from benchmarks.peers import peer_cli

        peer_cli(*args.peer_cli)
        return 0
    from benchmarks.machine import loadavg, machine_info, versions
    from benchmarks.report import write_report

    if args.report_from:
        with open(args.report_from, "rb") as fh:
            state = pickle.load(fh)  # a file this script wrote
        return write_report(state, args.out)
    t0, load_start = time.perf_counter(), loadavg()
    versions_start = versions()
    with contextlib.ExitStack() as stack:
        if not args.no_snapshot:
            snapshot_package(stack)
        state = measure(args, stack)
    state.update(
        elapsed=time.perf_counter() - t0,
        finished=dt.datetime.now(dt.UTC),
        machine=machine_info(load_start),
        versions_end=versions(),
        versions_start=versions_start,
        snapshot=not args.no_snapshot,
    )
    state["versions"] = versions_start if state["snapshot"] else state["versions_end"]
    pkl = HERE / "out" / ("state-quick.pkl" if args.quick else "state.pkl")
    pkl.parent.mkdir(parents=True, exist_ok=True)
    with open(pkl, "wb") as fh:
        pickle.dump(state, fh)
    log(f"measurements saved to {pkl} (rebuild the report with --report-from)")
    return write_report(state, args.out)


if __name__ == "__main__":
    sys.exit(main())
