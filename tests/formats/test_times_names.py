"""Times and NoData where users keep them: nested GDAL_METADATA items, and one unambiguous
date-time stamp in a file name (trusted after --name-pattern, GOES names and tags)."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime

import numpy as np
import pytest
import rasterio
from support import t0, write_frame

from cloudmotion.batch.manifest import MANIFEST_NAME
from cloudmotion.formats.name_stamps import name_stamp
from cloudmotion.formats.readers import open_frame, read_frame
from cloudmotion.tools.known_motion import uniform_field, warp


@pytest.mark.parametrize(
    ("name", "when", "rest"),
    [
        ("201609281445_FINUTM.tif", datetime(2016, 9, 28, 14, 45), "FINUTM"),
        ("radar_20190610-000000.tif", datetime(2019, 6, 10), "radar"),
        ("comp.2019.1117.1940.tif", datetime(2019, 11, 17, 19, 40), "comp"),
        ("/data/x/20190610123015.png", datetime(2019, 6, 10, 12, 30, 15), "frames"),
        ("dbz_2019-06-10T12:30.tif", datetime(2019, 6, 10, 12, 30), "dbz"),
    ],
)
def test_stamps_read(name, when, rest):
    s = name_stamp(name)
    assert s is not None and s.time == when.replace(tzinfo=UTC) and s.rest == rest


@pytest.mark.parametrize(
    "name",
    [
        "201609281445_201609281450.tif",  # two stamps
        "img_0001.tif",
        "20190610.tif",  # a date, no time
        "x_2019061012301.tif",  # 13 digits
        "a_201613281445.tif",  # month 13
        "12345678901234_201609281445.tif",  # another long number beside it
        "G17_M1_C13_s20193002000275.tif",  # a GOES day-of-year stamp is no calendar stamp
    ],
)
def test_ambiguous_or_no_stamp_gives_no_guess(name):
    assert name_stamp(name) is None


@pytest.fixture
def radar_pair(tmp_path, radiance):
    """Two untagged frames named by their time, 5 min apart, moving 2 px east."""
    a = radiance[:160, :160]
    b = warp(radiance, *uniform_field(radiance.shape, 2.0, 0.0), iterations=1)[:160, :160]
    return (
        write_frame(tmp_path / "201609281445_FINUTM.tif", a),
        write_frame(tmp_path / "201609281450_FINUTM.tif", b),
    )


def test_track_times_from_name_stamps(radar_pair, run):
    code, out, err = run("track", *radar_pair, "-v")
    assert code == 0, err
    assert "no time" not in err
    assert ", dt 300 s, " in err and "times from file name stamp" in err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["time_a"] == "2016-09-28T14:45:00Z" and rows[0]["time_b"] == "2016-09-28T14:50:00Z"
    assert rows[0]["speed"] != ""


def test_order_of_trust(tmp_path, radiance, run):
    a = write_frame(tmp_path / "201609281445_x.tif", radiance[:96, :96], time=t0(0))
    info = open_frame(a)
    assert info.time == t0(0) and info.time_source == "TIFFTAG_DATETIME"  # a tag wins over a name stamp
    b = write_frame(tmp_path / "201609281450_x.tif", radiance[:96, :96], time=t0(5))
    code, _, err = run("track", a, b, "-v", "--name-pattern", "%Y%m%d%H%M_x.tif")
    assert code == 0 and "times from file name (--name-pattern)" in err  # the pattern wins over all


def test_ambiguous_names_get_no_time(tmp_path, radiance, run):
    a = write_frame(tmp_path / "201609281445_201609281440.tif", radiance[:96, :96])
    b = write_frame(tmp_path / "201609281450_201609281440.tif", radiance[1:97, :96])
    code, _, err = run("track", a, b)
    assert code == 0
    assert f"{a}: no time in the file name or tags; m/s columns left empty (give --dt SECONDS)" in err


def test_nested_gdal_metadata_nodata_and_time(tmp_path, run):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 200, (64, 64)).astype("uint8")
    raw[:, :20] = 255
    path = write_frame(tmp_path / "radar.tif", raw, nodata=None, dtype="uint8")
    doc = (
        '<GDALMetadata>\n  <Item name="Nodata">255</Item>\n'
        '  <Item name="Observation time">201609281440</Item>\n</GDALMetadata>'
    )
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(GDAL_METADATA=doc)  # GDAL keeps it as the text of one item: a nested document
    info = open_frame(path)
    assert info.time == datetime(2016, 9, 28, 14, 40, tzinfo=UTC)
    assert info.time_source == "GDAL_METADATA Observation time"
    frame = read_frame(info)
    assert not frame.valid[:, :20].any() and frame.valid[:, 20:].all()
    code, out, _ = run("info", path)
    assert code == 0 and "valid 68.75 %" in out and "2016-09-28T14:40:00Z" in out


def test_batch_groups_stamped_frames_by_the_rest_of_the_name(tmp_path, radiance, run):
    src = tmp_path / "in"
    os.makedirs(src)
    big = radiance[100:300, 100:300]
    for i in range(3):
        img = warp(big, *uniform_field(big.shape, 1.0 * i, 0.0))[50:146, 50:146]
        write_frame(src / f"2016092814{45 + 5 * i:02d}_FINUTM.tif", img)
        write_frame(src / f"2016092814{45 + 5 * i:02d}_SWERAD.tif", img)
    out = tmp_path / "out"
    code, _, err = run("batch", src, "-o", out, "--no-progress")
    assert code == 0, err
    assert sorted(os.listdir(out / "FINUTM")) == ["20160928T144500_145000.csv", "20160928T145000_145500.csv"]
    assert sorted(os.listdir(out / "SWERAD")) == sorted(os.listdir(out / "FINUTM"))
    with open(out / MANIFEST_NAME) as fh:
        assert fh.read().count('"status": "ok"') == 4
