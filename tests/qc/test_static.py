"""Static plateaus (fill, outside coverage) never give good vectors; GDAL_METADATA NoData; warnings."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from support import write_frame

from cloudmotion import Flag, track_pair
from cloudmotion.formats.readers import open_frame, read_frame
from cloudmotion.motion.plateau import find_plateaus, plateau_warning
from cloudmotion.tools.known_motion import uniform_field, warp

DX, DY = 2.3, -1.4


@pytest.fixture(scope="module")
def bordered(radiance):
    """A sample frame moving by (DX, DY) with an undeclared constant region over its west 40 %, as
    a radar composite writes 255 outside its coverage."""
    b = warp(radiance, *uniform_field(radiance.shape, DX, DY), iterations=1)
    a = radiance.copy()
    cut = 200
    a[:, :cut] = 255.0
    b[:, :cut] = 255.0
    return a, b, cut


def test_plateau_found_and_warned(bordered):
    a, _, cut = bordered
    plateaus, mask = find_plateaus(a)
    assert len(plateaus) == 1 and plateaus[0].value == 255.0 and plateaus[0].touches_border
    assert mask[:, :cut].all() and not mask[:, cut + 1 :].any()
    (msg,) = plateau_warning(plateaus)
    assert msg == (
        "value 255 covers 40 % of the frame in one region touching the border: if it is NoData, pass --nodata 255"
    )


def test_natural_texture_has_no_plateau(radiance):
    assert find_plateaus(radiance)[0] == []


def test_no_good_vector_on_the_static_edge(bordered):
    a, b, cut = bordered
    mf = track_pair(a, b)
    edge = np.abs(mf.col - cut) < mf.grid.window  # templates that hold the edge
    good = mf.good
    err = np.hypot(mf.dx - DX, mf.dy - DY)
    assert np.count_nonzero(mf.flag & Flag.STATIC) > 0
    assert not np.any(good & (err > 1.0)), "a static-edge vector passed as good"
    assert np.all(mf.flag[edge & (mf.col < cut)] != 0)
    assert np.median(mf.dx[good]) == pytest.approx(DX, abs=0.05)  # the good vectors say what moves
    assert good[mf.col > cut + mf.grid.window].mean() > 0.95  # the data beside it stays good


def test_gdal_metadata_nodata_honoured(tmp_path, radiance, run):
    raw = np.round(radiance).astype("uint16")
    raw[:, :150] = 255
    path = write_frame(tmp_path / "radar.tif", raw, nodata=None, dtype="uint16")
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(Nodata="255")  # written into GDAL_METADATA, not the NoData tag
    with rasterio.open(path) as ds:
        assert ds.nodata is None
    frame = read_frame(open_frame(path))
    assert not frame.valid[:, :150].any() and frame.valid[:, 150:].all()


def test_info_and_track_warn_about_an_undeclared_plateau(tmp_path, bordered, run):
    from support import t0

    a, b, _ = bordered
    pa = write_frame(tmp_path / "a.tif", a, time=t0(0))
    pb = write_frame(tmp_path / "b.tif", b, time=t0(5))
    want = "value 255 covers 40 % of the frame in one region touching the border: if it is NoData, pass --nodata 255"
    code, out, err = run("info", pa)
    assert code == 0 and want in err and want not in out
    code, out, err = run("track", pa, pb)
    assert code == 0 and err.count(want) == 1
    rows = [r.split(",") for r in out.splitlines()[1:]]
    flags = np.array([int(r[17]) for r in rows])
    assert np.any(flags & Flag.STATIC)
    code, _, err = run("track", pa, pb, "--nodata", "255")
    assert code == 0 and want not in err
