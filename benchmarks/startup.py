"""Start-up cost of the command line: ``cloudmotion --help`` and ``cloudmotion track --help``.

Runs each command as a fresh process N times (after one warm-up) and prints the median wall
and CPU seconds (CPU from the children's resource usage), so the figure includes the
interpreter, the imports and click. With ``--baseline TREE`` the same commands run from
another source tree (e.g. a checkout of the previous release), alternating A B A B so that
the machine's drift hits both, and the ratio is printed pair by pair.

    python benchmarks/startup.py -n 15
    python benchmarks/startup.py -n 15 --baseline /path/to/previous/checkout
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

_RUN_FROM = (
    "import sys; sys.meta_path = [m for m in sys.meta_path if 'editable' not in repr(m).lower()]; "
    "sys.path.insert(0, {tree!r}); "
    "from cloudmotion.cli{suffix} import main; sys.exit(main())"
)


def command(tree: str | None, args: list[str]) -> list[str]:
    """The command line that runs the CLI (installed, or from a source tree) with ``args``."""
    if tree is None:
        return [sys.executable, "-c", "from cloudmotion.cli.main import main; import sys; sys.exit(main())", *args]
    import os

    suffix = ".main" if os.path.isdir(os.path.join(tree, "cloudmotion", "cli")) else ""
    return [sys.executable, "-c", _RUN_FROM.format(tree=tree, suffix=suffix), *args]


def once(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=15, help="counted runs per command")
    ap.add_argument("--baseline", help="a source tree to compare with (run from it, not installed)")
    opts = ap.parse_args()
    print("| command | wall s (median) | CPU s (median) | baseline wall s | ratio (median of pairs) |")
    print("|---|---|---|---|---|")
    for args in (["--help"], ["track", "--help"]):
        ours, base, ratios = [], [], []
        for i in range(opts.n + 1):
            a = once(command(None, args))
            b = once(command(opts.baseline, args)) if opts.baseline else None
            if i == 0:
                continue  # warm-up
            ours.append(a)
            if b is not None:
                base.append(b)
                ratios.append(a[0] / b[0])
        wall = statistics.median(w for w, _ in ours)
        cpu = statistics.median(c for _, c in ours)
        bw = f"{statistics.median(w for w, _ in base):.3f}" if base else "-"
        ratio = f"{statistics.median(ratios):.3f}" if ratios else "-"
        print(f"| cloudmotion {' '.join(args)} | {wall:.3f} | {cpu:.3f} | {bw} | {ratio} |")


if __name__ == "__main__":
    main()
