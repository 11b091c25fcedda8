"""GeoTIFF output: the vector grid, one float32 band per gridded column."""

from __future__ import annotations

import numpy as np

from cloudmotion.files.atomic import atomic_path
from cloudmotion.files.gdal_errors import capture_write_errors, verify_geotiff
from cloudmotion.files.times import format_iso
from cloudmotion.formats.writers import Writer
from cloudmotion.model import COLUMNS, Vectors

__all__ = ["GEOTIFF_BANDS", "WRITER", "grid_transform", "write_geotiff"]

GEOTIFF_BANDS = {c.name: c.description for c in COLUMNS if c.grid}
"""GeoTIFF band names and descriptions, in band order."""

BAND_UNITS = {
    "dx": "px",
    "dy": "px",
    "u": "m/s",
    "v": "m/s",
    "speed": "m/s",
    "direction": "degree",
    "corr": "1",
    "quality": "1",
    "flag": "1",
    "ee": "px",
    "ee_speed": "m/s",
    "cloud_fraction": "1",
}
"""Each band's unit (GDAL band unit type); "1" for dimensionless quantities."""


def grid_transform(vectors: Vectors):
    """Affine transform of the vector grid: each cell centred on its vector's origin.

    The frame's pixel-corner transform (identity without one) composed with the grid's
    origin (the first vector's template centre) and its step in frame pixels.

    Returns
    -------
    affine.Affine
    """
    from affine import Affine

    base = Affine(*vectors.transform[:6]) if vectors.transform is not None else Affine.identity()
    step = vectors.step
    r0 = float(vectors.row[0])
    c0 = float(vectors.col[0])
    return base @ Affine.translation(c0 + 0.5 - step / 2.0, r0 + 0.5 - step / 2.0) @ Affine.scale(step)


def write_geotiff(path: str, vectors: Vectors) -> None:
    """Write the vector grid as a float32 GeoTIFF, one described band per quantity, atomically.

    Bands follow :data:`GEOTIFF_BANDS`; NoData is NaN; tiled and deflate-compressed; the
    CRS is copied from the input WKT; times go to ``TIME_A``/``TIME_B`` tags (none for untimed frames), the template
    geometry to ``WINDOW``/``STEP``; each band has its unit (:data:`BAND_UNITS`); the
    tool's version and the settings used go to ``CLOUDMOTION_VERSION`` and
    ``CLOUDMOTION_SETTINGS`` (JSON).
    """
    import rasterio

    from cloudmotion.settings.provenance import provenance, settings_json

    record = vectors.extra.get("provenance") or provenance()
    ny, nx = vectors.shape
    stack = np.stack([vectors.values[k].astype(np.float32).reshape(ny, nx) for k in GEOTIFF_BANDS])
    block = 256 if max(ny, nx) > 256 else 16 * max(1, int(np.ceil(max(ny, nx) / 16)))
    profile = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": len(GEOTIFF_BANDS),
        "dtype": "float32",
        "nodata": np.nan,
        "transform": grid_transform(vectors),
        "crs": vectors.crs_wkt or None,
        "tiled": True,
        "blockxsize": block,
        "blockysize": block,
        "compress": "deflate",
        "predictor": 3,
    }

    def verify(tmp: str) -> None:
        # tags written whatever the frames hold (untimed frames get no TIME_A/TIME_B)
        verify_geotiff(tmp, path, count=len(GEOTIFF_BANDS), shape=(ny, nx), tags=("WINDOW", "CLOUDMOTION_SETTINGS"))

    # GDAL reports a full disk at close through its error handler, not always as an exception
    with atomic_path(path, verify) as tmp, capture_write_errors(path), rasterio.open(tmp, "w", **profile) as ds:
        ds.write(stack)
        for i, (name, desc) in enumerate(GEOTIFF_BANDS.items(), start=1):
            ds.set_band_description(i, name)
            ds.set_band_unit(i, BAND_UNITS.get(name, ""))
            ds.update_tags(i, description=desc)
        times = {"TIME_A": format_iso(vectors.time_a), "TIME_B": format_iso(vectors.time_b)}
        ds.update_tags(
            **{key: value for key, value in times.items() if value},
            WINDOW=str(vectors.window),
            STEP=str(vectors.step),
            SOFTWARE=f"cloudmotion {record['version']}",
            CLOUDMOTION_VERSION=record["version"],
            CLOUDMOTION_SETTINGS=settings_json(record),
        )


WRITER = Writer(
    name="tif",
    suffixes=(".tif", ".tiff"),
    write=write_geotiff,
    per_pair=True,
    description="vector grid, one band per quantity, georeferenced",
)
