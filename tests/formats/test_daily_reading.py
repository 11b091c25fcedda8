"""Reading what is there: one GOES name parser, one reader for info and track,
palette images, frames without georeferencing, times from tags and name patterns."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from support import SAMPLE, t0, write_frame

from cloudmotion.formats.frame_times import parse_tag_time
from cloudmotion.formats.readers import open_frame, read_frame


def test_info_names_the_goes_identity_of_the_sample_frames(run):
    code, out, err = run("info", SAMPLE[0], "--json")
    assert code == 0, err
    assert json.loads(out)["frames"][0]["goes"] == {"satellite": "G17", "sector": "M1", "band": 13, "product": None}
    code, out, _ = run("info", SAMPLE[0])
    assert "goes:         satellite G17, sector M1, band 13\n" in out + "\n"


def palette_frame(path, index):
    colours = {
        0: (0, 0, 0, 255),
        1: (255, 0, 0, 255),
        2: (0, 255, 0, 255),
        3: (0, 0, 255, 255),
        4: (255, 255, 255, 255),
    }
    with rasterio.open(
        path, "w", driver="GTiff", width=index.shape[1], height=index.shape[0], count=1, dtype="uint8", nodata=4
    ) as ds:
        ds.write(index.astype("uint8"), 1)
        ds.write_colormap(1, colours)
    return str(path)


def test_palette_is_expanded_to_rgb_then_luminance(tmp_path, run):
    rng = np.random.default_rng(0)
    index = rng.integers(0, 5, (40, 60))
    path = palette_frame(tmp_path / "p.tif", index)
    info = open_frame(path)
    assert info.palette and info.channels == "luminance"
    f = read_frame(info)
    luma = np.array([0.0, 0.299 * 255, 0.587 * 255, 0.114 * 255, np.nan])[index]
    assert np.array_equal(f.valid, index != 4)  # the file's NoData is a palette index
    np.testing.assert_allclose(f.data[f.valid], luma[f.valid], rtol=1e-6)
    code, out, _ = run("info", path)
    assert code == 0 and "palette indices expanded to red, green, blue, then luminance" in out
    info_nd = open_frame(path)
    assert not read_frame(info_nd, nodata=1).valid[index == 1].any()  # --nodata is a palette index


def test_info_and_track_share_the_reader_for_rgb(tmp_path, run, radiance):
    r = np.clip((radiance[:64, :64] - radiance.min()) / np.ptp(radiance) * 255, 0, 255).astype("uint8")
    path = tmp_path / "rgb.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8", photometric="RGB") as ds:
        ds.write(np.stack([r, r // 2, 255 - r]))
    code, out, _ = run("info", path, "--json")
    assert code == 0
    facts = json.loads(out)["frames"][0]
    assert facts["channels"] == "luminance" and facts["bands"] == [1, 2, 3]
    assert facts["reading"] == "bands 1, 2, 3 reduced to luminance"
    f = read_frame(open_frame(str(path)))
    assert facts["value_mean"] == pytest.approx(float(f.data[f.valid].mean()))


def test_ppm_without_georeference_is_pixel_frames(tmp_path, run):
    rng = np.random.default_rng(1)
    path = tmp_path / "f.ppm"
    with rasterio.open(path, "w", driver="PNM", width=30, height=20, count=3, dtype="uint8") as ds:
        ds.write(rng.integers(0, 255, (3, 20, 30)).astype("uint8"))
    assert open_frame(str(path)).transform is None
    code, out, _ = run("info", path)
    assert code == 0 and "pixel size" not in out and "crs:          none (pixel coordinates)" in out


@pytest.mark.parametrize(
    ("text", "epoch", "iso"),
    [
        ("2016:09:28 14:45:00", False, "2016-09-28T14:45:00"),
        ("201609281445", False, "2016-09-28T14:45:00"),
        ("2016-09-28T14:45:00Z", False, "2016-09-28T14:45:00"),
        ("1475073900", True, "2016-09-28T14:45:00"),
        ("  1475073900 sec UTC", True, "2016-09-28T14:45:00"),
    ],
)
def test_tag_times(text, epoch, iso):
    assert parse_tag_time(text, epoch=epoch).isoformat() == iso + "+00:00"


def test_time_from_grib_valid_time_and_observation_time(tmp_path, radiance):
    a = write_frame(tmp_path / "a.tif", radiance[:64, :64])
    with rasterio.open(a, "r+") as ds:
        ds.update_tags(1, GRIB_VALID_TIME="1475073900")
    info = open_frame(a)
    assert info.time == t0(0).replace(year=2016, month=9, day=28, hour=14, minute=45)
    assert info.time_source == "GRIB_VALID_TIME"
    b = write_frame(tmp_path / "b.tif", radiance[:64, :64])
    with rasterio.open(b, "r+") as ds:
        ds.update_tags(**{"Observation time": "2016-09-28 14:50"})
    info = open_frame(b)
    assert (info.time.hour, info.time.minute, info.time_source) == (14, 50, "GDAL_METADATA Observation time")
