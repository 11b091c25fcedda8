"""``track --sites F --site-output P``: cloud-motion winds at a list of sites, one row per pair
and site, beside the usual vector outputs.

The numerics are in :func:`cloudmotion.nowcast.sites.site_means`; this module places the
sites on the frame, builds the rows and writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.sites import Sites, format_cell, read_sites, write_site_rows
from cloudmotion.model import Vectors
from cloudmotion.settings.params import Settings

__all__ = ["WIND_COLUMNS", "check_site_output", "run_track_sites", "site_pixels", "site_wind_rows", "valid_at"]

WIND_COLUMNS = (
    "site",
    "lon",
    "lat",
    "time_a",
    "time_b",
    "site_u",
    "site_v",
    "site_speed",
    "site_direction",
    "site_ee_speed",
    "n_vectors",
    "radius_km",
    "cloud_top_pressure",
    "cloud_top_height",
    "reason",
)
"""Columns of a site-wind table, in order; the sites file's other columns follow."""

OUTSIDE = "outside the frame"
NODATA = "NoData at the site"


def check_site_output(sites: str | None, site_output: str | None, *, stdout_taken: bool) -> None:
    """Refuse ``--sites`` without ``--site-output`` (and the reverse), a name that is not
    ``.csv`` or ``-``, and ``-`` when standard output already carries another output."""
    if (sites is None) != (site_output is None):
        given, missing = ("--sites", "--site-output") if sites else ("--site-output", "--sites")
        raise UsageError(f"{given}: needs {missing} as well")
    if site_output is None:
        return
    if site_output != "-" and not site_output.lower().endswith(".csv"):
        raise UsageError(f"--site-output {site_output}: a site table is CSV; use .csv or - for stdout")
    if site_output == "-" and stdout_taken:
        raise UsageError("--site-output -: standard output already carries the vectors; name a .csv file")


def site_pixels(sites: Sites, transform, crs_wkt: str | None, shape: tuple[int, int], frame: str):
    """Sites' pixel indices on a frame; NaN for sites outside it.

    Raises
    ------
    DataError
        The frame has no CRS (sites are given in degrees).
    """
    from cloudmotion.geo import lonlat_to_pixel

    if not crs_wkt or transform is None:
        raise DataError(f"{frame}: no CRS; sites in degrees need a georeferenced frame")
    r, c = lonlat_to_pixel(sites.lon, sites.lat, transform=transform, crs_wkt=crs_wkt)
    out = (r < -0.5) | (r > shape[0] - 0.5) | (c < -0.5) | (c > shape[1] - 0.5)
    return np.where(out, np.nan, r), np.where(out, np.nan, c)


def valid_at(valid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether the pixel holding each site is valid (False for NaN positions: outside the frame)."""
    out = np.zeros(np.size(rows), bool)
    ok = np.isfinite(rows) & np.isfinite(cols)
    r = np.clip(np.floor(rows[ok] + 0.5).astype(int), 0, valid.shape[0] - 1)  # the edge half pixel rounds inwards
    c = np.clip(np.floor(cols[ok] + 0.5).astype(int), 0, valid.shape[1] - 1)
    out[ok] = valid[r, c]
    return out


def _km_per_px(rows, cols, transform, crs_wkt) -> np.ndarray:
    from cloudmotion.geo import pixel_size

    ok = np.isfinite(rows)
    out = np.full(rows.shape, np.nan)
    if ok.any():
        along_c, along_r = pixel_size(rows[ok], cols[ok], transform=transform, crs_wkt=crs_wkt)
        out[ok] = np.sqrt(along_c * along_r) / 1000.0
    return out


def site_wind_rows(
    vectors: Vectors,
    sites: Sites,
    rows: np.ndarray,
    cols: np.ndarray,
    valid: np.ndarray,
    *,
    radius_spacings: float,
    first: bool,
) -> list[list[str]]:
    """The rows of one pair: one per site, an empty row with its reason where there is no estimate.

    A site outside the frame gets its empty row once (``first``: the run's first pair).

    Parameters
    ----------
    vectors : Vectors
        The tracked pair (``step`` and ``window`` known).
    sites : Sites
    rows, cols : ndarray, shape (sites,)
        Site pixel indices (NaN outside the frame).
    valid : ndarray of bool, shape (sites,)
        The site's pixel holds data in frame A.
    radius_spacings : float
        Search radius in vector spacings.
    first : bool
        The run's first pair.
    """
    from cloudmotion.files.times import format_iso
    from cloudmotion.nowcast.sites import site_means

    step = float(vectors.step or 1)
    radius = radius_spacings * step
    inside = np.isfinite(rows) & valid
    r_use, c_use = np.where(inside, rows, np.nan), np.where(inside, cols, np.nan)
    values = np.vstack([vectors.u, vectors.v, vectors.pressure, vectors.height])
    m = site_means(
        r_use,
        c_use,
        vectors.row,
        vectors.col,
        values,
        vectors.ee_speed,
        vectors.ee,
        vectors.good,
        radius=radius,
        window=float(vectors.window or step),
    )
    km = _km_per_px(rows, cols, vectors.transform, vectors.crs_wkt) * radius
    u, v = m.value[0], m.value[1]
    speed = np.hypot(u, v)
    direction = np.where(speed > 0, np.degrees(np.arctan2(-u, -v)) % 360.0, np.nan)
    ta, tb = format_iso(vectors.time_a) or "", format_iso(vectors.time_b) or ""
    out = []
    for i in range(sites.n):
        if not np.isfinite(rows[i]) and not first:
            continue
        if not np.isfinite(rows[i]):
            reason = OUTSIDE
        elif not valid[i]:
            reason = NODATA
        elif m.n[i] == 0:
            reason = f"no good vector within {radius:g} px ({km[i]:.1f} km)"
        else:
            reason = ""
        cells = [sites.name[i], format_cell(sites.lon[i], "%.6f"), format_cell(sites.lat[i], "%.6f"), ta, tb]
        if reason:
            cells += [""] * 5 + ["0", format_cell(km[i], "%.2f"), "", "", reason]
        else:
            cells += [format_cell(x, f) for x, f in ((u[i], "%.3f"), (v[i], "%.3f"), (speed[i], "%.3f"))]
            cells += [format_cell(direction[i], "%.2f"), format_cell(m.error[i], "%.3f"), str(int(m.n[i]))]
            cells += [
                format_cell(km[i], "%.2f"),
                format_cell(m.value[2, i], "%.1f"),
                format_cell(m.value[3, i], "%.1f"),
            ]
            cells += [""]
        out.append(cells + list(sites.extra[i] if sites.extra else ()))
    return out


def run_track_sites(
    frames: Sequence[str],
    outputs: Sequence[str],
    settings: Settings,
    *,
    sites: str,
    site_output: str,
    stdout,
    overwrite: bool = False,
    on_pair: Callable | None = None,
    **track_args,
) -> int:
    """``track`` with winds at sites: :func:`cloudmotion.pipeline.run_track`, plus one site table.

    Everything refusable is refused before any tracking: the sites file (clashing column:
    exit 2; bad coordinates: exit 1, naming the line), the site table's name and destination.

    Returns
    -------
    int
        Rows written.
    """
    from cloudmotion.files.safety import check_not_inputs
    from cloudmotion.formats.outputs import check_destinations
    from cloudmotion.formats.readers import read_frame
    from cloudmotion.pipeline import run_track

    check_site_output(sites, site_output, stdout_taken=not outputs or "-" in outputs)
    table = read_sites(sites, WIND_COLUMNS)
    check_destinations([site_output], overwrite, "--site-output")
    check_not_inputs([site_output], list(frames) + [sites], option="--site-output")
    radius = settings.site_radius
    rows_out: list[list[str]] = []
    placed: dict = {}

    def after(i, a, b, dt, vectors) -> None:
        if "at" not in placed:
            placed["at"] = site_pixels(table, a.transform, a.crs_wkt, a.shape, a.path)
        r, c = placed["at"]
        frame = read_frame(a, nodata=settings.nodata, valid_range=settings.valid_range, dqf=settings.dqf)
        valid = valid_at(frame.valid, r, c)
        rows_out.extend(site_wind_rows(vectors, table, r, c, valid, radius_spacings=radius, first=i == 1))
        if on_pair is not None:
            on_pair(i, a, b, dt, vectors)

    run_track(frames, outputs, settings, stdout=stdout, overwrite=overwrite, on_pair=after, **track_args)
    write_site_rows(site_output, WIND_COLUMNS + table.extra_names, rows_out, stdout=stdout)
    return len(rows_out)
