"""The report's prose on method and scoring, and its command-line, scaling and flag sections."""

from __future__ import annotations

from .clirun import CliResults
from .common import CM
from .tables import exponent, md_table, pct, ratio

METHOD_LINES = (
    (
        "- Grid: {window} px windows every {step} px for every method, laid out by `cloudmotion.grid.make_grid`. "
        "cloudmotion centres its grid in the frame and reports template centres in pixel index coordinates "
        "(`MotionField.row/col`). OpenPIV tiles from pixel 0 (top-left aligned: the same grid with its first window "
        "at pixel 0); its window centres in pixel index coordinates (first one 15.5) are used as its origins "
        "(OpenPIV's own `x, y` say 16.0, a pixel-edge convention, and `get_coordinates` with its default "
        "`center_on_field=True` shifts them further without moving the windows). scikit-image runs on cloudmotion's "
        "tiles; DIS is sampled bilinearly at cloudmotion's origins."
    ),
    (
        "- Truth: the known field sampled (bilinear, `cloudmotion.tools.score_vectors.sample_truth`) at each method's own "
        "origins; the statistics are `cloudmotion.tools.score_vectors.score_vectors` over the pooled vectors. Only "
        "*measurable* vectors are scored: the template moved by the true motion stays inside frame B (2 px margin). "
        "Frame B = `cloudmotion.tools.known_motion.warp(A, field)` (cubic spline, B(p + d(p)) = A(p)); noise is "
        "independent Gaussian noise of the given share of frame A's standard deviation added to both frames."
    ),
    (
        "- Fields: fractional sweep dx = 1 + f, dy = −(2 + f) for f = 0.0 … 1.0 step 0.1; shifts {large} px; "
        "vortex + shear (`vortex_shear_field`: 4 px at {radius} px from the frame centre, shear {shear} px/px along "
        "rows, drift (1, −0.5) px; the same gradients on every frame size)."
    ),
    (
        "- Accepted vectors: cloudmotion `flag == 0`; OpenPIV single pass finite values; OpenPIV windef "
        "finite values not replaced by its validation; scikit-image and DIS every finite value. Error statistics "
        'are over accepted vectors; "flagged" is the share of measurable vectors not accepted; "RMS incl. '
        'flagged" uses every finite estimate.'
    ),
    (
        "- Peers: OpenPIV `extended_search_area_piv` (circular FFT correlation, Gaussian peak fit, vectorised); "
        "OpenPIV `windef.simple_multipass` 64→32→32 px (50 % overlap, symmetric deformation, default "
        "validation); scikit-image `phase_cross_correlation(upsample_factor=20)` per tile; OpenCV DIS, "
        "medium preset, on frames scaled to 8 bit with one joint min/max. Invalid pixels are filled with the "
        "frame mean for the peers (none of them takes a mask)."
    ),
)
"""Lines of the method section, with ``{window}``, ``{step}``, ``{large}``, ``{radius}``, ``{shear}``."""


def cli_section(cli: CliResults, failed: list) -> list[str]:
    """Whole command-line runs on the CONUS pair, cloudmotion against each peer, and failed runs."""
    L = [
        "## Command-line runs (`/usr/bin/time -v`)",
        "",
        (
            "Whole processes: start-up, reading both frames, tracking, writing. cloudmotion runs `cloudmotion track "
            "A.tif B.tif -o out.csv` (its CSV includes lon/lat, u, v, speed, direction). The peers run `run.py "
            "--peer-cli METHOD A.tif B.tif out.csv`: the same reader (rasterio), the method, and cloudmotion's CSV "
            "writer (`cloudmotion.formats.csv.write_csv`; the columns a peer does not give stay empty). Best wall "
            "time of the repeats; peak RSS of that run."
        ),
        "",
    ]
    rows = []
    if cli.startup:
        rows.append([cli.startup.label, f"{cli.startup.wall:.2f}", f"{cli.startup.rss_mib:.0f}", "–", "–", "–"])
    cm_run = next((r for r in cli.conus if r.label == CM), None)
    for r in cli.conus:
        own = r is cm_run or cm_run is None
        rows.append(
            [
                f"CONUS {cli.conus_shape[0]}×{cli.conus_shape[1]} vortex pair: {r.label}",
                f"{r.wall:.2f}",
                f"{r.rss_mib:.0f}",
                f"{r.vectors:,}",
                "–" if own else ratio(r.wall / cm_run.wall),
                "–" if own else ratio(r.rss_mib / cm_run.rss_mib),
            ]
        )
    if cli.conus_nc:
        r = cli.conus_nc
        rows.append([f"CONUS: {r.label}", f"{r.wall:.2f}", f"{r.rss_mib:.0f}", f"{r.vectors:,}", "–", "–"])
    L += [md_table(["run", "wall s", "peak RSS MiB", "vectors", "wall peer/cm", "RSS peer/cm"], rows), ""]
    if failed:
        L += ["**Runs that failed** (left out of every table and fit):", ""]
        L += [f"- {r.label}: {r.note}" for r in failed] + [""]
    return L


def _scaling_rows(cli: CliResults, full_disk_side: int, start: float) -> list[list[str]]:
    """One row per size, window and full-disk run."""
    runs = (
        [(f"{mp:.2f}", r) for mp, r in cli.sizes]
        + [("", r) for _w, r in cli.windows]
        + [(f"{full_disk_side**2 / 1e6:.2f}", r) for r in cli.full_disk]
    )
    return [
        [
            r.label,
            mpx,
            f"{r.vectors:,}",
            f"{r.wall:.2f}",
            f"{r.vectors / max(r.wall - start, 1e-9):,.0f}",
            f"{r.rss_mib:.0f}",
            f"{r.median_dx:+.3f}, {r.median_dy:+.3f}",
        ]
        for mpx, r in runs
    ]


def _growth(cli: CliResults, full_disk_side: int, start: float) -> list[str]:
    """Fitted exponents of wall time and RSS against pixel count and window size."""
    fd = cli.full_disk[0] if cli.full_disk else None
    mps = [mp for mp, _ in cli.sizes] + ([full_disk_side**2 / 1e6] if fd else [])
    walls = [r.wall for _, r in cli.sizes] + ([fd.wall] if fd else [])
    rss = [r.rss_mib for _, r in cli.sizes] + ([fd.rss_mib] if fd else [])
    base_rss = cli.startup.rss_mib if cli.startup else 0.0
    L = [
        (
            f"Measured growth with pixel count (least-squares slope of log–log, sizes "
            f"{', '.join(f'{m:.2f}' for m in mps)} Mpx, fill-free): wall time ∝ Mpx^{exponent(mps, walls):.2f} "
            f"(minus the {start:.2f} s start-up: ^{exponent(mps, [w - start for w in walls]):.2f}); "
            f"peak RSS ∝ Mpx^{exponent(mps, rss):.2f} (minus the {base_rss:.0f} MiB start-up RSS: "
            f"^{exponent(mps, [r - base_rss for r in rss]):.2f})."
        )
    ]
    if len(cli.sizes) >= 2 and cli.sizes[-1][0] >= 4:
        big = [(mp, r) for mp, r in cli.sizes if mp >= 1]
        L += [
            (
                f" Between {big[0][0]:.0f} and {big[-1][0]:.0f} Mpx: wall ∝ Mpx^"
                f"{exponent([m for m, _ in big], [r.wall - start for _, r in big]):.2f}, RSS ∝ Mpx^"
                f"{exponent([m for m, _ in big], [r.rss_mib - base_rss for _, r in big]):.2f} (start-up removed)."
            )
        ]
    if cli.windows:
        ws = [w for w, _ in cli.windows]
        L += [
            "",
            (
                "Window size (same frames; step = window/2): wall ∝ window^"
                f"{exponent(ws, [r.wall - start for _, r in cli.windows]):.2f}, vectors ∝ "
                f"window^{exponent(ws, [r.vectors for _, r in cli.windows]):.2f}, time per vector ∝ window^"
                f"{exponent(ws, [(r.wall - start) / r.vectors for _, r in cli.windows]):.2f}."
            ),
        ]
    return L


def scaling_section(cli: CliResults, full_disk_side: int) -> list[str]:
    """cloudmotion's command line against image size and window size."""
    start = cli.startup.wall if cli.startup else 0.0
    L = [
        "## Scaling (cloudmotion CLI)",
        "",
        (
            "Correlated-noise frames (correlation length 2 px) shifted by (2.6, −1.3) px (exact Fourier shift), "
            'float32 GeoTIFF on the GOES-16 fixed grid with frame times, 32/16 unless stated. "Median dx, dy" '
            "checks the output."
        ),
        "",
        md_table(
            ["run", "Mpx", "vectors", "wall s", "vectors/s after start-up", "peak RSS MiB", "median dx, dy"],
            _scaling_rows(cli, full_disk_side, start),
        ),
        "",
    ]
    return L + _growth(cli, full_disk_side, start) + [""]


def flags_section(flags: list[dict]) -> list[str]:
    """cloudmotion's flags on real frames with injected faults."""
    rows = [
        [
            r["texture"],
            r["case"],
            r["n"],
            r["none"],
            "yes" if r["none_flagged"] else "**no**",
            r["bad"],
            pct(r["recall"]),
            r["fine"],
            pct(r["kept"]),
            r["mid"],
            r["good"],
            r["leak"],
            r.get("bits", ""),
        ]
        for r in flags
    ]
    return [
        "## Flag quality (cloudmotion)",
        "",
        (
            'Real frames, vortex + shear, with injected faults. Over measurable vectors: "no vector" = dx/dy NaN '
            "(always flagged if the next column says yes); recall = share of vectors off by > 1 px that are "
            "flagged; kept = share of vectors within 0.2 px that stay good (`flag == 0`); leak = good vectors off "
            "by > 1 px. Patches: unrelated correlated-noise texture pasted into B only. Stripe: NaN rows in B "
            "only. Flat blocks: the same constant value at the same place in A and B (a static featureless area, "
            "so templates straddling a block's edge see a static edge beside moving texture)."
        ),
        "",
        md_table(
            [
                "pair",
                "fault",
                "vectors",
                "no vector",
                "all flagged",
                "err > 1 px",
                "recall",
                "err < 0.2 px",
                "kept",
                "0.2–1 px",
                "good",
                "leak",
                "flag bits set (vectors)",
            ],
            rows,
        ),
        "",
    ]
