"""Calibration of the expected error ``ee`` on evolving scenes, radar-like frames and the radar preset.

Reports in Markdown on standard output (a dated section for ``benchmarks/RESULTS.md``):

* **Evolving satellite texture.** Real texture (``sample_data`` GOES-17 M1 C13 and a crop of
  the GOES-16 CONUS C16 frame in ``../shared/sample_goes``) warped by a vortex plus shear,
  plus a spatially correlated growth-and-decay field (correlation 4, 16 and 64 px;
  5, 10 and 20 % of the frame's standard deviation) and 1 % noise; clean and noisy warps
  without evolution for reference. Per ``ee`` decile: RMS ``|d - d_true|`` / mean ``ee``
  over vectors passing the gross tests, for all of them and for those with ``ee <= 1 px``
  (beyond, the linear error model no longer holds: a peak is found anyway and the error
  saturates), and the forward-backward check (``fb / sqrt(2)``) against the truth.
* **Radar-like frames.** Smooth echoes (dBZ) on a zero background, 0.5 dBZ steps, a 250 m
  grid, moving 19-23 px per frame (:func:`cloudmotion.tools.known_motion.radar_echoes`)
  with growth and decay of 0-4 dBZ; 5 min apart, so 1 m/s is 1.2 px. For windows 32, 48
  and 64 and thresholds 1-3 m/s: the share of echo templates (at least a quarter of the
  template's pixels with echo) that are good, the share of > 1 px errors among them, and
  the calibration.
* **2 km infrared unchanged.** Good share and RMS of the good vectors on the clean and
  1 % warps of both textures, 5 min apart on 2 km pixels (so the default is 2 m/s =
  0.3 px), this tree against a baseline tree (``--baseline DIR``, default ``/work/main``).

Usage: ``python benchmarks/evolving.py [--baseline DIR] [--quick] > section.md``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
from scipy import ndimage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import expected_error
from expected_error import flow

from cloudmotion import Flag, track_pair
from cloudmotion.tools.consistency import consistency
from cloudmotion.tools.known_motion import add_noise, evolve, radar_echoes, warp

GROSS = int(Flag.NODATA | Flag.PEAK_AT_BORDER | Flag.REFINE_FAILED | Flag.MEDIAN_OUTLIER | Flag.STATIC)
IR_CASES = [(0, 0.0, 0.0), (0, 0.0, 0.02)] + [(s, a, 0.01) for s in (4, 16, 64) for a in (0.05, 0.1, 0.2)]
RADAR_MOTIONS = ((18.0, -9.0), (-15.0, 12.0), (22.0, 6.0))
RADAR_GROWTH = (0.0, 1.0, 2.0, 4.0)
RADAR_PX_PER_MPS = 300.0 / 250.0  # 5 min on 250 m pixels
IR_PX_PER_MPS = 300.0 / 2000.0  # 5 min on 2 km pixels
RADAR_WINDOWS = ((32, 16), (48, 24), (64, 32))
RADAR_LIMITS = (0.25, 0.5, 1.0, 2.0)


GOES_DIR = os.path.join(ROOT, "..", "shared", "sample_goes")


def textures() -> list[tuple[str, np.ndarray]]:
    """The ee benchmark's textures, with the GOES files looked up in ``GOES_DIR`` (``--sample-goes``)."""
    import glob

    out = expected_error.textures()[:1]
    for path in sorted(glob.glob(os.path.join(GOES_DIR, "*RadC*.nc"))):
        x, v = expected_error.read(f"NETCDF:{path}:Rad")
        out.append(("GOES-16 C16 CONUS", expected_error.valid_block(x, v)))
    return out


def truth_error(mf, dxf, dyf) -> np.ndarray:
    c = [mf.row.ravel(), mf.col.ravel()]
    return np.hypot(
        mf.dx.ravel() - ndimage.map_coordinates(dxf, c, order=1),
        mf.dy.ravel() - ndimage.map_coordinates(dyf, c, order=1),
    )


def deciles(ee: np.ndarray, err: np.ndarray) -> list[float]:
    if ee.size < 20:
        return []
    return [
        float(np.sqrt(np.mean(err[d] ** 2)) / np.mean(ee[d])) for d in np.array_split(np.argsort(ee, kind="stable"), 10)
    ]


def span(r: list[float]) -> str:
    return f"{min(r):.2f}-{max(r):.2f}" if r else "-"


class without_smooth_term:
    """Within this block the tracker's ``ee`` leaves out the smooth residual's share (the model before it)."""

    def __enter__(self):
        from cloudmotion import track

        self.track, self.orig = track, track.expected_error

        def ee(*args, **kw):
            kw.pop("lag_cov", None)
            kw.pop("lag_noise", None)
            return self.orig(*args, **kw)

        track.expected_error = ee

    def __exit__(self, *exc):
        self.track.expected_error = self.orig


def fb_check(fwd, bwd, err: np.ndarray) -> tuple[float, float]:
    """RMS of fb/sqrt(2) over RMS true error, over the good forward vectors checked."""
    ns = {k: getattr(fwd, k) for k in ("row", "col", "dx", "dy", "flag", "ee")}
    res = consistency(SimpleNamespace(**ns), SimpleNamespace(**{k: getattr(bwd, k) for k in ns}))
    return res["rms_ratio"] or float("nan"), res["median_ratio"] or float("nan")


def ir_section(p, quick: bool) -> None:
    p("### Evolving satellite texture: RMS error / mean ee per decile\n")
    p(
        "Vortex + shear warp, growth-and-decay field of the given correlation length and amplitude "
        "(share of the frame's standard deviation), noise on both frames. Ranges are over the ten deciles "
        "(target 0.67-1.5). `fb/√2 ÷ true` is the RMS forward-backward miss over √2 against the RMS true "
        "error of the same good vectors: how much the truth-free check sees.\n"
    )
    p(
        "| texture | growth scale px | amplitude | noise | vectors | all deciles | deciles, ee ≤ 1 px "
        "| same without the smooth term | share ee > 1 px | fb/√2 ÷ true |"
    )
    p("|---|---:|---:|---:|---:|---|---|---|---:|---:|")
    for ti, (name, img) in enumerate(textures()):
        if quick and ti > 0:
            break
        dxf, dyf = flow(img.shape)
        b0 = warp(img, dxf, dyf)
        for ci, (scale, amp, noise) in enumerate(IR_CASES):
            b = evolve(b0, scale, amp, seed=10 + ci) if amp else b0
            a, b = add_noise(img, b, noise, seed=100 * ti + ci)
            mf = track_pair(a, b, max_error=0.0)
            err = truth_error(mf, dxf, dyf)
            ee = mf.ee.ravel()
            ok = ((mf.flag.ravel() & GROSS) == 0) & np.isfinite(ee) & np.isfinite(err)
            small = ok & (ee <= 1.0)
            back = track_pair(b, a, max_error=0.0)
            good = SimpleNamespace(**{k: getattr(mf, k) for k in ("row", "col", "dx", "dy", "ee")})
            good.flag = np.where(ok.reshape(mf.flag.shape), 0, 1)
            bgood = SimpleNamespace(**{k: getattr(back, k) for k in ("row", "col", "dx", "dy", "ee")})
            bgood.flag = np.where((back.flag & GROSS) == 0, 0, 1)
            rms_fb, _ = fb_check(good, bgood, err)
            with without_smooth_term():
                old = track_pair(a, b, max_error=0.0)
            oee, oerr = old.ee.ravel(), truth_error(old, dxf, dyf)
            ook = ((old.flag.ravel() & GROSS) == 0) & np.isfinite(oee) & np.isfinite(oerr) & (oee <= 1.0)
            rms_true = float(np.sqrt(np.mean(err[ok] ** 2)))
            ratio = rms_fb * float(np.mean(ee[ok])) / rms_true if rms_true > 0 else float("nan")
            p(
                f"| {name} | {scale or '-'} | {amp:.2f} | {100 * noise:.0f} % | {ok.sum()} | "
                f"{span(deciles(ee[ok], err[ok]))} | {span(deciles(ee[small], err[small]))} | "
                f"{span(deciles(oee[ook], oerr[ook]))} | "
                f"{np.mean(ee[ok] > 1):.3f} | {ratio:.2f} |"
            )
    p("")


def echo_share(a: np.ndarray, mf, window: int) -> np.ndarray:
    """Share of each template's pixels with echo in frame A."""
    frac = ndimage.uniform_filter((a > 0).astype(np.float64), window, mode="constant")
    top_r = (mf.row - (window - 1) / 2.0).astype(int) + window // 2
    top_c = (mf.col - (window - 1) / 2.0).astype(int) + window // 2
    return frac[np.clip(top_r, 0, a.shape[0] - 1), np.clip(top_c, 0, a.shape[1] - 1)].ravel()


def radar_section(p, quick: bool) -> None:
    size = 512 if quick else 1024
    p(f"### Radar-like frames ({size}² px of 250 m, 5 min apart, search 40 px)\n")
    p(
        "Echo templates: at least a quarter of the template's pixels hold echo in frame A. Good: flag 0 "
        f"with `--max-error` in m/s (1 m/s = {RADAR_PX_PER_MPS:g} px here). `> 1 px` is the share of good echo "
        "vectors off by more than 1 px; calibration is RMS error / mean ee per decile over echo vectors passing "
        "the gross tests with ee ≤ 1 px. Figures pooled over three motions (19-23 px per frame).\n"
    )
    p(
        "| window/step | growth dBZ | threshold m/s | echo templates | good | > 1 px among good | RMS good px | calibration deciles |"
    )
    p("|---|---:|---:|---:|---:|---:|---:|---|")
    for window, step in RADAR_WINDOWS:
        for growth in RADAR_GROWTH:
            runs = []
            for k, motion in enumerate(RADAR_MOTIONS[: 1 if quick else None]):
                a, b, (fx, fy) = radar_echoes((size, size), motion, growth=growth, seed=7 + k)
                mf = track_pair(a, b, window=window, step=step, search=40, max_error=0.0)
                runs.append((mf, truth_error(mf, fx, fy), echo_share(a, mf, window) >= 0.25))
            with without_smooth_term():
                olds = [
                    track_pair(
                        *radar_echoes((size, size), motion, growth=growth, seed=7 + k)[:2],
                        window=window,
                        step=step,
                        search=40,
                        max_error=0.0,
                    )
                    for k, motion in enumerate(RADAR_MOTIONS[: 1 if quick else None])
                ]
            oee = np.concatenate([m.ee.ravel() for m in olds])
            oerr = np.concatenate([e for _, e, _ in runs])
            oflag = np.concatenate([m.flag.ravel() for m in olds])
            ook = (
                ((oflag & GROSS) == 0)
                & np.isfinite(oee)
                & np.isfinite(oerr)
                & (oee <= 1)
                & np.concatenate([x for _, _, x in runs])
            )
            ee = np.concatenate([m.ee.ravel() for m, _, _ in runs])
            err = np.concatenate([e for _, e, _ in runs])
            echo = np.concatenate([x for _, _, x in runs])
            flag = np.concatenate([m.flag.ravel() for m, _, _ in runs])
            gross_ok = ((flag & GROSS) == 0) & np.isfinite(ee) & np.isfinite(err) & echo
            cal = span(deciles(ee[gross_ok & (ee <= 1)], err[gross_ok & (ee <= 1)]))
            cal += f" (without the smooth term {span(deciles(oee[ook], oerr[ook]))})"
            for limit in RADAR_LIMITS:
                good = echo & (flag == 0) & (ee <= limit * RADAR_PX_PER_MPS) & np.isfinite(err)
                share = good.sum() / max(echo.sum(), 1)
                big = float(np.mean(err[good] > 1.0)) if good.any() else float("nan")
                rms = float(np.sqrt(np.mean(err[good] ** 2))) if good.any() else float("nan")
                p(
                    f"| {window}/{step} | {growth:g} | {limit:g} | {echo.sum()} | {100 * share:.1f} % | "
                    f"{100 * big:.1f} % | {rms:.3f} | {cal if limit == RADAR_LIMITS[0] else '〃'} |"
                )
    p("")


IR_SNIPPET = """
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2])
import evolving
evolving.GOES_DIR = sys.argv[3]
from evolving import flow, textures
from cloudmotion import track_pair
from cloudmotion.tools.known_motion import add_noise, warp
from scipy import ndimage
import inspect
scale = 'px_per_mps' in inspect.signature(track_pair).parameters
out = []
for ti, (name, img) in enumerate(textures()):
    dxf, dyf = flow(img.shape)
    b0 = warp(img, dxf, dyf)
    for noise in (0.0, 0.01):
        a, b = add_noise(img, b0, noise, seed=300 + ti)
        mf = track_pair(a, b, px_per_mps=0.15) if scale else track_pair(a, b)
        c = [mf.row.ravel(), mf.col.ravel()]
        err = np.hypot(mf.dx.ravel() - ndimage.map_coordinates(dxf, c, order=1),
                       mf.dy.ravel() - ndimage.map_coordinates(dyf, c, order=1))
        good = mf.flag.ravel() == 0
        out.append([name, noise, float(good.mean()), float(np.sqrt(np.mean(err[good] ** 2)))])
print(json.dumps(out))
"""


def unchanged_section(p, baseline: str) -> None:
    p("### 2 km infrared: good share and RMS of good vectors, this tree against the baseline\n")
    p(
        f"Vortex + shear warps, 5 min apart on 2 km pixels (this tree: `px_per_mps` 0.15, so the default "
        f"2 m/s is 0.3 px); baseline `{baseline}` "
        f"(commit {_commit(baseline)}). Target: good share within ±0.5 %, RMS within +0.002 px.\n"
    )
    res = {}
    for label, tree in (("this", ROOT), ("baseline", baseline)):
        env = dict(os.environ, PYTHONPATH=tree)
        cmd = [sys.executable, "-c", IR_SNIPPET, tree, HERE, GOES_DIR]
        res[label] = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout)
    p(
        "| texture | noise | good share baseline | good share this | Δ | RMS good baseline px | RMS good this px | Δ px |"
    )
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (name, noise, g0, r0), (_, _, g1, r1) in zip(res["baseline"], res["this"], strict=True):
        p(
            f"| {name} | {100 * noise:.0f} % | {100 * g0:.2f} % | {100 * g1:.2f} % | {100 * (g1 - g0):+.2f} % | "
            f"{r0:.4f} | {r1:.4f} | {r1 - r0:+.4f} |"
        )
    p("")


def _commit(tree: str) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", tree, "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="/work/main", help="source tree of the previous release")
    ap.add_argument("--quick", action="store_true", help="one texture, one radar motion, 512 px radar frames")
    ap.add_argument("--sample-goes", default=GOES_DIR, help="folder of the GOES sample files (the CONUS texture)")
    args = ap.parse_args()
    globals()["GOES_DIR"] = args.sample_goes
    t0 = time.time()
    lines: list[str] = []

    def p(s: str = "") -> None:
        lines.append(s)
        print(s, flush=True)

    p(
        f"## Expected error on evolving scenes, radar-like frames ({datetime.now(UTC):%Y-%m-%d}, `benchmarks/evolving.py`)\n"
    )
    p(f"Commit {_commit(ROOT)}; {os.cpu_count()} cores shared.\n")
    ir_section(p, args.quick)
    radar_section(p, args.quick)
    unchanged_section(p, args.baseline)
    p(f"Run time {time.time() - t0:.0f} s.")


if __name__ == "__main__":
    main()
