"""Answers at sites: the sites file, winds at sites, point-traced ensemble nowcasts, site
verification and batch appends, on real sample texture moved by known fields."""

from __future__ import annotations

import csv
import glob
import json

import numpy as np
import pytest
import rasterio
from scipy import ndimage
from support import SAMPLE, one_line_error

from cloudmotion.geo import geolocate
from cloudmotion.model import Vectors
from cloudmotion.nowcast.ensemble import percentiles, site_ensemble
from cloudmotion.nowcast.extrapolate import extrapolate
from cloudmotion.nowcast.site_skill import crps_ensemble, site_scores
from cloudmotion.nowcast.sites import sample_frame, site_means, trace_points
from cloudmotion.tools.known_motion import vortex_shear_field

WIND_HEADER = (
    "site,lon,lat,time_a,time_b,site_u,site_v,site_speed,site_direction,site_ee_speed,"
    "n_vectors,radius_km,cloud_top_pressure,cloud_top_height,reason"
)
NOWCAST_HEADER = "site,lon,lat,issue_time,valid_time,lead_min,quantity,unit,value,p10,p50,p90"


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    """Eight frames 5 min apart: real texture moved by a vortex plus a drift, 1 % noise."""
    from cloudmotion.cli.main import main

    out = tmp_path_factory.mktemp("sites")
    args = ["synth", str(out), "--from", SAMPLE[0], "--motion", "vortex:3,100+uniform:1.5,-0.7"]
    assert main([*args, "--frames", "8", "--noise", "1", "-q"]) == 0
    return out, sorted(glob.glob(str(out / "synth_*_s*.tif")))


def lonlat(frame: str, rows, cols):
    with rasterio.open(frame) as ds:
        g = geolocate(
            np.asarray(rows, float),
            np.asarray(cols, float),
            np.zeros(len(rows)),
            np.zeros(len(rows)),
            transform=tuple(ds.transform)[:6],
            crs_wkt=ds.crs.to_wkt(),
            dt=None,
        )
    return g.lon, g.lat


def write_sites(path, frame, rows, cols, *, extra=None, far=True):
    lon, lat = lonlat(frame, rows, cols)
    with open(path, "w") as fh:
        fh.write("site,lon,lat" + (",owner" if extra else "") + "\n")
        fh.writelines(
            f"s{i:03d},{x:.6f},{y:.6f}" + (f",{extra}" if extra else "") + "\n"
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))
        )
        if far:
            fh.write("far,0,0" + (",x" if extra else "") + "\n")
    return str(path)


# -- the sites file ---------------------------------------------------------------------


def test_a_carried_column_that_clashes_is_refused_naming_it(steady, tmp_path, run):
    _, frames = steady
    bad = tmp_path / "s.csv"
    bad.write_text("site,lon,lat,site_speed\na,-75,30,3\n")
    code, _, err = run(
        "track", *frames[:2], "-o", tmp_path / "v.csv", "--sites", bad, "--site-output", tmp_path / "w.csv"
    )
    assert code == 2
    one_line_error(err, "site_speed", str(bad))
    assert not (tmp_path / "v.csv").exists()  # refused before any tracking


@pytest.mark.parametrize("cell", ["abc", "95", "", "nan"])
def test_a_bad_coordinate_is_refused_naming_the_line(steady, tmp_path, run, cell):
    _, frames = steady
    bad = tmp_path / "s.csv"
    bad.write_text(f"site,lon,lat\na,-75,30\nb,-76,{cell}\n")
    code, _, err = run(
        "track", *frames[:2], "-o", tmp_path / "v.csv", "--sites", bad, "--site-output", tmp_path / "w.csv"
    )
    assert code == 1
    one_line_error(err, "line 3", str(bad))


# -- winds at sites ---------------------------------------------------------------------


def _grid(step=16, n=20):
    rr, cc = np.mgrid[0:n, 0:n] * step + 8.0
    return rr.ravel(), cc.ravel()


def test_site_winds_interpolate_a_known_linear_field_and_combine_their_errors():
    rows, cols = _grid()
    u = 5.0 + 0.02 * cols  # a sheared field: linear, so a symmetric neighbourhood mean is exact
    v = -2.0 + 0.01 * rows
    ee = np.full(rows.size, 0.2)
    sigma = np.full(rows.size, 0.5)
    good = np.ones(rows.size, bool)
    sr, sc = np.array([152.0, 100.0, 200.0]), np.array([152.0, 180.0, 90.0])
    m = site_means(sr, sc, rows, cols, np.vstack([u, v]), sigma, ee, good, radius=32, window=32)
    assert abs(m.value[0, 0] - (5.0 + 0.02 * 152)) < 1e-9  # on a vector, symmetric: exact
    # off the grid the neighbourhood is lopsided: within a tenth of the change across the radius
    assert np.allclose(m.value[0], 5.0 + 0.02 * sc, atol=0.064)
    assert np.allclose(m.value[1], -2.0 + 0.01 * sr, atol=0.032)
    bias = np.hypot(m.value[0] - (5.0 + 0.02 * sc), m.value[1] - (-2.0 + 0.01 * sr))
    assert (bias < m.error).all()
    assert (m.n >= 9).all() and (m.n <= 13).all()
    # errors correlated by template overlap: the mean's error is far above sigma/sqrt(n) and below sigma
    assert (m.error > 0.5 / np.sqrt(m.n) * 1.2).all() and (m.error < 0.5).all()
    assert (m.n_eff < m.n).all()
    # a lower-ee vector pulls the mean towards itself (inverse ee^2 weights)
    ee2 = ee.copy()
    u2 = np.full(rows.size, 5.0)
    near = np.argmin(np.hypot(rows - 152, cols - 152))
    u2[near], ee2[near] = 9.0, 0.05
    m2 = site_means(sr[:1], sc[:1], rows, cols, np.vstack([u2, u2 * 0]), sigma, ee2, good, radius=32, window=32)
    assert m2.value[0, 0] > 5.0 + 0.5 * 4.0  # weight 16 against ~12 neighbours of weight 1


def _vectors(rows, cols, good, *, frame):
    with rasterio.open(frame) as ds:
        transform, wkt = tuple(ds.transform)[:6], ds.crs.to_wkt()
    n = rows.size
    values = {"row": rows, "col": cols, "u": np.full(n, 10.0), "v": np.full(n, -5.0), "ee": np.full(n, 0.2)}
    values.update(ee_speed=np.full(n, 1.0), flag=np.where(good, 0, 4), dx=np.ones(n), dy=np.ones(n))
    return Vectors(values=values, transform=transform, crs_wkt=wkt, window=32, step=16)


def test_a_site_without_good_vectors_gets_an_empty_row_with_its_reason(steady, tmp_path):
    from cloudmotion.formats.sites import read_sites
    from cloudmotion.tools.site_winds import WIND_COLUMNS, site_pixels, site_wind_rows

    _, frames = steady
    rows, cols = _grid()
    good = ~((rows > 200) & (cols > 200))  # a corner without a good vector
    v = _vectors(rows, cols, good, frame=frames[0])
    path = write_sites(tmp_path / "s.csv", frames[0], [100, 280, 150], [100, 280, 150])
    sites = read_sites(path, WIND_COLUMNS)
    r, c = site_pixels(sites, v.transform, v.crs_wkt, (500, 500), frames[0])
    valid = np.array([True, True, False, False])
    first = site_wind_rows(v, sites, r, c, valid, radius_spacings=2.0, first=True)
    later = site_wind_rows(v, sites, r, c, valid, radius_spacings=2.0, first=False)
    by = {row[0]: dict(zip(WIND_COLUMNS, row, strict=True)) for row in first}
    assert float(by["s000"]["site_u"]) == pytest.approx(10.0) and by["s000"]["reason"] == ""
    assert by["s001"]["site_u"] == "" and by["s001"]["n_vectors"] == "0"
    assert by["s001"]["reason"].startswith("no good vector within 32 px")
    assert by["s002"]["reason"] == "NoData at the site" and by["s002"]["site_speed"] == ""
    assert by["far"]["reason"] == "outside the frame"
    assert [row[0] for row in later] == ["s000", "s001", "s002"]  # outside: once, in the first pair
    wider = site_wind_rows(v, sites, r, c, valid, radius_spacings=6.0, first=False)  # --site-radius 6
    assert wider[1][WIND_COLUMNS.index("reason")] == "" and int(wider[1][WIND_COLUMNS.index("n_vectors")]) > 0


def test_track_writes_site_winds_in_the_column_order_with_carried_columns(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250], [150, 300], extra="acme")
    out = tmp_path / "w.csv"
    code, _, err = run("track", *frames[:3], "-o", tmp_path / "v.csv", "--sites", sites, "--site-output", out)
    assert code == 0, err
    lines = out.read_text().splitlines()
    assert lines[0] == WIND_HEADER + ",owner"
    table = list(csv.DictReader(lines))
    assert len(table) == 2 * 2 + 1  # two pairs x two sites, and the far site once
    inside = [r for r in table if r["site"] != "far"]
    assert all(r["owner"] == "acme" and r["reason"] == "" for r in inside)
    for r in inside:
        assert int(r["n_vectors"]) >= 5 and 0 < float(r["site_ee_speed"]) < 0.3 * float(r["site_speed"])
        assert 0 <= float(r["site_direction"]) < 360
    code, _, err = run("track", *frames[:2], "--sites", sites, "--site-output", "-")
    assert code == 2
    one_line_error(err, "--site-output -", "standard output")


# -- point nowcasts ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def texture():
    with rasterio.open(SAMPLE[0]) as ds:
        return ndimage.gaussian_filter(ds.read(1).astype(np.float64), 1.0)


def test_point_tracing_equals_the_frame_nowcast_sampled_at_the_sites(texture):
    dx, dy = (f.astype(np.float32) for f in vortex_shear_field(texture.shape, strength=3, radius=100))
    dx += 1.5
    dy -= 0.7
    leads = [1.0, 2.0, 4.0, 6.0]
    valid = np.ones(texture.shape, bool)
    valid[300:330, 100:140] = False
    frames = list(extrapolate(texture, valid, dx, dy, leads, spacing=1))
    rng = np.random.default_rng(1)
    r, c = rng.integers(10, 490, 400), rng.integers(10, 490, 400)
    from cloudmotion.tools.site_nowcast import _coeffs

    coeffs, holes = _coeffs(texture, valid)
    pr, pc = trace_points(dx, dy, r.astype(float), c.astype(float), leads)
    points = sample_frame(coeffs, holes, pr, pc)
    for k, frame in enumerate(frames):
        ref = frame[r, c]
        assert (np.isnan(points[k]) == np.isnan(ref)).mean() > 0.99, k
        both = np.isfinite(points[k]) & np.isfinite(ref)
        assert both.sum() > 300
        assert np.max(np.abs(points[k][both] - ref[both])) <= 0.01 * texture.std(), k


def test_ensemble_percentiles_are_ordered_and_spread_grows_with_lead(texture):
    dx = np.full(texture.shape, 2.0, np.float32)
    dy = np.full(texture.shape, -1.0, np.float32)
    from cloudmotion.tools.site_nowcast import _coeffs

    coeffs, holes = _coeffs(texture, np.ones(texture.shape, bool))
    rng = np.random.default_rng(2)
    r, c = rng.uniform(100, 400, 300), rng.uniform(100, 400, 300)
    ens = site_ensemble(
        coeffs, holes, dx, dy, np.full(300, 0.3), r, c, [1, 2, 4, 8], members=30, sigma1=1.0, spacing=16
    )
    assert ens.members.shape == (30, 4, 300)
    p = percentiles(ens.members)
    assert (p[0] <= p[1]).all() and (p[1] <= p[2]).all()
    width = np.mean(p[2] - p[0], axis=1)
    assert (np.diff(width) > 0).all()
    # value noise alone: a random walk, std sigma1 * sqrt(lead)
    still = site_ensemble(
        coeffs, holes, dx * 0, dy * 0, np.zeros(300), r, c, [1, 4], members=400, sigma1=2.0, spacing=16
    )
    sd = np.std(still.members - still.value[None], axis=0).mean(axis=1)
    assert sd == pytest.approx([2.0, 4.0], rel=0.08)


# -- verification -------------------------------------------------------------------------


def test_site_scores_on_a_hand_made_case():
    value = np.array([1.0, 2.0, 3.0, 4.0])
    observed = np.array([1.5, 2.0, 2.0, 4.0])
    persistence = np.array([0.0, 2.0, 4.0, 5.0])
    members = np.array([[1.0, 1.0, 3.0, 3.0], [2.0, 3.0, 3.0, 5.0]])
    s = site_scores(value, observed, persistence=persistence, members=members, p10=value - 0.5, p90=value + 0.5)
    assert s.cases == 4
    assert s.mae == pytest.approx((0.5 + 0 + 1 + 0) / 4)
    assert s.rmse == pytest.approx(np.sqrt((0.25 + 1) / 4))
    assert s.rmse_persistence == pytest.approx(np.sqrt((2.25 + 0 + 4 + 1) / 4))
    assert s.skill == pytest.approx(1 - np.sqrt(1.25 / 4) / np.sqrt(7.25 / 4))
    # CRPS of two members: mean|x - y| - |x1 - x2| / 4
    crps = [(0.5 + 0.5) / 2 - 1 / 4, (1 + 1) / 2 - 2 / 4, (1 + 1) / 2 - 0, (1 + 1) / 2 - 2 / 4]
    assert s.crps == pytest.approx(np.mean(crps))
    assert s.crps_skill == pytest.approx(1 - np.mean(crps) / s.mae)
    spread = np.sqrt(np.mean(np.var(members, axis=0, ddof=1)))
    rmse_mean = np.sqrt(np.mean((members.mean(0) - observed) ** 2))
    assert s.spread_skill == pytest.approx(np.sqrt(3 / 2) * spread / rmse_mean)
    assert s.coverage == pytest.approx(3 / 4)  # case 3 (value 3, observed 2) falls outside
    assert s.brier is None
    p = site_scores(np.array([0.9, 0.2]), np.array([0.8, 0.7]), probability=True)
    assert p.brier == pytest.approx(((0.9 - 1) ** 2 + (0.2 - 1) ** 2) / 2)


def test_crps_of_an_ensemble_matches_the_pairwise_definition():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 50)), rng.normal(size=50)
    brute = np.mean(np.abs(x - y), axis=0) - 0.5 * np.mean(np.abs(x[:, None] - x[None]), axis=(0, 1))
    assert np.allclose(crps_ensemble(x, y), brute)


def test_nowcast_at_sites_then_verify_against_the_later_frames(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250, 350], [150, 300, 200])
    out = tmp_path / "nc.csv"
    code, _, err = run(
        "nowcast", *frames[:4], "--sites", sites, "--site-output", out, "--lead", "15min", "--every", "5min",
        "--members", "12", "--write-members", "-v",
    )  # fmt: skip
    assert code == 0, err
    assert "fitted on 2 one-step and 1 two-step nowcast(s)" in err
    lines = out.read_text().splitlines()
    assert lines[0] == NOWCAST_HEADER + "," + ",".join(f"m{k:02d}" for k in range(1, 13))
    table = list(csv.DictReader(lines))
    assert len(table) == 4 * 3
    with rasterio.open(frames[3]) as ds:
        issue = ds.tags()["TIFFTAG_DATETIME"]
    first = table[0]
    assert first["issue_time"][:10].replace("-", ":") == issue[:10] and first["lead_min"] == "5"
    assert all(r["value"] == "" for r in table if r["site"] == "far")
    for r in (r for r in table if r["site"] != "far"):
        assert float(r["p10"]) <= float(r["p50"]) <= float(r["p90"])
    code, text, err = run("verify", "--sites", sites, out, *frames[3:7], "--json")
    assert code == 0, err
    body = json.loads(text)
    assert [x["lead_min"] for x in body["leads"]] == [5.0, 10.0, 15.0]
    assert all(x["cases"] == 3 for x in body["leads"])
    assert all(x["skill"] > 0 for x in body["leads"])  # the flow is steady: beats persistence
    assert all(x["crps"] is not None and x["crps"] <= x["mae"] for x in body["leads"])
    code, text, _ = run("verify", "--sites", sites, out, *frames[3:7])
    assert code == 0 and text.splitlines()[0].split()[:3] == ["lead", "cases", "mae"]
    code, _, err = run("verify", "--sites", sites, out, *frames[3:7], "--cloud-model", "auto")
    assert code == 2
    one_line_error(err, "--cloud-model", "not cloud_probability")
    code, _, err = run("nowcast", *frames[:2], "--members", "5", "-o", tmp_path / "x_{lead}.tif")
    assert code == 2
    one_line_error(err, "--members", "--sites")
    code, _, err = run("nowcast", *frames[:2], "--sites", sites, "--site-output", "-", "--flow", tmp_path / "f.tif")
    assert code == 2
    one_line_error(err, "--flow", "-o")


# -- from cron ----------------------------------------------------------------------------


def test_batch_appends_site_tables_without_duplicates_and_scores_what_got_observed(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250], [150, 300])
    outdir = tmp_path / "out"
    args = ["-o", outdir, "--nowcast", "15min/5min", "--sites", sites, "-q"]
    assert run("batch", *frames[:5], *args)[0] == 0
    (seq,) = [p for p in outdir.iterdir() if p.is_dir()]
    winds, table, scores = (
        seq / "site_winds.csv",
        seq / "nowcast" / "site_nowcast.csv",
        seq / "nowcast" / "site_scores.csv",
    )

    def rows(path):
        with open(path, newline="") as fh:
            return list(csv.reader(fh))[1:]

    def records(path):
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))

    assert len(rows(winds)) == 4 * 2 + 1  # four pairs x two sites, and the far site once
    assert len(rows(table)) == 3 * 3  # three sites x three leads
    assert not scores.exists()  # nothing observed yet
    before = {p: p.read_bytes() for p in (winds, table)}
    assert run("batch", *frames[:5], *args)[0] == 0  # cron fires again: nothing new
    assert all(p.read_bytes() == b for p, b in before.items())
    with open(table, "a") as fh:  # a run killed in mid-line
        fh.write("s000,-1")
    assert run("batch", *frames[:7], *args)[0] == 0
    got = rows(table)
    keys = [(r[0], r[3], r[5]) for r in got]
    assert len(keys) == len(set(keys)) == 2 * 9  # two issue times, no torn or repeated row
    assert all(len(r) == len(got[0]) for r in got)
    scored = records(scores)
    # the 20:20 issue's 5 and 10 min leads got observed by the two new frames
    assert sorted({r["lead_min"] for r in scored}) == ["10", "5"]
    assert all(abs(float(r["error"]) - (float(r["value"]) - float(r["observed"]))) < 1e-3 for r in scored if r["value"])
    assert run("batch", *frames[:7], *args)[0] == 0
    assert len(records(scores)) == len(scored)
    assert len(rows(winds)) == 6 * 2 + 1


def test_two_frames_spread_is_the_motion_error_alone_and_verbose_says_so(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250], [150, 300], far=False)
    out = tmp_path / "nc.csv"
    code, _, err = run("nowcast", *frames[:2], "--sites", sites, "--site-output", out, "--lead", "10min", "-v")
    assert code == 0, err
    assert "two frames: no one-step nowcast" in err and "motion error only" in err
    table = list(csv.DictReader(out.read_text().splitlines()))
    assert len(table) == 2
    # motion perturbations alone still spread the members on textured sites
    assert all(float(r["p10"]) < float(r["p50"]) < float(r["p90"]) for r in table)


def test_frame_and_site_nowcasts_of_one_run_track_the_frames_once(steady, tmp_path, run, monkeypatch):
    """On pairs + 1 frames both nowcasts extrapolate the same tracked pair; on more frames the
    frame nowcast tracks its own, and --sites leaves it exactly as it is without."""
    from cloudmotion import pipeline

    _, frames = steady
    calls = []
    original = pipeline.track_frames

    def counting(infos, *args, **kw):
        calls.append(len(infos))
        return original(infos, *args, **kw)

    monkeypatch.setattr(pipeline, "track_frames", counting)
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250], [150, 300], far=False)
    common = ("--lead", "5min", "--every", "5min", "--members", "4")
    out, grid = tmp_path / "nc.csv", tmp_path / "n_{lead}.tif"
    code, _, err = run("nowcast", *frames[:2], "--sites", sites, "--site-output", out, "-o", grid, *common)
    assert code == 0, err
    assert calls == [2]  # one pair, tracked once
    table = list(csv.DictReader(out.read_text().splitlines()))
    with rasterio.open(tmp_path / "n_5.tif") as ds:
        field = ds.read(1)
    values = np.array([float(r["value"]) for r in table])
    near = np.array([field[r - 1 : r + 2, c - 1 : c + 2] for r, c in ((150, 150), (250, 300))])
    assert np.all((values >= near.min(axis=(1, 2)) - 1e-6) & (values <= near.max(axis=(1, 2)) + 1e-6))
    # three frames: the sites track all three, the frame nowcast its last two, as it does alone
    calls.clear()
    alone = tmp_path / "alone_{lead}.tif"
    assert run("nowcast", *frames[:3], "-o", alone, *common[:4])[0] == 0
    code, _, err = run(
        "nowcast", *frames[:3], "--sites", sites, "--site-output", tmp_path / "nc3.csv", "-o", grid, "--overwrite",
        *common,
    )  # fmt: skip
    assert code == 0, err
    assert calls == [2, 3, 2]
    with rasterio.open(tmp_path / "alone_5.tif") as a, rasterio.open(tmp_path / "n_5.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_site_nowcast_honours_max_gap(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150], [150], far=False)
    out = tmp_path / "nc.csv"
    code, _, err = run("nowcast", *frames[:3], "--sites", sites, "--site-output", out, "--max-gap", "60")
    assert code == 1
    one_line_error(err, f"{frames[1]}: 300 s after {frames[0]}, more than --max-gap 60 s")
    assert not out.exists()


def test_cloud_probability_at_sites_is_verified_with_a_brier_score(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150, 250, 350, 100], [150, 300, 200, 400], far=False)
    out = tmp_path / "nc.csv"
    code, _, err = run(
        "nowcast", *frames[:3], "--sites", sites, "--site-output", out, "--lead", "10min", "--every", "5min",
        "--advect", "cloud", "--write-members", "--members", "8",
    )  # fmt: skip
    assert code == 0, err
    table = list(csv.DictReader(out.read_text().splitlines()))
    assert {r["quantity"] for r in table} == {"cloud_probability"} and {r["unit"] for r in table} == {"1"}
    assert all(0.0 <= float(r[k]) <= 1.0 for r in table for k in ("value", "p10", "p90", "m01"))
    code, text, err = run("verify", "--sites", sites, out, *frames[2:5], "--json", "--cloud-model", "auto")
    assert code == 0, err
    leads = json.loads(text)["leads"]
    assert [x["lead_min"] for x in leads] == [5.0, 10.0]
    assert all(x["brier"] is not None and 0.0 <= x["brier"] <= 1.0 for x in leads)


def test_batch_sites_needs_a_vector_format_it_can_read_back(steady, tmp_path, run):
    _, frames = steady
    sites = write_sites(tmp_path / "s.csv", frames[0], [150], [150], far=False)
    code, _, err = run("batch", *frames[:3], "-o", tmp_path / "o", "--sites", sites, "--format", "geojson")
    assert code == 2
    one_line_error(err, "--sites", "--format geojson")
    assert not (tmp_path / "o").exists()


def test_a_site_on_the_frames_last_half_pixel_is_looked_up_inside_it():
    from cloudmotion.tools.site_winds import valid_at

    valid = np.ones((4, 5), bool)
    valid[3, 4] = False
    got = valid_at(valid, np.array([3.5, 0.2, np.nan, -0.5]), np.array([4.5, 0.4, 1.0, -0.5]))
    assert got.tolist() == [False, True, False, True]
