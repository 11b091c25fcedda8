"""Real satellite inputs: GOES netCDF, DQF, RGB and multi-band GeoTIFF, NoData sources, frame checks."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import rasterio
from support import SAMPLE_NC, goes_copy, t0, write_frame

from cloudmotion.formats.readers import open_frame, read_frame
from cloudmotion.motion.prefilter import reduce_channels
from cloudmotion.tools.known_motion import correlated_noise, uniform_field, warp

M1 = os.path.basename(SAMPLE_NC)


def shared(name):
    assert name == M1
    return SAMPLE_NC


@pytest.fixture
def rgb_tif(tmp_path, radiance):
    """A red-green-blue uint8 GeoTIFF made from the sample radiance, with a per-dataset mask."""
    from support import PIXEL, synth

    r = np.clip((radiance - radiance.min()) / np.ptp(radiance) * 255, 0, 255)
    rgb = np.stack([r, 255 - r, (r * 0.5 + 60) % 256]).astype("uint8")
    mask = np.full(r.shape, 255, "uint8")
    mask[:, :120] = 0  # "space" on the left
    path = tmp_path / "rgb.tif"
    from affine import Affine

    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=r.shape[1],
        height=r.shape[0],
        count=3,
        dtype="uint8",
        crs=synth.GOES16_WKT,
        transform=Affine(PIXEL, 0, 0, 0, -PIXEL, 0),
        photometric="RGB",
    ) as ds:
        ds.write(rgb)
        ds.write_mask(mask)
    return str(path)


@pytest.fixture
def nc_pair(tmp_path):
    """The real GOES-17 M1 netCDF and a copy 5 minutes later whose Rad moved by (1.6, -0.8) px."""
    netCDF4 = pytest.importorskip("netCDF4")
    src = shared(M1)
    a = tmp_path / M1
    b = tmp_path / M1.replace("s20193002000275", "s20193002005275")
    shutil.copy(src, a)
    shutil.copy(src, b)
    with netCDF4.Dataset(b, "r+") as ds:
        rad = ds["Rad"][:].astype(np.float64)
        ds["Rad"][:] = warp(rad, *uniform_field(rad.shape, 1.6, -0.8))
        dqf = ds["DQF"][:]
        dqf[:, :100] = 1  # "conditionally usable" on the left fifth
        ds["DQF"][:] = dqf
    return str(a), str(b)


def test_netcdf_variable_scale_fill_and_time(tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")
    path = goes_copy(tmp_path, band=16, sector="C", sat="G16", start="20200040316182")
    with netCDF4.Dataset(path, "a") as ds:
        ds["Rad"].set_auto_maskandscale(False)
        raw = ds["Rad"][:]
        raw[:40, :25] = 4095  # _FillValue: "space" in a corner
        ds["Rad"][:] = raw
    info = open_frame(path)
    assert info.source.endswith(":Rad") and info.dqf_source.endswith(":DQF")
    assert info.goes == {"satellite": "G16", "sector": "C", "band": 16, "product": "Rad"}
    assert info.time.isoformat() == "2020-01-04T03:16:18.200000+00:00"
    f = read_frame(info)
    assert f.data.shape == (500, 500)
    assert 1 - f.valid.mean() == pytest.approx(40 * 25 / 500**2, abs=1e-9) and not f.valid[:40, :25].any()
    assert 20.0 < np.nanmin(f.data) and np.nanmax(f.data) < 125.0  # radiance, not counts
    same = open_frame(f"NETCDF:{path}:Rad")
    assert same.source.lower() == info.source.lower() and same.goes == info.goes and same.dqf_source


def test_netcdf_pair_to_wind_speed_geotiff(nc_pair, tmp_path, run):
    out = tmp_path / "speed.tif"
    code, _, err = run("track", *nc_pair, "-o", out)
    assert code == 0, err
    with rasterio.open(out) as ds:
        names = ds.descriptions
        dx = ds.read(names.index("dx") + 1)
        speed = ds.read(names.index("speed") + 1)
        flag = ds.read(names.index("flag") + 1)
    good = flag == 0
    assert good.mean() > 0.9
    assert np.sqrt(np.mean((dx[good] - 1.6) ** 2)) < 0.05
    assert np.all((speed[good] > 5) & (speed[good] < 20))  # ~1.8 px x ~2.6 km / 300 s


def test_dqf_masks_flagged_pixels(nc_pair):
    info = open_frame(nc_pair[1])
    assert read_frame(info).valid.all()
    valid = read_frame(info, dqf=True).valid
    assert not valid[:, :100].any() and valid[:, 100:].all()


def test_dqf_on_a_geotiff_is_a_usage_error(tmp_path, run, radiance):
    fa = write_frame(tmp_path / "a.tif", radiance, time=t0(0))
    fb = write_frame(tmp_path / "b.tif", radiance, time=t0(5))
    code, _, err = run("track", fa, fb, "--dqf")
    assert code == 2 and "--dqf" in err and "a.tif" in err


def truncate(src, dst, fraction=0.5):
    with open(src, "rb") as fh:
        data = fh.read()
    with open(dst, "wb") as fh:
        fh.write(data[: int(len(data) * fraction)])
    return str(dst)


@pytest.mark.parametrize("name", [M1, "tif"])
def test_truncated_files_are_data_errors(tmp_path, run, name):
    from support import SAMPLE

    src = shared(M1) if name == M1 else SAMPLE[0]
    bad = truncate(src, tmp_path / ("cut_" + os.path.basename(src)))
    out = tmp_path / "v.csv"
    code, _, err = run("track", src, bad, "-o", out)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cut_" in lines[0] and "Traceback" not in err
    assert not out.exists()


def test_netcdf_without_image_variable(tmp_path, run):
    netCDF4 = pytest.importorskip("netCDF4")
    path = tmp_path / "other.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", 40)
        ds.createDimension("x", 40)
        ds.createVariable("temperature", "f4", ("y", "x"))[:] = np.ones((40, 40))
        ds.createVariable("pressure", "f4", ("y", "x"))[:] = np.ones((40, 40))
    code, _, err = run("track", path, path)
    assert code == 1
    assert "other.nc" in err and "no Rad or CMI variable" in err and len(err.strip().splitlines()) == 1


def test_mixed_satellites_or_bands_need_force(nc_pair, tmp_path, run):
    a, b = nc_pair
    other_band = tmp_path / os.path.basename(b).replace("M6C13", "M6C14")
    os.rename(b, other_band)
    code, _, err = run("track", a, other_band)
    assert code == 1 and "band 14 differs" in err and "--force" in err
    other_sat = tmp_path / os.path.basename(b).replace("G17", "G16")
    os.rename(other_band, other_sat)
    code, _, err = run("track", a, other_sat)
    assert code == 1 and "satellite G16 differs" in err
    code, _, err = run("track", a, other_sat, "--force", "-q")
    assert code == 0, err


def test_same_time_and_max_dt(tmp_path, run, radiance):
    fa = write_frame(tmp_path / "a.tif", radiance, time=t0(0))
    same = write_frame(tmp_path / "b.tif", radiance, time=t0(0))
    code, _, err = run("track", fa, same)
    assert code == 1 and "b.tif" in err and "not after" in err
    later = write_frame(tmp_path / "c.tif", radiance, time=t0(30))
    code, _, err = run("track", fa, later, "--max-gap", "15min")
    assert code == 1 and "c.tif" in err and "more than --max-gap 900 s" in err
    code, _, _ = run("track", fa, later, "--max-gap", "1h", "-q")
    assert code == 0
    code, _, err = run("track", fa, later, "--max-dt", "900")  # the old spelling: a warning, same meaning
    assert code == 1 and "--max-dt) is deprecated: use max_gap (--max-gap)" in err and "--max-gap 900 s" in err


def test_rgb_luminance_with_dataset_mask(rgb_tif):
    info = open_frame(rgb_tif)
    assert info.bands == (1, 2, 3) and info.channels == "luminance"
    f = read_frame(info)
    assert f.valid.mean() == pytest.approx(1 - 120 / 500)  # the per-dataset mask hides "space"
    with rasterio.open(rgb_tif) as ds:
        rgb = ds.read().astype(np.float64)
        assert np.array_equal(f.valid, ds.dataset_mask() > 0)
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    np.testing.assert_allclose(f.data[f.valid], luma[f.valid], rtol=1e-6)
    assert read_frame(open_frame(rgb_tif, band=2)).data[f.valid] == pytest.approx(rgb[1][f.valid])
    mean = read_frame(open_frame(rgb_tif, channels="mean")).data
    np.testing.assert_allclose(mean[f.valid], rgb.mean(axis=0)[f.valid], rtol=1e-6)


def test_pca_channel_is_the_common_signal():
    rng = np.random.default_rng(5)
    signal = correlated_noise((64, 64), 2.0, seed=1)
    stack = np.stack([3 * signal + 10, -2 * signal + 5, 0.5 * signal]) + 0.05 * rng.standard_normal((3, 64, 64))
    valid = np.ones((64, 64), bool)
    valid[:5] = False
    stack[:, :5] = 1e6  # invalid rows must not steer the components
    pc = reduce_channels(stack, valid, "pca")
    assert abs(np.corrcoef(pc[valid], signal[valid])[0, 1]) > 0.99
    assert np.all(pc[~valid] == 0)


def test_rgb_geotiff_tracked_without_blurring_channels(tmp_path, run):
    texture = correlated_noise((160, 160), 2.5, seed=3)
    frames = []
    for k, shift in enumerate((0.0, 1.4)):
        moved = warp(texture, *uniform_field(texture.shape, shift, -shift / 2))
        rgb = np.stack([100 + 20 * moved, 80 + 30 * moved, 60 - 10 * moved]).astype(np.float32)
        path = tmp_path / f"rgb{k}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=160, height=160, count=3, dtype="float32", photometric="RGB"
        ) as ds:
            ds.write(rgb)
            ds.update_tags(TIFFTAG_DATETIME=f"{t0(10 * k):%Y:%m:%d %H:%M:%S}")
        frames.append(str(path))
    assert open_frame(frames[0]).channels == "luminance"
    for extra in ([], ["--channels", "pca"], ["--band", "3"]):
        code, out, err = run("track", *frames, *extra, "-q")
        assert code == 0, err
        rows = [r.split(",") for r in out.splitlines()[1:]]
        dx = np.array([float(r[8]) for r in rows if r[17] == "0"])
        assert len(dx) > 20 and np.sqrt(np.mean((dx - 1.4) ** 2)) < 0.05, extra


def test_nodata_override_and_valid_range(tmp_path, radiance):
    raw = np.round(radiance * 10).astype("uint16")
    raw[:50] = 255 * 10  # an untagged fill value, as in some radar GeoTIFFs
    path = write_frame(tmp_path / "r.tif", raw, nodata=None, dtype="uint16")
    info = open_frame(path)
    assert read_frame(info).valid.all()
    assert not read_frame(info, nodata=2550).valid[:50].any()
    v = read_frame(info, valid_range=(300.0, 900.0))
    assert not v.valid[:50].any()
    assert np.all((v.data[v.valid] >= 300) & (v.data[v.valid] <= 900))


def test_align_reprojects_later_frames(tmp_path, run, radiance):
    from support import PIXEL

    b = warp(radiance, *uniform_field(radiance.shape, 1.25, 0.5))
    base = rasterio.Affine(PIXEL, 0, -250 * PIXEL, 0, -PIXEL, 250 * PIXEL)
    fa = write_frame(tmp_path / "a.tif", radiance[:, :400], transform=base, time=t0(0))
    # frame B covers the same ground from a grid 7 px further east and 460 px wide
    fb = write_frame(tmp_path / "b.tif", b[:, 7:467], transform=base @ rasterio.Affine.translation(7, 0), time=t0(5))
    code, _, err = run("track", fa, fb)
    assert code == 1 and "--align" in err
    code, out, err = run("track", fa, fb, "--align", "-q")
    assert code == 0, err
    rows = [r.split(",") for r in out.splitlines()[1:]]
    good = [(float(r[8]), float(r[9])) for r in rows if r[17] == "0"]
    assert len(good) > 100
    d = np.array(good)
    assert np.sqrt(np.mean((d[:, 0] - 1.25) ** 2 + (d[:, 1] - 0.5) ** 2)) < 0.1  # bilinear resampling costs a little


def test_files_of_other_goes_bands_need_force(run, tmp_path):
    files = [SAMPLE_NC, goes_copy(tmp_path, band=14, start="20193002005275")]
    code, _, err = run("track", files[0], files[1])  # different bands
    assert code == 1 and "--force" in err


def test_geojson_and_netcdf_outputs(tmp_path, run):
    import json

    from support import SAMPLE

    code, _, err = run(
        "track", *SAMPLE[:2], "-o", tmp_path / "v.geojson", "-o", tmp_path / "v.nc", "-o", tmp_path / "v.csv"
    )
    assert code == 0, err
    doc = json.loads((tmp_path / "v.geojson").read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 900
    feat = doc["features"][0]
    assert feat["geometry"]["type"] == "Point"
    csv_header = (tmp_path / "v.csv").read_text().splitlines()[0].split(",")
    assert list(feat["properties"]) == csv_header
    lon, lat = feat["geometry"]["coordinates"]
    assert -128 < lon < -110 and 30 < lat < 45
    netCDF4 = pytest.importorskip("netCDF4")
    with netCDF4.Dataset(tmp_path / "v.nc") as ds:
        assert ds.Conventions == "CF-1.8"
        for name, std in (
            ("eastward_wind", "eastward_wind"),
            ("northward_wind", "northward_wind"),
            ("wind_speed", "wind_speed"),
            ("wind_from_direction", "wind_from_direction"),
        ):
            v = ds[name]
            assert v.standard_name == std and v.dimensions == ("time", "y", "x")
            assert v.coordinates == "lon lat" and v.grid_mapping == "crs"
        assert ds["lon"].units == "degrees_east" and ds["lat"].standard_name == "latitude"
        assert ds["crs"].grid_mapping_name == "geostationary" and ds["crs"].sweep_angle_axis == "x"
        assert (
            ds["time"].units.startswith("seconds since 1970") and ds["time_bnds"][0, 1] - ds["time_bnds"][0, 0] == 300
        )
        speed = ds["wind_speed"][0].filled(np.nan)
        u, v = ds["eastward_wind"][0].filled(np.nan), ds["northward_wind"][0].filled(np.nan)
        ok = np.isfinite(speed)
        np.testing.assert_allclose(np.hypot(u, v)[ok], speed[ok], rtol=1e-4)
        assert list(ds["flag"].flag_masks)[:3] == [1, 2, 4]
