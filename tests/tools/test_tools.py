"""The companion commands: synth -> track -> score, plot (and track --plot), info."""

from __future__ import annotations

import glob
import json
import struct

import numpy as np
import pytest
import rasterio
from support import SAMPLE, SAMPLE_NC


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    from cloudmotion.cli.main import main

    out = tmp_path_factory.mktemp("synth")
    assert (
        main(
            [
                "synth",
                str(out),
                "--frames",
                "3",
                "--motion",
                "uniform:1.35,-0.65",
                "--size",
                "256x320",
                "--interval",
                "600",
                "-q",
            ]
        )
        == 0
    )
    return out


def test_synth_writes_frames_truth_crs_and_times(synth_dir):
    frames = sorted(glob.glob(str(synth_dir / "synth_*_s*.tif")))
    assert len(frames) == 3
    times = []
    for f in frames:
        with rasterio.open(f) as ds:
            assert ds.shape == (256, 320) and "Geostationary" in ds.crs.to_wkt() and "sweep" in ds.crs.to_wkt()
            times.append(ds.tags()["TIFFTAG_DATETIME"])
    assert times == ["2020:01:04 03:00:00", "2020:01:04 03:10:00", "2020:01:04 03:20:00"]
    with rasterio.open(synth_dir / "truth.tif") as ds:
        assert ds.descriptions == ("dx", "dy")
        np.testing.assert_allclose(ds.read(1), 1.35, atol=1e-6)
        np.testing.assert_allclose(ds.read(2), -0.65, atol=1e-6)


def test_track_then_score_on_synth(synth_dir, run, tmp_path):
    frames = sorted(glob.glob(str(synth_dir / "synth_*_s*.tif")))
    vec = tmp_path / "v.csv"
    code, _, err = run("track", *frames, "-o", vec)
    assert code == 0, err
    code, out, err = run("score", vec, synth_dir / "truth.tif", "--json")
    assert code == 0, err
    rows = json.loads(out)["pairs"]
    assert len(rows) == 2
    for r in rows:
        assert r["n_scored"] > 0.9 * r["n_vectors"]
        assert r["rms"] < 0.05 and abs(r["bias_dx"]) < 0.01 and abs(r["bias_dy"]) < 0.01
    code, out, _ = run("score", vec, synth_dir / "truth.tif")
    assert code == 0 and "RMS" in out and "pair 2" in out


def test_score_reports_a_wrong_field(synth_dir, run, tmp_path):
    frames = sorted(glob.glob(str(synth_dir / "synth_*_s*.tif")))
    vec = tmp_path / "v.csv"
    assert run("track", frames[0], frames[1], "-o", vec)[0] == 0
    text = vec.read_text().splitlines()
    header = text[0].split(",")
    i = header.index("dx")
    bad = [text[0]] + [
        ",".join(c if k != i or not c else f"{float(c) + 2.0:.4f}" for k, c in enumerate(r.split(",")))
        for r in text[1:]
    ]
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("\n".join(bad) + "\n")
    code, out, _ = run("score", wrong, synth_dir / "truth.tif", "--json")
    doc = json.loads(out)
    r = doc["pairs"][0]  # one pair: the same shape as several
    assert len(doc["pairs"]) == 1 and doc["truth"].endswith("truth.tif")
    assert code == 0 and r["rms"] > 1.9 and r["share_gt_1"] > 0.99 and r["bias_dx"] == pytest.approx(2.0, abs=0.05)


def test_synth_from_a_real_frame_and_noise(run, tmp_path):
    code, _, err = run(
        "synth",
        tmp_path,
        "--from",
        SAMPLE[0],
        "--motion",
        "vortex:2,100+uniform:1,0",
        "--noise",
        "1",
        "--frames",
        "2",
        "-q",
    )
    assert code == 0, err
    frames = sorted(glob.glob(str(tmp_path / "synth_*_s*.tif")))
    with rasterio.open(frames[0]) as ds, rasterio.open(SAMPLE[0]) as real:
        a = ds.read(1)
        assert ds.crs == real.crs and ds.transform == real.transform
        diff = a - real.read(1)
        assert 0.005 < np.std(diff) / np.std(real.read(1)) < 0.02  # 1 % noise
    code, _, err = run("synth", tmp_path, "--frames", "2")
    assert code == 2 and "--overwrite" in err


def test_plot_png_of_requested_size_draws_vectors(tmp_path, run):
    vec = tmp_path / "v.csv"
    assert run("track", *SAMPLE[:2], "-o", vec)[0] == 0
    out = tmp_path / "q.png"
    code, _, err = run("plot", vec, SAMPLE[0], "-o", out, "--size", "500x400px", "--dpi", "100")
    assert code == 0, err
    assert png_size(out) == (500, 400)
    plain = tmp_path / "plain.png"
    flagged_only = tmp_path / "none.csv"
    lines = [ln.split(",") for ln in vec.read_text().splitlines()]
    at = lines[0].index("flag")
    flagged_only.write_text(
        "\n".join(",".join(c[:at] + ["4"] + c[at + 1 :] if i else c) for i, c in enumerate(lines)) + "\n"
    )
    assert run("plot", flagged_only, SAMPLE[0], "-o", plain, "--size", "500x400px")[0] == 0
    import matplotlib.image as mpimg

    with_vectors, background = mpimg.imread(out), mpimg.imread(plain)
    assert with_vectors.shape == background.shape
    changed = np.any(np.abs(with_vectors - background) > 0.05, axis=-1)
    assert changed.mean() > 0.01  # the arrows and the colour bar differ from the frame alone
    for ext in ("svg", "pdf"):
        assert run("plot", vec, SAMPLE[0], "-o", tmp_path / f"q.{ext}", "--style", "barbs", "--every", "2")[0] == 0
        head = (tmp_path / f"q.{ext}").read_bytes()[:200]
        assert (b"<svg" in head or b"<?xml" in head) if ext == "svg" else head.startswith(b"%PDF")


def test_track_plot_in_one_go(tmp_path, run):
    code, _, err = run("track", *SAMPLE, "-o", tmp_path / "v.csv", "--plot", tmp_path / "q{pair}.png")
    assert code == 0, err
    assert png_size(tmp_path / "q1.png")[0] > 100 and (tmp_path / "q2.png").exists()
    code, _, err = run("track", *SAMPLE, "--plot", tmp_path / "one.png")
    assert code == 2 and "{pair}" in err


def test_plot_without_matplotlib_says_how_to_install(tmp_path, run, hide_module):
    hide_module("matplotlib")
    code, _, err = run("plot", SAMPLE[0], SAMPLE[0], "-o", tmp_path / "q.png")
    assert code == 2 and "pip install 'cloudmotion[plot]'" in err and len(err.strip().splitlines()) == 1
    assert "pip install '.[plot]'" in err and err.startswith("cloudmotion: error: plotting needs the plot extra")
    assert not (tmp_path / "q.png").exists()


def test_info_text_json_and_mismatch(run, tmp_path):
    code, out, err = run("info", *SAMPLE)
    assert code == 0, err
    assert "Geostationary" in out and "km" in out and "from file name" in out and "in time order" in out
    code, out, _ = run("info", SAMPLE[0], "--json", "--wkt")
    facts = json.loads(out)["frames"][0]
    assert facts["shape"] == [500, 500] and facts["time_source"] == "file name"
    assert facts["valid_fraction"] == pytest.approx(1.0)
    assert 2.0 < facts["pixel_size_km"][0] < 3.5
    small = tmp_path / "small.tif"
    with rasterio.open(SAMPLE[0]) as ds:
        profile = ds.profile | {"width": 400, "height": 400, "blockxsize": 256, "blockysize": 256}
        with rasterio.open(small, "w", **profile) as out_ds:
            out_ds.write(ds.read(1)[:400, :400], 1)
    code, out, err = run("info", SAMPLE[0], small)
    assert code == 1 and "shape" in err and len(err.strip().splitlines()) == 1


def test_info_on_real_goes_netcdf(run):
    code, out, _ = run("info", SAMPLE_NC, "--json")
    f = json.loads(out)["frames"][0]
    assert code == 0
    assert f["goes"]["satellite"] == "G17" and f["goes"]["band"] == 13 and f["driver"] == "netCDF"
    assert f["scale"] == pytest.approx(0.045728918, rel=1e-6) and f["valid_fraction"] == 1.0
