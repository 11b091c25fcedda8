"""``max_error`` in px or m/s: parsing, the default's resolution, per-vector conversion, refusals."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from support import GOES16_WKT, write_frame

from cloudmotion.geo import pixel_size
from cloudmotion.settings.config import resolve_settings
from cloudmotion.settings.params import SettingError, Speed, TrackParams, error_limit_px
from cloudmotion.tools.known_motion import uniform_field, warp

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("0.3", 0.3),
        ("0.3px", 0.3),
        (" 0.5 px", 0.5),
        (1, 1.0),
        (0.25, 0.25),
        ("2.5m/s", Speed(2.5)),
        ("3 m/s", Speed(3.0)),
    ],
)
def test_max_error_takes_pixels_or_a_speed(given, expected):
    assert TrackParams(max_error=given).max_error == expected


@pytest.mark.parametrize("bad", ["2.5furlongs", "-1m/s", "-0.3px", "fast"])
def test_bad_max_error_is_refused_naming_the_setting(bad):
    with pytest.raises(SettingError) as exc:
        TrackParams(max_error=bad)
    assert exc.value.name == "max_error"


def test_config_file_accepts_a_speed(tmp_path):
    cfg = tmp_path / "radar.toml"
    cfg.write_text('max_error = "1.5m/s"\nwindow = 48\n')
    assert resolve_settings({}, str(cfg)).params.max_error == Speed(1.5)
    cfg.write_text("max_error = 0.4\n")
    assert resolve_settings({}, str(cfg)).params.max_error == 0.4


def test_default_is_two_metres_per_second_where_known_else_point_three_px():
    assert error_limit_px(None) == 0.3
    scale = np.array([300.0 / 2000.0, 300.0 / 250.0, np.nan])  # 2 km IR, 250 m radar, off the Earth
    np.testing.assert_allclose(error_limit_px(None, scale), [0.3, 2.4, 0.3])
    np.testing.assert_allclose(error_limit_px(Speed(2.5), scale[:2]), [0.375, 3.0])
    assert error_limit_px(0.2, scale) == 0.2  # px stays px
    with pytest.raises(SettingError, match="speed"):
        error_limit_px(Speed(2.5))


@pytest.fixture
def pair(radiance):
    return radiance, warp(radiance, *uniform_field(radiance.shape, 1.6, -0.7))


def _frames(tmp_path, pair, *, crs=GOES16_WKT, times=True):
    a, b = pair
    return [
        write_frame(tmp_path / f"f{i}.tif", x, crs=crs, time=T0 + timedelta(minutes=5 * i) if times else None)
        for i, x in enumerate((a, b))
    ]


def _table(text: str) -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(io.StringIO(text)))
    return {
        k: np.array([float(r[k]) if r[k] not in ("", "nan") else np.nan for r in rows])
        for k in ("row", "col", "ee", "flag")
    }


def test_speed_threshold_is_converted_per_vector_with_the_local_pixel_size(run, tmp_path, pair):
    frames = _frames(tmp_path, pair)
    code, out, _ = run("track", *frames, "--max-error", "0")
    assert code == 0
    t = _table(out)
    along_c, along_r = pixel_size(t["row"], t["col"], transform=_transform(frames[0]), crs_wkt=GOES16_WKT)
    size = np.sqrt(along_c * along_r)
    assert np.nanmax(size) / np.nanmin(size) > 1.001  # the ground size does vary across the frame
    speed = float(np.nanmedian(t["ee"] * size / 300.0))  # a threshold that splits the vectors
    code, out, err = run("track", *frames, "--max-error", f"{speed:.6f}m/s", "-v")
    assert code == 0
    got = _table(out)
    limit = speed * 300.0 / size
    clear = np.isfinite(t["ee"]) & (np.abs(t["ee"] - limit) > 2e-4)  # away from the CSV's rounding of ee
    low = (got["flag"].astype(int) & 2) > 0
    assert 0.2 < low[clear].mean() < 0.8
    assert np.array_equal(low[clear], (t["ee"] > limit)[clear])
    assert " m/s (--max-error) = 0.01" in err and "px at the templates' pixel sizes" in err


def test_speed_without_crs_uses_pixel_size_and_matches_the_same_threshold_in_px(run, tmp_path, pair):
    frames = _frames(tmp_path, pair, crs=None)
    code, out_px, _ = run("track", *frames, "--max-error", "0.012px", "--pixel-size", "2000")
    assert code == 0
    code, out_ms, err = run("track", *frames, "--max-error", "0.08m/s", "--pixel-size", "2000", "-v")
    assert code == 0  # 0.08 m/s * 300 s / 2000 m = 0.012 px
    flags_px, flags_ms = _table(out_px)["flag"], _table(out_ms)["flag"]
    assert np.array_equal(flags_px, flags_ms)
    assert 0 < np.mean((flags_px.astype(int) & 2) > 0) < 1
    assert "max_error 0.08 m/s (--max-error) = 0.012-0.012 px" in err


def test_default_resolves_to_a_speed_when_time_step_and_pixel_size_are_known(run, tmp_path, pair):
    code, _, err = run("track", *_frames(tmp_path, pair), "-v")
    assert code == 0
    assert "max_error 2 m/s (default) = " in err
    code, _, err = run("track", *_frames(tmp_path, pair), "-v", "--max-error", "0.3px")
    assert "max_error 0.3 px (--max-error)" in err


def test_default_falls_back_to_pixels_without_a_time_step(run, tmp_path, pair):
    code, _, err = run("track", *_frames(tmp_path, pair, times=False), "-v")
    assert code == 0
    assert "max_error 0.3 px (default: the pair's time step or pixel size is unknown)" in err


def test_speed_without_a_time_step_is_refused_naming_max_error(run, tmp_path, pair):
    out = tmp_path / "v.csv"
    code, _, err = run("track", *_frames(tmp_path, pair, times=False), "--max-error", "2.5m/s", "-o", out)
    assert code == 2
    assert "--max-error 2.5m/s" in err and "time step" in err
    assert "Traceback" not in err and not out.exists()


def test_speed_without_a_crs_or_pixel_size_is_refused_naming_max_error(run, tmp_path, pair):
    code, _, err = run("track", *_frames(tmp_path, pair, crs=None), "--max-error", "2.5m/s")
    assert code == 2
    assert "--max-error 2.5m/s" in err and "pixel size" in err
    code, _, _ = run("track", *_frames(tmp_path, pair, crs=None), "--max-error", "2.5m/s", "--dt", "300")
    assert code == 2  # a time step alone is not enough


def _transform(path):
    import rasterio

    with rasterio.open(path) as ds:
        return tuple(ds.transform)[:6]


def test_library_refuses_a_speed_without_a_scale(radiance):
    from cloudmotion import track_pair

    with pytest.raises(SettingError, match="max_error"):
        track_pair(radiance[:128, :128], radiance[:128, :128], max_error="2m/s")
    mf = track_pair(radiance[:128, :128], radiance[:128, :128], max_error="2m/s", px_per_mps=0.15)
    np.testing.assert_allclose(mf.ee_limit, 0.3)
    assert track_pair(radiance[:128, :128], radiance[:128, :128]).ee_limit is None  # the setting's px value applies


def test_outputs_record_a_speed_threshold_as_given(run, tmp_path, pair):
    import json

    import rasterio

    out = tmp_path / "v.tif"
    code, _, err = run("track", *_frames(tmp_path, pair), "--max-error", "2.5m/s", "-o", out)
    assert code == 0, err
    with rasterio.open(out) as ds:
        settings = json.loads(ds.tags()["CLOUDMOTION_SETTINGS"])
    assert settings["max_error"] == "2.5m/s"
    assert TrackParams(max_error=settings["max_error"]).max_error == Speed(2.5)  # reads back as it was
