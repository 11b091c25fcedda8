"""Markdown tables and number formats of the accuracy sections of the report."""

from __future__ import annotations

import re

import numpy as np

from .common import CM, NOISES
from .data import FRACTIONS, Texture
from .peers import CM_CONFIGS, PEER_NAMES, cm_label
from .scoring import Score, peak_locking, pooled, select

KIND_TITLES = {"fraction": "fractional sweep", "large": "shifts up to ±12 px", "vortex": "vortex + shear"}
_NUMERIC = re.compile(r"^[-+–]?[\d,.]*\d[\d,.]*( ?(%|×|px|s|MiB|GiB))?$|^–$")


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (cells pre-formatted); numeric columns right-aligned, pipes escaped."""

    def cell(c) -> str:
        return str(c).replace("|", "\\|")

    numeric = [
        all(_NUMERIC.match(str(r[i]).strip()) or str(r[i]).strip() == "" for r in rows) and rows
        for i in range(len(headers))
    ]
    line = "| " + " | ".join(cell(h) for h in headers) + " |"
    sep = "|" + "|".join("---:" if num else "---" for num in numeric) + "|"
    body = ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def _fmt(x: float | None, spec: str) -> str:
    """``x`` formatted, or a dash when it is missing or not finite."""
    return "–" if x is None or not np.isfinite(x) else format(x, spec)


def f4(x: float) -> str:
    """Four decimals, or a dash."""
    return _fmt(x, ".4f")


def f3(x: float) -> str:
    """Three decimals, or a dash."""
    return _fmt(x, ".3f")


def pct(x: float) -> str:
    """A share as a percentage, or a dash."""
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.1f} %"


def ratio(x: float) -> str:
    """A ratio like 12.3×, or a dash."""
    return "–" if x is None or not np.isfinite(x) else (f"{x:.1f}×" if x < 100 else f"{x:.0f}×")


def exponent(xs: list[float], ys: list[float]) -> float:
    """Slope of log(y) against log(x)."""
    ok = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(ok) < 2:
        return np.nan
    return float(np.polyfit(np.log([x for x, _ in ok]), np.log([y for _, y in ok]), 1)[0])


def accuracy_tables(scores: list[Score], textures: list[Texture]) -> tuple[str, str, dict]:
    """Headline RMS table with ratios, and the detailed per-method table.

    Also returns the pooled figures keyed by (texture, kind, noise, method).
    """
    figures: dict[tuple, dict] = {}
    head_rows, detail_rows = [], []
    methods = [CM, *PEER_NAMES]
    for tex in textures:
        for kind, title in KIND_TITLES.items():
            for level in NOISES:
                row = [tex.name, title, pct(level)]
                for m in methods:
                    sel = select(scores, texture=tex.name, kind=kind, noise=level, method=m)
                    if not sel:
                        continue
                    figures[(tex.name, kind, level, m)] = p = pooled(sel)
                    row.append(f4(p["rms"]))
                    detail_rows.append(
                        [
                            tex.name,
                            title,
                            pct(level),
                            m,
                            f4(p["rms"]),
                            f4(p["bx"]),
                            f4(p["by"]),
                            f3(p["p95"]),
                            pct(p["gt05"]),
                            pct(p["gt1"]),
                            pct(p["flagged"]),
                            f3(p["rms_all"]),
                            f"{p['n']}",
                        ]
                    )
                cm = figures.get((tex.name, kind, level, CM), {}).get("rms", np.nan)
                for m in PEER_NAMES:
                    peer = figures.get((tex.name, kind, level, m), {}).get("rms", np.nan)
                    row.append(ratio(peer / cm) if cm > 0 else "–")
                head_rows.append(row)
    head = md_table(
        ["pair", "field", "noise", *[f"RMS {m}" for m in methods], *[f"{m} / cm" for m in PEER_NAMES]], head_rows
    )
    detail = md_table(
        [
            "pair",
            "field",
            "noise",
            "method",
            "RMS px",
            "bias x",
            "bias y",
            "p95 px",
            "> 0.5 px",
            "> 1 px",
            "flagged",
            "RMS incl. flagged",
            "vectors",
        ],
        detail_rows,
    )
    return head, detail, figures


def locking_table(scores: list[Score], textures: list[Texture]) -> tuple[str, dict]:
    """Peak-locking figures per pair, noise and method."""
    rows, figs = [], {}
    methods = [CM, *PEER_NAMES]
    for tex in textures:
        for level in NOISES:
            row = [tex.name, pct(level)]
            for m in methods:
                pl = peak_locking(select(scores, texture=tex.name, noise=level, method=m))
                figs[(tex.name, level, m)] = pl
                row.append(f"{100 * pl['dev']:.0f} % / {pl['bias_curve']:.3f}" if np.isfinite(pl["dev"]) else "–")
            rows.append(row)
    return md_table(["pair", "noise", *methods], rows), figs


def _sweep_vortex_heads(first: list[str]) -> list[str]:
    """Column heads: ``first``, then RMS on the sweep and on the vortex at each noise level."""
    heads = list(first)
    for kind in ("sweep", "vortex"):
        heads += [f"RMS {kind} {pct(lv)}" for lv in NOISES]
    return heads


def fitter_table(scores: list[Score], textures: list[Texture], tp) -> str:
    """cloudmotion configurations compared on the real pairs (fractional sweep and vortex)."""
    rows = []
    for cfg in CM_CONFIGS:
        m = cm_label(cfg)
        for tex in [t for t in textures if t.real]:
            cells = []
            for kind in ("fraction", "vortex"):
                for level in NOISES:
                    sel = select(scores, texture=tex.name, kind=kind, noise=level, method=m)
                    cells.append(f4(pooled(sel)["rms"]) if sel else "–")
            if all(c == "–" for c in cells):
                continue
            locks = [peak_locking(select(scores, texture=tex.name, noise=lv, method=m)) for lv in NOISES]
            sweeps = [select(scores, texture=tex.name, kind="fraction", noise=lv, method=m) for lv in NOISES[:2]]
            bias = max((pooled(sel)["worst_bias"] for sel in sweeps if sel), default=np.nan)
            vps = tp.vectors.get(m, 0) / tp.seconds[m] if m in tp.seconds else np.nan
            rows.append(
                [
                    m,
                    tex.name,
                    *cells,
                    f4(bias),
                    f"{100 * locks[0]['dev']:.0f} %",
                    f"{vps:,.0f}" if np.isfinite(vps) else "–",
                ]
            )
    heads = _sweep_vortex_heads(["configuration", "pair"])
    heads += ["worst |bias| (0/1 %)", "hist. dev. (0 %)", "vectors/s"]
    return md_table(heads, rows)


def sigma_table(scores: list[Score], default: float) -> str:
    """RMS, worst bias and flagged share per pre-filter sigma."""
    rows = []
    for tex in dict.fromkeys(s.texture for s in scores):
        for sigma in dict.fromkeys(s.method for s in scores):
            cells = []
            for kind in ("fraction", "vortex"):
                cells += [
                    f4(pooled(select(scores, texture=tex, kind=kind, noise=lv, method=sigma))["rms"]) for lv in NOISES
                ]
            bias = pooled(select(scores, texture=tex, kind="fraction", noise=0.0, method=sigma))["worst_bias"]
            flagged = [pct(pooled(select(scores, texture=tex, noise=lv, method=sigma))["flagged"]) for lv in NOISES]
            value = float(sigma.split()[1])
            rows.append([f"{value:.1f}" + (" (default)" if value == default else ""), tex, *cells, f4(bias), *flagged])
    heads = _sweep_vortex_heads(["sigma px", "pair"])
    heads += ["worst |bias| sweep 0 %"] + [f"flagged {pct(lv)}" for lv in NOISES]
    return md_table(heads, rows)


def bias_curve_table(scores: list[Score], textures: list[Texture]) -> str:
    """Mean x error of each fractional-sweep pair (no noise): the bias as a function of f.

    The sweep moves dx = 1 + f and dy = -(2 + f); the y curve mirrors the x curve.
    """
    methods = [CM, cm_label(("gaussian", False, "bicubic")), "OpenCV DIS medium", "OpenPIV windef 64-32-32"]
    rows = []
    for tex in textures:
        for m in methods:
            sweep = sorted(select(scores, texture=tex.name, kind="fraction", noise=0.0, method=m), key=lambda s: s.frac)
            if sweep:
                rows.append([tex.name, m, *[f"{s.ex.mean():+.4f}" if s.ex.size else "–" for s in sweep]])
    return md_table(["pair", "method", *[f"f={f:.1f}" for f in FRACTIONS]], rows)
