"""The accuracy measurements: sign check, every method on every pair, pre-filter sweep, flags."""

from __future__ import annotations

import time

import numpy as np

from .common import CM, NOISES, log
from .data import (
    Texture,
    add_noise,
    fault_cases,
    make_motions,
    sample_frame,
    vortex_motion,
    warp_pair,
)
from .peers import grid, methods, run_cloudmotion
from .scoring import Score, score, truth_at


def check_conventions() -> list[str]:
    """Assert that a known shift comes out with the right sign for every method.

    Uses a real GOES crop. Also checks that cloudmotion's origins are the centres of the
    library grid (``make_grid``) the harness uses for the scikit-image and DIS peers.
    Returns lines for the report.
    """
    from cloudmotion.tools.known_motion import uniform_field, warp

    # real texture: phase correlation of untapered tiles locks to 0 on smooth noise
    a = sample_frame()[:256, :256]
    sx, sy = 2.6, -1.3
    b = warp(a, *uniform_field(a.shape, sx, sy), iterations=1)
    lines = []
    for name, fn in methods().items():
        est = fn(a, b)
        mx, my = np.nanmedian(est.dx), np.nanmedian(est.dy)
        # right sign and at least half the magnitude on each axis (single-pass PIV is biased toward 0)
        assert abs(mx - sx) < 0.5 * abs(sx) and abs(my - sy) < 0.5 * abs(sy), (
            f"{name}: shift ({sx}, {sy}) measured as ({mx}, {my}): wrong sign or axis convention"
        )
        lines.append(f"{name}: true (dx, dy) = ({sx:+.2f}, {sy:+.2f}) px, median measured ({mx:+.3f}, {my:+.3f}) px")
        if name == CM:
            rows, cols = grid(a.shape).centres()
            assert np.array_equal(est.row, rows.ravel()) and np.array_equal(est.col, cols.ravel()), "origins differ"
    return lines


def _timed(fn, a, b):
    """A method's vectors and the seconds it took."""
    t0 = time.perf_counter()
    est = fn(a, b)
    return est, time.perf_counter() - t0


def accuracy(textures: list[Texture], quick: bool) -> list[Score]:
    """Run every method on every pair (texture x field x noise) and score it.

    The other cloudmotion settings run on the fractional sweep and the vortex of the
    first real texture (of every real texture in the full run).
    """
    scores: list[Score] = []
    first_real = [t.real for t in textures].index(True) if any(t.real for t in textures) else -1
    for ti, tex in enumerate(textures):
        motions = make_motions(tex.image.shape, quick)
        log(
            f"accuracy: {tex.name} ({tex.image.shape[0]}x{tex.image.shape[1]}), {len(motions)} fields x "
            f"{len(NOISES)} noise levels"
        )
        variants = tex.real and (not quick or ti == first_real)
        for mi, motion in enumerate(motions):
            clean_b = warp_pair(tex.image, motion)
            for ni, level in enumerate(NOISES):
                a, b = add_noise(tex.image, clean_b, level, seed=1000 * ti + 10 * mi + ni)
                for name, fn in methods(variants and motion.kind in ("fraction", "vortex")).items():
                    est, seconds = _timed(fn, a, b)
                    scores.append(score(est, motion, method=name, texture=tex.name, noise=level, seconds=seconds))
    return scores


def default_sigma() -> float:
    """cloudmotion's current default pre-filter sigma."""
    from cloudmotion import TrackParams

    return float(TrackParams().sigma)


def sigma_values() -> tuple[float, ...]:
    """Pre-filter sigmas compared: a fixed set plus the current default."""
    return tuple(sorted({0.0, 0.5, 1.0, 1.5, 2.0, default_sigma()}))


def prefilter_sweep(textures: list[Texture], quick: bool) -> list[Score]:
    """cloudmotion's default settings with each pre-filter sigma, on the real pairs.

    Every other pair of the fractional sweep plus the vortex, at every noise level.
    """
    scores = []
    real = [t for t in textures if t.real][: 1 if quick else None]
    for ti, tex in enumerate(real):
        log(f"pre-filter sweep: {tex.name}")
        motions = [
            m
            for m in make_motions(tex.image.shape, quick)
            if m.kind == "vortex" or (m.kind == "fraction" and round(m.frac * 10) % 2 == 0)
        ]
        for mi, motion in enumerate(motions):
            clean_b = warp_pair(tex.image, motion)
            for ni, level in enumerate(NOISES):
                a, b = add_noise(tex.image, clean_b, level, seed=5000 + 1000 * ti + 10 * mi + ni)
                for sigma in sigma_values():
                    est, seconds = _timed(lambda a, b, sigma=sigma: run_cloudmotion(a, b, sigma=sigma), a, b)
                    scores.append(
                        score(est, motion, method=f"sigma {sigma}", texture=tex.name, noise=level, seconds=seconds)
                    )
    return scores


def _flag_row(vectors, motion) -> dict:
    """Flag precision and recall of one tracked pair against the truth (measurable vectors)."""
    from cloudmotion import Flag

    tx, ty, sel = truth_at(motion, vectors)
    dx, dy, flag = vectors.dx[sel], vectors.dy[sel], vectors.flag[sel]
    e = np.hypot(dx - tx[sel], dy - ty[sel])
    fin = np.isfinite(e)
    bad = fin & (e > 1.0)
    fine = fin & (e < 0.2)
    good = flag == 0
    bits = {fl.name: int(((flag & fl) != 0).sum()) for fl in Flag if ((flag & fl) != 0).any()}
    return {
        "bits": ", ".join(f"{k} {v}" for k, v in sorted(bits.items(), key=lambda kv: -kv[1])),
        "n": int(sel.sum()),
        "none": int((~fin).sum()),
        "none_flagged": bool(np.all(flag[~fin] != 0)),
        "bad": int(bad.sum()),
        "recall": float(np.mean(~good[bad])) if bad.any() else np.nan,
        "fine": int(fine.sum()),
        "kept": float(np.mean(good[fine])) if fine.any() else np.nan,
        "leak": int((good & bad).sum()),
        "good": int(good.sum()),
        "mid": int((fin & (e >= 0.2) & (e <= 1.0)).sum()),
    }


def flag_quality(textures: list[Texture], quick: bool) -> list[dict]:
    """cloudmotion's flags against errors on real frames with injected faults."""
    rows_out = []
    for tex in [t for t in textures if t.real]:
        motion = vortex_motion(tex.image.shape)
        clean_b = warp_pair(tex.image, motion)
        for cname, fault in fault_cases(tex.image).items():
            a, b = fault(tex.image, clean_b)
            rows_out.append({"texture": tex.name, "case": cname, **_flag_row(run_cloudmotion(a, b), motion)})
    return rows_out
