"""Build ``cloudmotion/tools/data/natural_earth_50m.geojson``: coastlines and land borders.

Source: Natural Earth 1:50m vector data, version 4.1.0 (public domain,
https://www.naturalearthdata.com/about/terms-of-use/), as redistributed in TopoJSON by the
npm package ``world-atlas`` 2.x (files ``land-50m.json`` and ``countries-50m.json``;
the packaging is ISC-licensed, the data stays public domain). Nothing is fetched at run time:
the quick-looks read the GeoJSON this script writes, which ships inside the package.

Run once, by hand, when the data is to be refreshed::

    cd /tmp && npm pack world-atlas && tar xzf world-atlas-2.*.tgz
    python scripts/make_coastlines.py /tmp/package cloudmotion/tools/data/natural_earth_50m.geojson

The output is a GeoJSON FeatureCollection of two MultiLineString features, ``coastline``
(every arc of the land outline) and ``borders`` (the arcs shared by two countries, as
``topojson.mesh(countries, (a, b) => a !== b)`` draws them), in lon/lat degrees (WGS 84)
rounded to 0.01 degree (about 1 km, below a 2 km ABI pixel), consecutive repeats dropped.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np

DECIMALS = 2


def decode_arcs(topo: dict) -> list[np.ndarray]:
    """Every arc of a quantised, delta-encoded TopoJSON topology as an (n, 2) lon/lat array."""
    scale = np.asarray(topo["transform"]["scale"], dtype=float)
    shift = np.asarray(topo["transform"]["translate"], dtype=float)
    return [np.cumsum(np.asarray(arc, dtype=float), axis=0) * scale + shift for arc in topo["arcs"]]


def arc_ids(geometry: dict) -> list[int]:
    """The (unsigned) arc indices of a Polygon or MultiPolygon; ~i means arc i reversed."""
    rings = geometry.get("arcs", [])
    if geometry["type"] == "Polygon":
        rings = [rings]
    return [a if a >= 0 else ~a for polygon in rings for ring in polygon for a in ring]


def _artificial(pts: np.ndarray) -> np.ndarray:
    """Segments that are no coast: along the antimeridian cut or the south-pole edge of Antarctica."""
    on_cut = (np.abs(pts[:, 0]) >= 179.99)[1:] & (np.abs(pts[:, 0]) >= 179.99)[:-1]
    on_pole = (pts[:, 1] <= -89.9)[1:] & (pts[:, 1] <= -89.9)[:-1]
    return on_cut | on_pole


def as_lines(arcs: list[np.ndarray], ids) -> list[list[list[float]]]:
    """Arcs rounded to ``DECIMALS``, consecutive repeats dropped, split where a segment is an
    artificial edge, lines of fewer than 2 points left out."""
    lines = []
    for i in sorted(set(ids)):
        pts = np.round(arcs[i], DECIMALS)
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        pts = pts[keep]
        cuts = np.flatnonzero(_artificial(pts)) + 1 if len(pts) >= 2 else []
        for piece in np.split(pts, cuts):
            if len(piece) >= 2 and not _artificial(piece).any():
                lines.append([[round(float(x), DECIMALS), round(float(y), DECIMALS)] for x, y in piece])
    return lines


def main(package: str, output: str) -> None:
    with open(f"{package}/land-50m.json", encoding="utf-8") as f:
        land = json.load(f)
    with open(f"{package}/countries-50m.json", encoding="utf-8") as f:
        countries = json.load(f)
    coast = as_lines(
        decode_arcs(land),
        [a for g in land["objects"]["land"]["geometries"] for a in arc_ids(g)],
    )
    owners: dict[int, set] = defaultdict(set)
    for n, g in enumerate(countries["objects"]["countries"]["geometries"]):
        for a in arc_ids(g):
            owners[a].add(g.get("id", n))
    borders = as_lines(decode_arcs(countries), [a for a, who in owners.items() if len(who) >= 2])
    source = "Natural Earth 1:50m v4.1.0 (public domain), via the npm package world-atlas 2.x"
    features = [
        {
            "type": "Feature",
            "properties": {"name": name, "source": source},
            "geometry": {"type": "MultiLineString", "coordinates": lines},
        }
        for name, lines in (("coastline", coast), ("borders", borders))
    ]
    with open(output, "w", encoding="utf-8") as f:
        json.dump(
            {"type": "FeatureCollection", "features": features},
            f,
            separators=(",", ":"),
        )
    print(
        f"{output}: {len(coast)} coastline and {len(borders)} border lines, "
        f"{sum(map(len, coast)) + sum(map(len, borders))} points"
    )


if __name__ == "__main__":
    main(*sys.argv[1:3])
