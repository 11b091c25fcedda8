"""In-process speed: vectors/s of every method and cloudmotion setting on one larger real pair."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .common import log
from .data import conus_valid_crop, vortex_motion, warp_masked, warp_pair
from .peers import CM_CONFIGS, PEERS, cm_label, cm_method, run_cloudmotion
from .scoring import pooled, score
from .stages import stage_profile


@dataclass
class Throughput:
    """In-process speed of each method on one pair."""

    pair: str
    vectors: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    rms: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    masked_vps: float = np.nan
    masked_pair: str = ""


def best_time(fn: Callable[[], object], repeat: int) -> tuple[object, float]:
    """Run ``fn`` once to warm up, then ``repeat`` times; the result and the best time."""
    result = fn()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def _pair(conus) -> tuple[np.ndarray, str]:
    """Frame A of the throughput pair: the fill-free CONUS crop, or correlated noise without it."""
    from cloudmotion.tools.known_motion import correlated_noise

    if conus is not None:
        rs, cs = conus_valid_crop(conus)
        a = np.array(conus[0][rs, cs])
        return a, f"GOES-16 CONUS C16, fill-free crop {a.shape[0]}x{a.shape[1]}, vortex+shear"
    a = correlated_noise((1200, 2100), 2.0, seed=5)
    return a, "correlated noise 1200x2100 (CONUS file not found), vortex+shear"


def throughput(conus, quick: bool) -> Throughput:
    """Vectors/s of every method and cloudmotion configuration on one larger real pair."""
    a, name = _pair(conus)
    motion = vortex_motion(a.shape)
    b = warp_pair(a, motion)
    out = Throughput(pair=name)
    repeat = 1 if quick else 2
    methods = {cm_label(c): cm_method(c) for c in CM_CONFIGS} | PEERS
    for mname, fn in methods.items():
        slow = mname.startswith(("OpenPIV windef", "skimage"))
        est, secs = best_time(lambda fn=fn: fn(a, b), 1 if slow else repeat)
        out.vectors[mname] = est.n
        out.seconds[mname] = secs
        out.rms[mname] = pooled([score(est, motion, method=mname, texture=name, noise=0.0, seconds=secs)])["rms"]
        log(f"throughput: {mname}: {est.n / secs:,.0f} vectors/s")
    out.stages = stage_profile(a, b)
    if conus is not None:
        full, valid = conus[0], conus[1]
        bfull = warp_masked(full, valid, vortex_motion(full.shape, ""))
        est, secs = best_time(lambda: run_cloudmotion(full, bfull, valid, valid), repeat)
        out.masked_vps = est.n / secs
        out.masked_pair = f"whole CONUS frame {full.shape[0]}x{full.shape[1]} with its 1.3 % space fill (masked path)"
    return out
