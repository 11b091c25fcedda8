"""Answers at sites: calibration of the site ensemble and of the site-wind uncertainty, and timing,
printed as Markdown for benchmarks/RESULTS.md.

Generator (seeded, ``make_sequence``): the first sample frame (real GOES-17 band-13 radiance,
500 x 500 px, smoothed by a 1 px Gaussian) is moved by a steady flow, a vortex of 3 px per
interval at 100 px plus a drift of (1.5, -0.7) px per interval (``synth --motion
vortex:3,100+uniform:1.5,-0.7``), frame after frame; after each move a growth-and-decay field
is added: spatially correlated Gaussian noise (``known_motion.correlated_noise``, correlation
length 6 px) of standard deviation ``level`` times the texture's, a fresh draw per frame, so
the clouds' own change accumulates as a random walk along the flow (its standard deviation
grows as sqrt(lead)). Two levels: 2 % and 5 %. Frames are 10 minutes apart.

1. Ensemble: 12 frames; the site nowcast (``run_site_nowcast``: 20 members, value noise
   fitted on the two one-step nowcasts of frames 0-3) is issued from frames 0-3 and from
   frames 2-5 at 600 random sites (20 px from the border), leads 10-60 min, and scored
   against the generated frames at the valid times: spread-skill ratio, p10-p90 coverage,
   ensemble CRPS against the unperturbed member's MAE, per lead.
2. Site winds: a pair moved by a uniform field (2.3, -1.4) px and by a sheared field
   (``vortex_shear_field``: shear 2 px across the frame, vortex 3 px) with 1 % noise; the
   winds of 500 random sites in px (``site_means`` on dx, dy with sigma = ee) against the
   known field at the sites: RMS error length / mean predicted uncertainty.
3. Timing: 1,000 sites x 12 leads x 50 members on the sample frame, motion field given
   (``site_ensemble``), median of 5 runs after a warm-up; peak traced memory of the site
   ensemble against the plain 12-lead frame extrapolation (``tracemalloc``).

Usage: ``python benchmarks/sites.py > part.md``
"""

from __future__ import annotations

import glob
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import numpy as np
import rasterio
from scipy import ndimage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = min(glob.glob(os.path.join(ROOT, "sample_data", "*.tif")))
sys.path.insert(0, ROOT)
T0 = datetime(2020, 1, 4, 3, 0, tzinfo=UTC)


def texture() -> tuple[np.ndarray, dict]:
    with rasterio.open(SAMPLE) as ds:
        return ndimage.gaussian_filter(ds.read(1).astype(np.float64), 1.0), ds.profile


def flow(shape) -> tuple[np.ndarray, np.ndarray]:
    from cloudmotion.tools.known_motion import vortex_shear_field

    dx, dy = vortex_shear_field(shape, strength=3.0, radius=100.0, shear=0.0, drift=(1.5, -0.7))
    return dx, dy


def make_sequence(n: int, level: float, seed: int) -> list[np.ndarray]:
    """``n`` frames: the texture moved by the steady flow, plus growth and decay of ``level`` per frame."""
    from cloudmotion.tools.known_motion import correlated_noise, warp

    base, _ = texture()
    dx, dy = flow(base.shape)
    frames = [base]
    for k in range(1, n):
        noise = correlated_noise(base.shape, 6.0, seed=seed * 1000 + k)
        frames.append(warp(frames[-1], dx, dy) + level * base.std() * noise)
    return frames


def write(folder: str, frames: list[np.ndarray], minutes: float = 10.0) -> list[str]:
    _, profile = texture()
    profile.update(dtype="float32", count=1)
    paths = []
    for k, f in enumerate(frames):
        t = T0 + timedelta(minutes=minutes * k)
        path = os.path.join(folder, f"f_{t:%Y%m%dT%H%M%S}.tif")
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(f.astype(np.float32), 1)
            ds.update_tags(TIFFTAG_DATETIME=f"{t:%Y:%m:%d %H:%M:%S}")
        paths.append(path)
    return paths


def sites_file(folder: str, frame: str, n: int, seed: int) -> tuple[str, np.ndarray, np.ndarray]:
    from cloudmotion.geo import geolocate

    rng = np.random.default_rng(seed)
    r, c = rng.uniform(20, 480, n), rng.uniform(20, 480, n)
    with rasterio.open(frame) as ds:
        g = geolocate(r, c, r * 0, c * 0, transform=tuple(ds.transform)[:6], crs_wkt=ds.crs.to_wkt(), dt=None)
    path = os.path.join(folder, "sites.csv")
    with open(path, "w") as fh:
        fh.write("site,lon,lat\n")
        fh.writelines(f"s{i},{x:.7f},{y:.7f}\n" for i, (x, y) in enumerate(zip(g.lon, g.lat, strict=True)))
    return path, r, c


def ensemble_part(level: float, seed: int = 7) -> list[str]:
    from cloudmotion.nowcast.site_skill import site_scores
    from cloudmotion.nowcast.sites import bilinear
    from cloudmotion.settings.params import Settings
    from cloudmotion.tools.site_nowcast import run_site_nowcast

    frames = make_sequence(12, level, seed)
    cases: dict[int, list] = {}
    sig = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write(tmp, frames)
        sites, r, c = sites_file(tmp, paths[0], 600, seed)
        for start in (0, 2):
            use = paths[start : start + 4]
            made = run_site_nowcast(use, Settings(), sites=sites, site_output=None, lead=3600, every=600,
                                    members=20, write_members=True)  # fmt: skip
            sig.append(f"{made.sigma1:.3f} / k {made.motion_scale:.2f}")
            hdr = list(made.header)
            mem = [i for i, h in enumerate(hdr) if h.startswith("m")]
            for row in made.rows:
                lead = int(row[hdr.index("lead_min")])
                site = int(row[0][1:])
                seen = bilinear(frames[start + 3 + lead // 10], r[site : site + 1], c[site : site + 1])[0]
                now = bilinear(frames[start + 3], r[site : site + 1], c[site : site + 1])[0]
                vals = [float(x) if x else np.nan for x in row[:3] * 0 + [""] * 8 + row[8:]]
                cases.setdefault(lead, []).append((vals[8], vals[9], vals[11], seen, now, [vals[j] for j in mem]))
    out = []
    for lead, cs in sorted(cases.items()):
        value, p10, p90, obs, now = (np.array([x[k] for x in cs]) for k in range(5))
        members = np.array([x[5] for x in cs]).T
        s = site_scores(value, obs, persistence=now, members=members, p10=p10, p90=p90)
        out.append(
            f"| {level:.0%} | {lead} | {s.cases} | {s.spread_skill:.2f} | {s.coverage:.2f} | {s.crps:.3f} | "
            f"{s.mae:.3f} | {1 - s.crps / s.mae:.0%} | {s.skill:.2f} |"
        )
    out.append(f"| {level:.0%} | fitted sigma1 / motion k | | {', '.join(sig)} | | | | | |")
    return out


def winds_part() -> list[str]:
    from cloudmotion.nowcast.sites import site_means
    from cloudmotion.pipeline import open_frames, pair_steps, track_frames
    from cloudmotion.settings.params import Settings
    from cloudmotion.tools.known_motion import add_noise, uniform_field, vortex_shear_field, warp

    base, _ = texture()
    rng = np.random.default_rng(11)
    sr, sc = rng.uniform(40, 460, 500), rng.uniform(40, 460, 500)
    out = []
    fields = {
        "uniform (2.3, -1.4) px": uniform_field(base.shape, 2.3, -1.4),
        "sheared + vortex": vortex_shear_field(base.shape, strength=3.0, radius=80.0, shear=2.0, drift=(1.0, 0.5)),
    }
    for name, (dx, dy) in fields.items():
        a, b = add_noise(base, warp(base, dx, dy), 0.01, seed=3)
        with tempfile.TemporaryDirectory() as tmp:
            paths = write(tmp, [a, b], minutes=5)
            settings = Settings()
            infos = open_frames(paths, settings)
            steps = pair_steps(infos, None, None)
            (v,) = list(track_frames(infos, settings, [s for s, _ in steps]))
        m = site_means(sr, sc, v.row, v.col, np.vstack([v.dx, v.dy]), v.ee, v.ee, v.good,
                       radius=2.0 * v.step, window=float(v.window))  # fmt: skip
        tx = ndimage.map_coordinates(dx, [sr, sc], order=1)
        ty = ndimage.map_coordinates(dy, [sr, sc], order=1)
        err = np.hypot(m.value[0] - tx, m.value[1] - ty)
        ok = np.isfinite(err)
        rms, pred = float(np.sqrt(np.mean(err[ok] ** 2))), float(np.mean(m.error[ok]))
        out.append(f"| {name} | {ok.sum()} | {rms:.3f} | {pred:.3f} | {rms / pred:.2f} | {np.median(m.n[ok]):.0f} |")
    return out


def timing_part() -> list[str]:
    from cloudmotion.nowcast.ensemble import site_ensemble
    from cloudmotion.nowcast.extrapolate import extrapolate, trace_spacing
    from cloudmotion.tools.site_nowcast import _coeffs

    base, _ = texture()
    dx, dy = (f.astype(np.float32) for f in flow(base.shape))
    valid = np.ones(base.shape, bool)
    rng = np.random.default_rng(5)
    r, c = rng.uniform(0, 499, 1000), rng.uniform(0, 499, 1000)
    leads = list(range(1, 13))

    def sites_run():
        coeffs, holes = _coeffs(base, valid)
        return site_ensemble(coeffs, holes, dx, dy, np.full(1000, 0.2), r, c, leads, members=50, sigma1=0.5,
                             spacing=16)  # fmt: skip

    sites_run()
    times = []
    for _ in range(5):
        t = time.perf_counter()
        sites_run()
        times.append(time.perf_counter() - t)
    lines = [(f"| 1,000 sites x 12 leads x 50 members, 500 x 500 frame (its spline included) | "
             f"{statistics.median(times):.3f} s |")]  # fmt: skip
    for name, tile in (("500 x 500", (1, 1)), ("CONUS size 1500 x 2500", (3, 5))):
        img = np.tile(base, tile)
        fx, fy = (np.tile(f, tile) for f in (dx, dy))
        ok = np.ones(img.shape, bool)
        tracemalloc.start()
        coeffs, holes = _coeffs(img, ok)
        site_ensemble(coeffs, holes, fx, fy, np.full(1000, 0.2), r, c, leads, members=50, sigma1=0.5, spacing=16)
        peak_sites = tracemalloc.get_traced_memory()[1]
        del coeffs, holes
        tracemalloc.stop()
        tracemalloc.start()
        for _ in extrapolate(img, ok, fx, fy, leads, spacing=trace_spacing(fx, fy, 12)):
            pass
        peak_frames = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        lines.append(f"| peak traced memory, {name}: site ensemble / plain 12-lead frame extrapolation | "
                     f"{peak_sites / 1e6:.1f} MB / {peak_frames / 1e6:.1f} MB |")  # fmt: skip
    return lines


def main() -> None:
    print(f"## Answers at sites ({datetime.now(UTC):%Y-%m-%d})\n")
    print(f"`python benchmarks/sites.py` on {platform.processor() or platform.machine()}, 2 shared cores.\n")
    print("Ensemble calibration (targets: spread-skill 0.8-1.25, coverage 0.7-0.9, CRPS >= 10 % below MAE):\n")
    print("| growth/decay | lead min | cases | spread/skill | p10-p90 coverage | CRPS | MAE (unperturbed) | "
          "CRPS below MAE | skill vs persistence |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for level in (0.02, 0.05):
        print("\n".join(ensemble_part(level)))
    print("\nSite winds against the known field (target: RMS / mean predicted 0.67-1.5), px per interval:\n")
    print("| field | sites | RMS error | mean predicted | ratio | median vectors used |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(winds_part()))
    print("\nTiming (target <= 1 s) and memory:\n")
    print("| what | figure |\n|---|---:|")
    print("\n".join(timing_part()))


if __name__ == "__main__":
    main()
