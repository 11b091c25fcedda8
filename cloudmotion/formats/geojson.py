"""GeoJSON output: a FeatureCollection of points at the vector origins (RFC 7946)."""

from __future__ import annotations

import json

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.times import format_iso
from cloudmotion.formats.writers import Writer
from cloudmotion.model import COLUMNS, CSV_COLUMNS, Vectors

__all__ = ["WRITER", "wrap_longitude", "write_geojson"]

_DIGITS = {c.name: int(c.fmt[2:-1]) for c in COLUMNS if c.fmt.startswith("%.")}


def wrap_longitude(lon: np.ndarray) -> np.ndarray:
    """Longitudes wrapped into [-180, 180] degrees (values already inside are unchanged)."""
    lon = np.asarray(lon, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        outside = np.abs(lon) > 180.0
    if not outside.any():
        return lon
    return np.where(outside, (lon + 180.0) % 360.0 - 180.0, lon)


def write_geojson(path: str, vectors: Vectors) -> None:
    """Write the vectors as GeoJSON points in WGS 84 lon/lat, atomically.

    Every CSV column is a property (null where unknown, numbers rounded as in the CSV);
    vectors without a position on the Earth have a null geometry. The collection has a
    ``properties`` member: ``software``, ``version``, ``settings`` and the pair's times.
    """
    rounded = {}
    for name in CSV_COLUMNS[2:]:
        arr = vectors.values[name]
        if name == "lon":
            arr = wrap_longitude(arr)  # RFC 7946: [-180, 180], also across the antimeridian
        if name in _DIGITS:
            rounded[name] = [None if not np.isfinite(v) else round(float(v), _DIGITS[name]) for v in arr]
        else:  # integer columns
            rounded[name] = [None if not np.isfinite(v) else int(v) for v in np.asarray(arr, dtype=np.float64)]
    times = {"time_a": format_iso(vectors.time_a) or None, "time_b": format_iso(vectors.time_b) or None}
    features = []
    for i in range(vectors.n):
        props = dict(times)
        props.update({k: rounded[k][i] for k in CSV_COLUMNS[2:]})
        lon, lat = props["lon"], props["lat"]
        geom = None if lon is None or lat is None else {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    from cloudmotion.settings.provenance import provenance

    # the collection's own properties (RFC 7946 allows foreign members): version and settings
    doc = {
        "type": "FeatureCollection",
        "properties": {**(vectors.extra.get("provenance") or provenance()), **times},
        "features": features,
    }
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        json.dump(doc, fh, allow_nan=False, separators=(",", ":"))
        fh.write("\n")


WRITER = Writer(
    name="geojson",
    suffixes=(".geojson",),
    write=write_geojson,
    description="points at the vector origins, every column as a property",
)
