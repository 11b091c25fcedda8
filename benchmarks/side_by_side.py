"""cloudmotion and its peers side by side on the same real-texture CONUS pairs, interleaved.

One run (``python -m benchmarks.side_by_side`` from the repository root) measures, with
``--search 16`` pinned:

- per pair, in turn (cloudmotion, OpenCV DIS medium, then the OpenPIV passes in their own
  interpreter; the order of the first two alternates): wall and CPU seconds, vectors/s,
  and accuracy against the known warp at cloudmotion's vector origins;
- peak RSS of a fresh process tracking one pair (frames included), per method;
- the whole ``cloudmotion track A B -o v.csv`` command against the peers' equivalent
  script, interleaved, and its breakdown (:mod:`benchmarks.whole_command`: interpreter,
  imports, kernel load, read, track, geolocation, write, the command's other steps, exit);
- the command's first run on ``sample_data/`` with an empty kernel cache (with and without
  its compile helper process) against a warm one;
- a full-disk 5424 x 5424 pair: track time and peak RSS of a fresh process.

The pairs are the GOES-16 CONUS band-16 frame (``../shared/sample_goes``) warped by a
vortex + shear field with a different drift per pair, with 1 % noise. The measurements go
to ``benchmarks/out/side_by_side.json``; :mod:`benchmarks.results` writes RESULTS.md from
them (``--report-only`` rewrites it from the saved file). OpenPIV (GPL) runs only in the
interpreter given by ``--openpiv-python`` (a separate venv), never imported here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import speed
from benchmarks.common import CONUS_DEFAULT, HERE, ROOT, log
from benchmarks.whole_command import breakdown

OUT = HERE / "out" / "side_by_side.json"
SEARCH = 16
DRIFTS = ((1.0, -0.5), (-2.3, 1.7), (3.4, 2.2), (-0.6, -3.1), (2.0, 0.8), (-3.2, -1.4), (0.4, 2.9))

PIV_SCRIPT = r"""
import contextlib, io, json, sys, time, warnings
import numpy as np
from openpiv import pyprocess, windef
from openpiv.settings import PIVSettings
a, b = (np.load(p).astype(np.float64) for p in sys.argv[1:3])
for x in (a, b):
    x[~np.isfinite(x)] = np.nanmean(x)
out = {}
def timed(name, fn):
    t, c = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fn()
    out[name] = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c}
    return res
u, v, _ = timed("OpenPIV single pass", lambda: pyprocess.extended_search_area_piv(
    a, b, window_size=32, overlap=16, sig2noise_method="peak2peak", use_vectorized=True))
np.save(sys.argv[3] + "_single.npy", np.stack([np.asarray(u, float), np.asarray(v, float)]))
s = PIVSettings(windowsizes=(64, 32, 32), overlap=(32, 16, 16), num_iterations=3)
x, y, u, v, flags = timed("OpenPIV windef 64-32-32", lambda: windef.simple_multipass(a, b, s))
np.save(sys.argv[3] + "_windef.npy", np.stack([np.asarray(u, float), -np.asarray(v, float),
        np.asarray(flags, bool).astype(float)]))
with open("/proc/self/status") as fh:
    out["hwm_mib"] = next(int(l.split()[1]) / 1024 for l in fh if l.startswith("VmHWM:"))
print(json.dumps(out))
"""


def conus_pairs(path: Path, count: int) -> tuple[list, np.ndarray]:
    """``count`` (frame A, frame B, field) pairs of CONUS texture, 1 % noise, and the validity."""
    from cloudmotion.tools.known_motion import vortex_shear_field

    image, valid = speed.read_conus(path)
    spread = float(np.std(image[valid]))
    pairs = []
    for i, drift in enumerate(DRIFTS[:count]):
        field = vortex_shear_field(
            image.shape, strength=4.0, radius=120.0, shear=0.006 * image.shape[0] / 2, drift=drift
        )
        a, b = speed.make_pair(image, valid, field)
        rng = np.random.default_rng(100 + i)
        a = a + np.float32(0.01 * spread) * rng.standard_normal(a.shape, dtype=np.float32)
        b = b + np.float32(0.01 * spread) * rng.standard_normal(b.shape, dtype=np.float32)
        pairs.append((a, b, field))
    return pairs, valid


def truth_at(field, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The known field sampled bilinearly at (row, col)."""
    import cv2

    maps = (col.astype(np.float32).reshape(1, -1), row.astype(np.float32).reshape(1, -1))
    tx = cv2.remap(field[0].astype(np.float32), *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ty = cv2.remap(field[1].astype(np.float32), *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return tx.ravel().astype(np.float64), ty.ravel().astype(np.float64)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """OpenCV DIS medium, dense, on 8-bit frames (one joint 0.5-99.5 % stretch), as benchmarks/speed.py."""
    return speed.run_dis(a, b)


def sample_flow(flow: np.ndarray, row: np.ndarray, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A dense flow sampled bilinearly at the vector origins."""
    import cv2

    maps = (col.astype(np.float32).reshape(1, -1), row.astype(np.float32).reshape(1, -1))
    fx = cv2.remap(flow[..., 0], *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    fy = cv2.remap(flow[..., 1], *maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    return fx.astype(np.float64), fy.astype(np.float64)


def rms(ex: np.ndarray, ey: np.ndarray, keep: np.ndarray) -> float:
    e = np.hypot(ex, ey)[keep & np.isfinite(ex) & np.isfinite(ey)]
    return float(np.sqrt(np.mean(e**2))) if e.size else float("nan")


def timed(fn) -> tuple[object, float, float]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def piv_scores(stem: str, shape, field, measurable_grid) -> dict:
    """RMS of the OpenPIV results at their own origins (top-left tiling, 15.5 px first centre)."""
    out = {}
    for name, suffix in (("OpenPIV single pass", "_single"), ("OpenPIV windef 64-32-32", "_windef")):
        arr = np.load(stem + suffix + ".npy")
        ny, nx = arr.shape[1:]
        rows = (np.arange(ny) * 16 + 15.5)[:, None] * np.ones((1, nx))
        cols = (np.arange(nx) * 16 + 15.5)[None, :] * np.ones((ny, 1))
        u, v = arr[0].ravel(), arr[1].ravel()  # +columns, +rows (windef's v negated back in its script)
        ok = np.isfinite(u) & np.isfinite(v)
        if arr.shape[0] > 2:
            ok &= arr[2].ravel() == 0
        tx, ty = truth_at(field, rows.ravel(), cols.ravel())
        inside = measurable_grid(rows.ravel(), cols.ravel())
        out[name] = {"rms": rms(u - tx, v - ty, ok & inside), "accepted": float(ok[inside].mean()), "vectors": u.size}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conus", type=Path, default=CONUS_DEFAULT)
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2, help="timed calls per method and pair")
    ap.add_argument("--cli-runs", type=int, default=5)
    ap.add_argument("--openpiv-python", help="interpreter of a separate venv with openpiv installed")
    ap.add_argument("--no-full-disk", action="store_true")
    ap.add_argument("--no-cold", action="store_true")
    ap.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md from the saved measurements")
    args = ap.parse_args()
    from benchmarks import results

    if args.report_only:
        return results.write(json.loads(OUT.read_text()))
    state: dict = {"load_start": os.getloadavg()[0], "started": time.time(), "search": SEARCH}
    from cloudmotion import track_pair

    pairs, valid = conus_pairs(args.conus, args.pairs)
    shape = pairs[0][0].shape
    state["pair"] = {"shape": shape, "valid": float(valid.mean()), "count": len(pairs)}
    track_pair(pairs[0][0][:256, :256], pairs[0][1][:256, :256], search=SEARCH)  # kernels loaded
    tmp = Path(tempfile.mkdtemp(prefix="cm-sbs-"))
    rec: dict[str, list] = {"cloudmotion": [], "OpenCV DIS medium": []}
    acc: dict[str, list] = {k: [] for k in rec}
    piv: list[dict] = []
    for i, (a, b, field) in enumerate(pairs):
        mf = None
        for rep in range(args.repeat):
            order = ("cloudmotion", "OpenCV DIS medium") if (i + rep) % 2 == 0 else ("OpenCV DIS medium", "cloudmotion")
            for name in order:
                if name == "cloudmotion":
                    mf, wall, cpu = timed(lambda a=a, b=b: track_pair(a, b, search=SEARCH))
                else:
                    flow, wall, cpu = timed(lambda a=a, b=b: dis_flow(a, b))
                rec[name].append({"pair": i, "wall": wall, "cpu": cpu})
        row, col = mf.row.ravel(), mf.col.ravel()
        tx, ty = truth_at(field, row, col)
        good = mf.good.ravel()
        fx, fy = sample_flow(flow, row, col)
        full = np.isfinite(mf.corr.ravel())  # templates the tracker could measure
        acc["cloudmotion"].append(
            {"rms": rms(mf.dx.ravel() - tx, mf.dy.ravel() - ty, good), "good": float(good.mean()), "n": row.size}
        )
        acc["OpenCV DIS medium"].append(
            {"rms": rms(fx - tx, fy - ty, good), "rms_all": rms(fx - tx, fy - ty, full), "n": row.size}
        )
        log(f"pair {i}: cm {rec['cloudmotion'][-1]}, DIS {rec['OpenCV DIS medium'][-1]}, acc {acc['cloudmotion'][-1]}")
        if args.openpiv_python:
            stem = str(tmp / f"p{i}")
            np.save(stem + "_a.npy", a)
            np.save(stem + "_b.npy", b)
            proc = subprocess.run(
                [args.openpiv_python, "-c", PIV_SCRIPT, stem + "_a.npy", stem + "_b.npy", stem],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode == 0:
                res = json.loads(proc.stdout.strip().splitlines()[-1])

                def inside(r, c, v=valid):
                    lo, hi = 15.5 + 2, np.array(v.shape) - 17.5
                    ok = (r >= lo) & (c >= lo) & (r <= hi[0]) & (c <= hi[1])
                    ri, ci = np.clip(r.astype(int), 0, v.shape[0] - 1), np.clip(c.astype(int), 0, v.shape[1] - 1)
                    return ok & v[ri, ci]

                res["scores"] = piv_scores(stem, shape, field, inside)
                piv.append(res)
                log(f"pair {i}: OpenPIV {res}")
            else:
                log(f"OpenPIV failed: {proc.stderr[-400:]}")
    state.update(inproc=rec, accuracy=acc, piv=piv, vectors=int(pairs[0][0].size and acc["cloudmotion"][0]["n"]))
    state["memory"] = memory_runs(pairs[0], tmp)
    state["cli"] = cli_runs(pairs[0], valid, tmp, args.cli_runs)
    try:
        state["breakdown"], state["breakdown_wall"] = breakdown(
            state["cli"]["paths"][0], state["cli"]["paths"][1], str(tmp / "bd.csv"), search=SEARCH
        )
    except RuntimeError as exc:
        log(f"breakdown failed: {exc}")
    if not args.no_cold:
        state["cold"] = cold_start()
    if not args.no_full_disk:
        state["full_disk"] = full_disk(args.conus, tmp)
    state["load_end"] = os.getloadavg()[0]
    state["finished"] = time.time()
    state["commit"] = results.measured_commit()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(state, indent=1, default=float))
    log(f"measurements saved to {OUT}")
    return results.write(state)


RSS_SCRIPT = r"""
import json, sys, time
import numpy as np
a, b = np.load(sys.argv[2]), np.load(sys.argv[3])
if sys.argv[1] == "cloudmotion":
    from cloudmotion import track_pair
    track_pair(a, b, search=16)
else:
    from benchmarks import speed
    speed.run_dis(a, b)
with open("/proc/self/status") as fh:
    print(json.dumps({"hwm_mib": next(int(l.split()[1]) / 1024 for l in fh if l.startswith("VmHWM:"))}))
"""


def memory_runs(pair, tmp: Path) -> dict:
    """Peak RSS (VmHWM) of a fresh process reading the .npy pair and tracking it once, per method."""
    pa, pb = tmp / "m_a.npy", tmp / "m_b.npy"
    np.save(pa, pair[0])
    np.save(pb, pair[1])
    out = {}
    for name in ("cloudmotion", "OpenCV DIS medium"):
        proc = subprocess.run(
            [sys.executable, "-c", RSS_SCRIPT, name, str(pa), str(pb)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        out[name] = json.loads(proc.stdout.strip().splitlines()[-1])["hwm_mib"] if proc.returncode == 0 else None
    return out


def _wait(cmd: list[str], env=None) -> dict:
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:4]} failed: {err[-400:]!r}")
    return {
        "wall": time.perf_counter() - t,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
    }


def cli_runs(pair, valid, tmp: Path, runs: int) -> dict:
    """Whole commands on the CONUS pair as GeoTIFFs, cloudmotion and DIS's equivalent script in turn."""
    from benchmarks.data import write_tif

    pa = write_tif(tmp / "a.tif", pair[0])
    pb = write_tif(tmp / "b.tif", pair[1])
    cm = [sys.executable, "-m", "cloudmotion.cli.main", "track", pa, pb, "--search", str(SEARCH)]
    cm += ["-o", str(tmp / "cm.csv"), "--overwrite", "-q"]
    dis = [sys.executable, str(HERE / "run.py"), "--peer-cli", "OpenCV DIS medium", pa, pb, str(tmp / "dis.csv")]
    _wait(cm), _wait(dis)  # warm caches
    out: dict[str, list] = {"cloudmotion": [], "OpenCV DIS medium": []}
    for i in range(runs):
        for name, cmd in (("cloudmotion", cm), ("OpenCV DIS medium", dis))[:: 1 if i % 2 == 0 else -1]:
            out[name].append(_wait(cmd))
    out["paths"] = [pa, pb]
    return out


FIRST_RUN = """
import sys
from cloudmotion.cli.main import main
if sys.argv[1] == "off":  # the same command without the helper process that compiles alongside
    from cloudmotion.motion.kernels import ahead
    ahead.arm = lambda *args, **kwargs: None
sys.exit(main(sys.argv[2:]))
"""


def _command_run(helper: str, env: dict, out: Path) -> dict:
    """One ``cloudmotion track sample_data/*.tif -o out.csv`` process: wall and CPU s (its children included)."""
    frames = sorted(str(p) for p in (ROOT / "sample_data").glob("*.tif"))
    argv = [sys.executable, "-c", FIRST_RUN, helper, "-q", "track", *frames, "-o", str(out), "--overwrite"]
    c, t = os.times(), time.perf_counter()
    subprocess.run(argv, check=True, env=env, cwd=str(ROOT))
    wall, c2 = time.perf_counter() - t, os.times()
    return {"process_wall": wall, "cpu": (c2[2] + c2[3]) - (c[2] + c[3])}


def cold_start(warm_runs: int = 3) -> dict:
    """The command on the sample frames with an empty kernel cache (a fresh install), with and
    without its compile helper, then warm (median of ``warm_runs``)."""
    import statistics

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "v.csv"
        env = {**os.environ, "NUMBA_CACHE_DIR": str(Path(tmp) / "off")}
        off = _command_run("off", env, out)
        env["NUMBA_CACHE_DIR"] = str(Path(tmp) / "on")
        cold = _command_run("on", env, out)
        warm = [_command_run("on", env, out) for _ in range(warm_runs)]
    med = {k: statistics.median(w[k] for w in warm) for k in ("process_wall", "cpu")}
    return {"cold": cold, "cold_no_helper": off, "warm": med, "warm_runs": warm_runs}


def full_disk(conus: Path, tmp: Path) -> dict:
    """A 5424 x 5424 pair of tiled CONUS texture (all valid) in a fresh process: track s and peak RSS."""
    image, valid = speed.read_conus(conus)
    tex = speed.tile_texture(image, valid, 5424).astype(np.float64)
    fa, fb = speed.make_pair(tex, np.ones(tex.shape, bool), speed.vortex(tex.shape), iterations=1)
    del tex
    pa, pb = tmp / "fd_a.npy", tmp / "fd_b.npy"
    np.save(pa, fa)
    np.save(pb, fb)
    del fa, fb
    return speed.child(["pair", str(pa), str(pb)])


if __name__ == "__main__":
    sys.exit(main())
