"""The DMW-shaped netCDF product, from track and batch, read back with netCDF4."""

from __future__ import annotations

import csv
import glob
from datetime import UTC, datetime

import numpy as np
import pytest
from l1b import goes_name, write_l1b

netCDF4 = pytest.importorskip("netCDF4")

J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair(tmp_path_factory, radiance):
    from cloudmotion.tools.known_motion import warp

    d = tmp_path_factory.mktemp("dmw")
    rad = radiance[150:300, 150:300]
    a = write_l1b(d / goes_name(13, 10), rad, lon0=-137.0, y0=0.1)
    b = write_l1b(
        d / goes_name(13, 15), warp(rad, np.full(rad.shape, 1.5), np.full(rad.shape, -0.5)), lon0=-137.0, y0=0.1
    )
    return a, b


def _csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {
        k: np.array([float(r[k]) if r[k] else np.nan for r in rows]) for k in rows[0] if k not in ("time_a", "time_b")
    }


def test_dmw_file_matches_the_csv(pair, tmp_path, run):
    a, b = pair
    code, _, err = run(
        "track", a, b, "-o", tmp_path / "w.dmw.nc", "-o", tmp_path / "w.csv", "--parallax", "--max-ctt", "300"
    )
    assert code == 0, err
    c = _csv(tmp_path / "w.csv")
    measured = np.isfinite(c["speed"])
    with netCDF4.Dataset(tmp_path / "w.dmw.nc") as ds:
        assert list(ds.dimensions) == ["nMeasures", "number_of_time_bounds"]
        assert ds.dimensions["nMeasures"].size == measured.sum()
        for name in (
            "lat",
            "lon",
            "wind_speed",
            "wind_direction",
            "pressure",
            "temperature",
            "DQF",
            "time_bounds",
            "expected_error",
            "quality_index",
        ):
            assert name in ds.variables, name
        units = {
            "lat": "degrees_north",
            "lon": "degrees_east",
            "wind_speed": "m s-1",
            "wind_direction": "degree",
            "pressure": "hPa",
            "temperature": "K",
            "expected_error_speed": "m s-1",
        }
        for name, unit in units.items():
            assert ds[name].units == unit, name
        std = {
            "wind_speed": "wind_speed",
            "wind_direction": "wind_from_direction",
            "eastward_wind": "eastward_wind",
            "northward_wind": "northward_wind",
            "pressure": "air_pressure",
        }
        for name, standard in std.items():
            assert ds[name].standard_name == standard
        for name in ("lat", "wind_speed", "DQF"):
            assert ds[name].dimensions == ("nMeasures",)
        got = {
            k: np.ma.filled(ds[k][:].astype(np.float64), np.nan)
            for k in ds.variables
            if ds[k].dimensions == ("nMeasures",)
        }
        assert ds.source_frames == f"{a} {b}" and ds.band == "13" and '"parallax": true' in ds.settings
        t = ds["time_bounds"][:]
    ref = {k: v[measured] for k, v in c.items()}
    # tolerance: half the CSV's last digit, or float32 storage
    for dmw, col, tol in (
        ("wind_speed", "speed", 6e-4),
        ("wind_direction", "direction", 6e-3),
        ("pressure", "pressure", 0.06),
        ("temperature", "ctt", 6e-3),
        ("expected_error", "ee", 6e-5),
        ("quality_index", "quality", 0.06),
        ("lat", "lat_corrected", 1e-5),
        ("row", "row", 0),
        ("col", "col", 0),
    ):
        want = ref[col] if col != "lat_corrected" else np.where(np.isfinite(ref[col]), ref[col], ref["lat"])
        np.testing.assert_allclose(got[dmw], want, rtol=0, atol=tol, equal_nan=True, err_msg=dmw)
    assert np.array_equal(got["DQF"], (ref["flag"] != 0).astype(float))
    assert np.isfinite(got["pressure"]).any()
    assert t.tolist() == [(datetime(2020, 1, 4, 3, m, tzinfo=UTC) - J2000).total_seconds() for m in (10, 15)]


def test_batch_writes_dmw_by_format_name(pair, tmp_path, run):
    a, b = pair
    out = tmp_path / "out"
    code, _, err = run("batch", a, b, "-o", out, "--format", "csv,dmw.nc")
    assert code == 0, err
    written = glob.glob(str(out / "**" / "*.dmw.nc"), recursive=True)
    assert len(written) == 1 and glob.glob(str(out / "**" / "*.csv"), recursive=True)
    with netCDF4.Dataset(written[0]) as ds:
        assert "wind_speed" in ds.variables and ds.dimensions["nMeasures"].size > 0
    code, _, err = run("batch", a, b, "-o", out, "--format", "csv,dmw.nc")  # complete: nothing to redo
    assert code == 0, err
