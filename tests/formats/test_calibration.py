"""GOES L1b radiance calibrated to brightness temperature and reflectance factor."""

from __future__ import annotations

import glob
import json

import numpy as np
import pytest
from l1b import goes_name, write_l1b
from support import SAMPLE_NC, one_line_error

from cloudmotion.formats.calibration import resolve
from cloudmotion.formats.readers import open_frame, read_frame

netCDF4 = pytest.importorskip("netCDF4")


def real_l1b() -> str:
    """The real band-13 L1b file shipped in sample_data/."""
    return SAMPLE_NC


def test_brightness_temperature_matches_hand_computation_on_the_real_file():
    path = real_l1b()
    with netCDF4.Dataset(path) as ds:  # by hand: raw counts, the file's scale and offset and constants
        ds.set_auto_scale(False)
        counts = ds["Rad"][:].astype(np.float64)
        counts[counts < 0] += 65536  # _Unsigned
        rad = counts * float(ds["Rad"].scale_factor) + float(ds["Rad"].add_offset)
        fk1, fk2, bc1, bc2 = (float(ds[k][...]) for k in ("planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2"))
    hand = (fk2 / np.log(fk1 / rad + 1.0) - bc1) / bc2
    info = resolve(open_frame(path))
    assert (info.quantity, info.unit, info.calibrate) == ("brightness_temperature", "K", "bt")
    frame = read_frame(info)
    assert frame.valid.all()
    np.testing.assert_allclose(frame.data, hand, atol=2e-3)  # float32 storage of ~300 K
    assert 215 < float(np.nanmin(frame.data)) < float(np.nanmax(frame.data)) < 320


def test_reflectance_factor_from_a_tiny_visible_l1b(tmp_path):
    rad = np.random.default_rng(1).uniform(0.0, 600.0, (40, 50))  # W m-2 sr-1 um-1
    path = write_l1b(tmp_path / goes_name(2, 10), rad, band=2, planck=None, kappa0=0.0016, scale=0.16, offset=0.0)
    info = resolve(open_frame(path))
    assert (info.quantity, info.unit) == ("reflectance_factor", "1")
    stored = np.round(rad / 0.16) * np.float32(0.16)
    np.testing.assert_allclose(read_frame(info).data, np.float32(0.0016) * stored, rtol=1e-5, atol=1e-6)


def test_radiance_mode_and_missing_constants(tmp_path, run):
    rad = np.random.default_rng(2).uniform(20.0, 120.0, (40, 50))
    path = write_l1b(tmp_path / goes_name(13, 10), rad)
    info = open_frame(path)
    raw = read_frame(resolve(info, "radiance"))
    assert resolve(info, "radiance").calibrate is None
    np.testing.assert_allclose(raw.data, rad, atol=0.03)  # quantised by the 0.0457 scale
    code, _, err = run("track", path, path, "--calibrate", "reflectance")
    assert code == 2
    one_line_error(err, "--calibrate reflectance", "kappa0")


def test_valid_range_is_in_kelvin_and_nodata_in_stored_units(tmp_path):
    rad = np.random.default_rng(3).uniform(20.0, 120.0, (40, 50))
    path = write_l1b(tmp_path / goes_name(13, 10), rad)
    info = resolve(open_frame(path))
    bt = read_frame(info).data
    frame = read_frame(info, valid_range=(250.0, 290.0))
    assert np.array_equal(frame.valid, (bt >= 250) & (bt <= 290))
    counts = int(np.round((rad[0, 0] + 1.6443) / 0.04572892))
    assert not read_frame(info, nodata=counts).valid[0, 0]


def test_info_shows_quantity_and_unit(tmp_path, run):
    rad = np.random.default_rng(4).uniform(20.0, 120.0, (40, 50))
    path = write_l1b(tmp_path / goes_name(13, 10), rad)
    code, out, _ = run("info", path, "--json")
    assert code == 0
    facts = json.loads(out)
    facts = facts[0] if isinstance(facts, list) else facts.get("frames", [facts])[0]
    assert (facts["quantity"], facts["unit"], facts["calibrated"]) == ("brightness_temperature", "K", True)
    assert 180 < facts["value_min"] < facts["value_max"] < 340
    code, out, _ = run("info", path)
    assert "quantity:     brightness temperature, unit K" in out


def test_synth_from_l1b_keeps_the_constants_as_tags(tmp_path, run):
    rad = np.random.default_rng(5).uniform(20.0, 120.0, (64, 64))
    path = write_l1b(tmp_path / goes_name(13, 10), rad)
    code, _, err = run("synth", tmp_path / "s", "--from", path, "--frames", "2", "--motion", "uniform:1,0")
    assert code == 0, err
    frame0 = min(glob.glob(str(tmp_path / "s" / "synth_*_s*.tif")))
    info = resolve(open_frame(frame0))
    assert info.calibration == resolve(open_frame(path)).calibration
    assert (info.quantity, info.unit) == ("brightness_temperature", "K")
    np.testing.assert_allclose(read_frame(info).data, read_frame(resolve(open_frame(path))).data, atol=1e-3)
