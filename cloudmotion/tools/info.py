"""What the reader sees in a frame, as a dictionary of facts, and the checks of a sequence.

No printing: :func:`frame_facts` and :func:`sequence_facts` return plain dictionaries (JSON
serialisable); :func:`format_facts` renders them as text.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np

from cloudmotion.errors import DataError
from cloudmotion.files.times import format_iso
from cloudmotion.formats.alignment import check_compatible
from cloudmotion.formats.band_values import metadata_nodata
from cloudmotion.formats.readers import FrameInfo, open_frame, read_frame
from cloudmotion.motion.plateau import find_plateaus, plateau_warning

__all__ = ["format_facts", "format_sequence", "frame_facts", "sequence_facts"]


def _iso(t) -> str | None:
    return format_iso(t) or None


def _num(v) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _crs_name(crs) -> str:
    """The CRS name, or for an unnamed projected CRS its method and origin longitude."""
    name = crs.name or "unnamed"
    op = crs.coordinate_operation
    if name.lower() in ("unnamed", "unknown") and op is not None:
        lon0 = next((p.value for p in op.params if p.name.startswith("Longitude of")), None)
        name = op.method_name + (f", central meridian {lon0:g}" if lon0 is not None else "")
    return name


def _geo_facts(info: FrameInfo, wkt: bool) -> dict:
    """CRS name, pixel size at the centre (geodesic, km) and lon/lat bounds."""
    from pyproj import CRS, Geod

    from cloudmotion.geo import _lonlat, pixel_to_crs

    out: dict = {"crs": None, "pixel_size_km": None, "centre_lonlat": None, "bounds_lonlat": None}
    if info.transform is not None:
        a, b, _, d, e, _ = info.transform
        out["pixel_size_crs"] = [float(np.hypot(a, d)), float(np.hypot(b, e))]
    if not info.crs_wkt:
        return out
    crs = CRS.from_wkt(info.crs_wkt)
    out["crs"] = _crs_name(crs)
    epsg = crs.to_epsg(min_confidence=90)
    if epsg:
        out["epsg"] = epsg
    if wkt:
        out["crs_wkt"] = info.crs_wkt
    if info.transform is None:
        return out
    rows, cols = info.shape
    rc, cc = (rows - 1) / 2.0, (cols - 1) / 2.0
    # centre pixel, and the midpoints of its four edges
    r = np.array([rc, rc, rc, rc - 0.5, rc + 0.5])
    c = np.array([cc, cc - 0.5, cc + 0.5, cc, cc])
    lon, lat = _lonlat(*pixel_to_crs(r, c, info.transform), crs)
    if np.isfinite(lon).all():
        geod = crs.get_geod() or Geod(ellps="WGS84")
        _, _, width = geod.inv(lon[1], lat[1], lon[2], lat[2])
        _, _, height = geod.inv(lon[3], lat[3], lon[4], lat[4])
        out["pixel_size_km"] = [round(float(width) / 1000.0, 4), round(float(height) / 1000.0, 4)]
        out["centre_lonlat"] = [round(float(lon[0]), 5), round(float(lat[0]), 5)]
    # bounds of the geolocated part: a sample grid including the outer pixel edges
    n = 101
    rr, cc_ = np.meshgrid(np.linspace(-0.5, rows - 0.5, n), np.linspace(-0.5, cols - 0.5, n), indexing="ij")
    lon, lat = _lonlat(*pixel_to_crs(rr.ravel(), cc_.ravel(), info.transform), crs)
    ok = np.isfinite(lon)
    if ok.any():
        lon, lat = lon[ok], lat[ok]
        west, east = float(lon.min()), float(lon.max())
        shifted = lon % 360.0
        if east - west > 180 and shifted.max() - shifted.min() < east - west:  # across the antimeridian
            west, east = float(shifted.min()), float(shifted.max())
            west = west - 360 if west > 180 else west
            east = east - 360 if east > 180 else east
        out["bounds_lonlat"] = [round(west, 4), round(float(lat.min()), 4), round(east, 4), round(float(lat.max()), 4)]
        out["geolocated_fraction"] = round(float(ok.mean()), 4)
    return out


def reading_text(info: FrameInfo) -> str:
    """How the reader turns the file's bands into the one channel tracked, in words."""
    bands = ", ".join(str(b) for b in info.bands)
    if info.palette:
        return f"band {info.band}: palette indices expanded to red, green, blue, then {info.channels}"
    if info.channels:
        return f"bands {bands} reduced to {info.channels}"
    return f"using band {info.band}"


def _header(info: FrameInfo) -> tuple:
    """Header facts of the band read (driver, scale, offset, NoData, mask flags, description,
    metadata NoData); the pixels come from the reader."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(info.source) as ds:
                b = info.band
                return (
                    ds.driver,
                    float(ds.scales[b - 1]) if ds.scales else 1.0,
                    float(ds.offsets[b - 1]) if ds.offsets else 0.0,
                    ds.nodatavals[b - 1],
                    [f.name for f in ds.mask_flag_enums[b - 1]],
                    ds.descriptions[b - 1],
                    metadata_nodata(ds, list(info.bands)),
                )
    except RasterioError as exc:
        raise DataError(f"{info.path}: cannot read pixels ({exc})") from exc


def frame_facts(
    path: str, *, band: int | None = None, nodata: float | None = None, wkt: bool = False, channels: str | None = None
) -> dict:
    """Everything the reader sees in one frame.

    Parameters
    ----------
    path : str
        Frame path (GeoTIFF, GOES netCDF, ``NETCDF:file:VAR``, any GDAL raster).
    band : int, optional
        1-based band to read (default as ``track``: band 1, or red-green-blue luminance).
    channels : {"luminance", "pca", "mean"}, optional
        Channel reduction, as ``track --channels``.
    nodata : float, optional
        Extra NoData value in stored units, as ``track --nodata``.
    wkt : bool
        Include the CRS WKT (``crs_wkt``).

    Returns
    -------
    dict
        ``path``, ``source`` (what GDAL opens), ``driver``, ``shape`` [rows, cols],
        ``count`` bands, ``band`` used, ``dtype`` stored, ``scale``, ``offset``,
        ``bands`` read, ``channels`` (their reduction), ``palette``, ``reading`` (the
        reduction in words), ``nodata`` (the file's NoData value), ``mask_flags`` (GDAL mask flags of the band:
        ``all_valid``, ``per_dataset``, ``alpha``, ``nodata``), ``valid_fraction`` (of
        pixels valid after mask, NoData, NaN/inf and ``nodata``), ``value_min``,
        ``value_mean``, ``value_max`` (physical units, valid pixels), ``crs`` (name),
        ``pixel_size_crs`` [along columns, along rows] in CRS units, ``pixel_size_km``
        [along columns, along rows] geodesic at the centre pixel, ``centre_lonlat``,
        ``bounds_lonlat`` [west, south, east, north] of the geolocated pixels (degrees),
        ``time`` (ISO 8601 UTC), ``time_source`` and ``goes`` (satellite, sector, band,
        product from a GOES ABI name). Unknown values are None.

    Raises
    ------
    DataError
        Missing or unreadable file.
    """
    from cloudmotion.formats.calibration import resolve

    info = resolve(open_frame(path, band=band, channels=channels))  # what track reads (--calibrate auto)
    driver, scale, offset, file_nodata, flags, description, meta_nodata = _header(info)
    frame = read_frame(info, nodata=nodata)  # the very values and mask track uses
    vals = frame.data[frame.valid].astype(np.float64)
    facts = {
        "path": info.path,
        "source": info.source,
        "driver": driver,
        "shape": list(info.shape),
        "count": info.count,
        "band": info.band,
        "bands": list(info.bands),
        "channels": info.channels,
        "palette": info.palette,
        "reading": reading_text(info),
        "band_description": description,
        "dtype": info.dtype,
        "scale": scale,
        "offset": offset,
        "nodata": None
        if file_nodata is None
        else (float(file_nodata) if np.isfinite(file_nodata) else str(float(file_nodata))),
        "extra_nodata": nodata,
        "mask_flags": flags,
        "valid_fraction": round(float(frame.valid.mean()), 6),
        "quantity": info.quantity,
        "unit": info.unit,
        "calibration": info.calibration,
        "calibrated": info.calibrate is not None,
        "value_min": _num(vals.min()) if vals.size else None,
        "value_mean": _num(vals.mean()) if vals.size else None,
        "value_max": _num(vals.max()) if vals.size else None,
    }
    facts["metadata_nodata"] = meta_nodata or None
    facts["warnings"] = plateau_warning(find_plateaus(frame.data, frame.valid)[0])
    facts.update(_geo_facts(info, wkt))
    facts.update(time=_iso(info.time), time_source=info.time_source, goes=info.goes)
    return facts


def sequence_facts(infos: Sequence[FrameInfo]) -> dict:
    """Check that frames form one trackable sequence: same grid, times known and increasing.

    Parameters
    ----------
    infos : sequence of FrameInfo
        Headers from :func:`cloudmotion.io.open_frame`, in the order given.

    Returns
    -------
    dict
        ``ok`` (bool), ``problems`` (plain-language sentences; a problem makes ``ok``
        false), ``notes`` (things worth knowing that do not stop tracking, such as an
        unknown time or uneven steps) and ``steps_s`` (seconds between consecutive
        frames, None where unknown).
    """
    problems: list[str] = []
    notes: list[str] = []
    try:
        check_compatible(list(infos))
    except DataError as exc:
        problems.append(f"frames are not on the same grid: {exc}")
    steps: list[float | None] = []
    for a, b in itertools.pairwise(infos):
        if a.time is None or b.time is None:
            steps.append(None)
            continue
        s = (b.time - a.time).total_seconds()
        steps.append(s)
        if s <= 0:
            problems.append(
                f"frames are out of time order: {b.path} ({_iso(b.time)}) is not after {a.path} ({_iso(a.time)})"
            )
    missing = [i.path for i in infos if i.time is None]
    if missing:
        notes.append(f"no time for {', '.join(missing)}: give track --dt SECONDS for winds in m/s")
    known = [s for s in steps if s is not None and s > 0]
    if len(known) > 1 and max(known) - min(known) > 1.0:
        notes.append(f"uneven time steps ({min(known):g} to {max(known):g} s)")
    return {"ok": not problems, "frames": len(infos), "steps_s": steps, "problems": problems, "notes": notes}


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "unknown"
    if isinstance(v, float):
        return f"{v:.6g}{unit}"
    return f"{v}{unit}"


def format_facts(facts: dict) -> str:
    """Render :func:`frame_facts` output as indented ``key: value`` lines."""
    f = facts
    lines = [f["path"]]
    add = lines.append
    if f["source"] != f["path"]:
        add(f"  source:       {f['source']}")
    add(f"  driver:       {f['driver']}")
    add(
        f"  shape:        {f['shape'][0]} rows x {f['shape'][1]} cols, {f['count']} band(s), {f['reading']}"
        + (f" ({f['band_description']})" if f.get("band_description") else "")
    )
    add(
        f"  values:       stored {f['dtype']}, scale {f['scale']:.8g}, offset {f['offset']:.8g}; "
        f"valid range {_fmt(f['value_min'])} to {_fmt(f['value_max'])}, mean {_fmt(f['value_mean'])}"
    )
    if f.get("quantity") or f.get("unit"):
        how = (
            " (calibrated from radiance with the file's "
            + ("Planck constants" if "planck_fk1" in (f.get("calibration") or {}) else "kappa0")
            + ")"
            if f.get("calibrated")
            else ""
        )
        add(
            f"  quantity:     {(f.get('quantity') or 'unknown').replace('_', ' ')}, unit {f.get('unit') or 'unknown'}"
            f"{how}"
        )
    nd = f"NoData {f['nodata']}" if f["nodata"] is not None else "no NoData value"
    if f.get("metadata_nodata"):
        nd += ", GDAL_METADATA Nodata " + ", ".join(f"{v:g}" for v in f["metadata_nodata"])
    if f.get("extra_nodata") is not None:
        nd += f", --nodata {f['extra_nodata']:g}"
    add(
        f"  nodata:       {nd}; mask flags {', '.join(f['mask_flags']) or 'none'}; "
        f"valid {100 * f['valid_fraction']:.2f} %"
    )
    if f["crs"]:
        crs = f["crs"] + (f" (EPSG:{f['epsg']})" if f.get("epsg") else "")
    else:
        crs = "none (pixel coordinates)"
    add(f"  crs:          {crs}")
    if f.get("pixel_size_km"):
        w, h = f["pixel_size_km"]
        add(
            f"  pixel size:   {w:.3f} km x {h:.3f} km at the centre ({f['centre_lonlat'][0]:.4f}, "
            f"{f['centre_lonlat'][1]:.4f}) (geodesic; along columns x rows)"
        )
    elif f.get("pixel_size_crs"):
        add(f"  pixel size:   {f['pixel_size_crs'][0]:g} x {f['pixel_size_crs'][1]:g} CRS units")
    if f.get("bounds_lonlat"):
        west, south, east, north = f["bounds_lonlat"]
        extra = ""
        if f.get("geolocated_fraction", 1) < 1:
            extra = f" ({100 * f['geolocated_fraction']:.0f} % of the frame is on the Earth)"
        add(f"  bounds:       lon {west:.4f} to {east:.4f}, lat {south:.4f} to {north:.4f}{extra}")
    if f["time"]:
        add(f"  time:         {f['time']} (from {f['time_source']})")
    else:
        add("  time:         unknown (no GOES _s name or time tag; give track --name-pattern or --dt)")
    if f["goes"]:
        g = f["goes"]
        add(
            f"  goes:         satellite {g['satellite']}, sector {g['sector']}, band {_fmt(g['band'])}"
            + (f", product {g['product']}" if g.get("product") else "")
        )
    if f.get("crs_wkt"):
        add(f"  wkt:          {f['crs_wkt']}")
    if f.get("cloud"):
        lines += _cloud_lines(f["cloud"])
    return "\n".join(lines)


def format_sequence(seq: dict) -> str:
    """Render :func:`sequence_facts` output as text."""
    steps = [s for s in seq["steps_s"] if s is not None]
    if seq["ok"]:
        head = f"sequence: {seq['frames']} frames on the same grid"
        if steps:
            head += ", in time order, steps " + ", ".join(f"{s:g}" for s in seq["steps_s"] if s is not None) + " s"
    else:
        head = f"sequence: {seq['frames']} frames, NOT trackable as given"
    lines = [head] + [f"  problem: {p}" for p in seq["problems"]] + [f"  note: {n}" for n in seq["notes"]]
    return "\n".join(lines)


def _cloud_lines(c: dict) -> list[str]:
    """``info --cloud-model``: the components, the rule and the cloud share."""
    share = "unknown" if c["cloud_share"] is None else f"{100 * c['cloud_share']:.1f} %"
    if "components" not in c:
        return [f"  cloud mask:   {c['source']}; cloud share {share}"]
    how = f"; {c['rule']}" if c.get("rule") else ""
    if c.get("bic"):
        how += (
            "; chosen by BIC ("
            + ", ".join(f"{k} components {v:.6g}" for k, v in c["bic"].items())
            + f") on {c['samples']} pixels"
        )
    out = [f"  cloud model:  {c['source']}, {len(c['components'])} components{how}"]
    for i, k in enumerate(c["components"], start=1):
        mean = ", ".join(f"{m:.5g}" for m in k["mean"])
        sd = ", ".join(f"{s:.4g}" for s in k["sd"])
        out.append(
            f"    component {i}: weight {k['weight']:.3f}, mean {mean}, sd {sd}, {'cloud' if k['cloud'] else 'clear'}"
        )
    out.append(f"  cloud share:  {share} (mean cloud probability of the valid pixels)")
    return out


def describe(
    frames: Sequence[str],
    *,
    band: int | None = None,
    nodata: float | None = None,
    wkt: bool = False,
    channels: str | None = None,
    cloud_model: str | None = None,
    cloud_mask: str | None = None,
) -> tuple[list[dict], dict | None]:
    """The ``info`` command as a library call: facts per frame, and the sequence check.

    With ``cloud_model`` (``auto``, ``auto-cold``, ``auto-bright`` or a TOML file) or
    ``cloud_mask`` each frame's facts get ``cloud``: the components and the cloud share.

    Returns
    -------
    facts : list of dict
        :func:`frame_facts` per frame.
    sequence : dict or None
        :func:`sequence_facts` when there are several frames.
    """
    facts = [frame_facts(p, band=band, nodata=nodata, wkt=wkt, channels=channels) for p in frames]
    if cloud_model is not None or cloud_mask is not None:
        from cloudmotion.formats.calibration import resolve
        from cloudmotion.formats.clouds import cloud_facts, make_cloud_source

        source = make_cloud_source(cloud_model, cloud_mask, lambda i: read_frame(i, nodata=nodata))
        for f, p in zip(facts, frames, strict=True):
            info = resolve(open_frame(p, band=band, channels=channels))  # the values track fits on (K for L1b IR)
            f["cloud"] = cloud_facts(read_frame(info, nodata=nodata), source)
    seq = sequence_facts([open_frame(p, band=band, channels=channels) for p in frames]) if len(frames) > 1 else None
    return facts, seq
