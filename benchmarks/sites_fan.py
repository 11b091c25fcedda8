"""The picture in docs/sites.md: one site's forecast fan against the values observed later.

The sequence is the benchmark's (``benchmarks/sites.py``: sample texture, steady vortex plus
drift, 5 % growth and decay per 10-minute frame, seed 7); the site nowcast is issued from
frames 0-3 with 20 members at leads 10-120 min, and the site's value in the generated frames
at the valid times is drawn over it.

Usage: ``python benchmarks/sites_fan.py [docs/sites_fan.png]``
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sites as bench


def main(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cloudmotion.nowcast.sites import bilinear
    from cloudmotion.settings.params import Settings
    from cloudmotion.tools.site_nowcast import run_site_nowcast

    frames = bench.make_sequence(16, 0.05, 7)
    with tempfile.TemporaryDirectory() as tmp:
        paths = bench.write(tmp, frames)
        sites, r, c = bench.sites_file(tmp, paths[0], 40, 3)
        made = run_site_nowcast(paths[:4], Settings(), sites=sites, site_output=None, lead=7200, every=600,
                                members=20, write_members=True)  # fmt: skip
    hdr = list(made.header)
    site = "s5"
    rows = [row for row in made.rows if row[0] == site]
    lead = np.array([float(row[hdr.index("lead_min")]) for row in rows])
    get = lambda name: np.array([float(row[hdr.index(name)]) for row in rows])
    members = np.array([[float(row[i]) for i in range(len(hdr)) if hdr[i].startswith("m")] for row in rows])
    k = int(site[1:])
    seen = [bilinear(frames[3 + int(m // 10)], r[k : k + 1], c[k : k + 1])[0] for m in lead]
    now = bilinear(frames[3], r[k : k + 1], c[k : k + 1])[0]
    fig, ax = plt.subplots(figsize=(7, 3.8), dpi=100)
    ax.fill_between(lead, get("p10"), get("p90"), color="tab:blue", alpha=0.25, label="p10-p90")
    ax.plot(lead, members, color="tab:blue", lw=0.4, alpha=0.35)
    ax.plot(lead, get("p50"), color="tab:blue", lw=1.5, label="p50")
    ax.plot(lead, get("value"), color="k", lw=1.2, ls="--", label="unperturbed member")
    ax.plot(lead, seen, "o", color="tab:red", label="observed")
    ax.axhline(now, color="0.5", lw=0.8, ls=":", label="persistence")
    ax.set_xlabel("lead time, min")
    ax.set_ylabel("radiance, mW m-2 sr-1 (cm-1)-1")
    ax.set_title(f"site {site}: issued {made.issue_time:%Y-%m-%d %H:%M} UTC, 20 members")
    ax.legend(loc="best", fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "sites_fan.png"))
