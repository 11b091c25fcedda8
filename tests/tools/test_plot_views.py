"""Pictures a forecaster reads: thinned vectors on a CONUS-size frame, coastlines in the
frame's CRS, nowcasts on lon/lat axes, loops with one picture per frame or lead, shell
completion of fixed values and grouped --help."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import rasterio
from support import SAMPLE, one_line_error

from cloudmotion.settings import params
from cloudmotion.settings.text import option_name

pytest.importorskip("matplotlib")

from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver
from PIL import Image

from cloudmotion.model import Vectors
from cloudmotion.tools.coastlines import COASTLINE_FILE, natural_earth_lines
from cloudmotion.tools.plot import quicklook
from cloudmotion.tools.plot_loop import match_pairs

T0 = datetime(2019, 10, 27, 20, 0, 27, 500000, tzinfo=UTC)


@pytest.fixture
def drawn(monkeypatch):
    """The figures saved while the test runs (savefig still writes them)."""
    figures = []
    real = Figure.savefig

    def record(self, *a, **k):
        figures.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(Figure, "savefig", record)
    return figures


@pytest.fixture(scope="module")
def conus():
    """A CONUS-size (1500 x 2500) GOES-17 frame: the sample's texture mirrored and tiled on
    the sample's fixed grid (same CRS, same 2 km pixels), reaching from Alaska's panhandle
    to Mexico; and its transform and CRS."""
    with rasterio.open(SAMPLE[0]) as ds:
        img, tr, wkt = ds.read(1).astype(np.float64), ds.transform, ds.crs.to_wkt()
    tile = np.block([[img, img[:, ::-1]], [img[::-1], img[::-1, ::-1]]])
    big = np.tile(tile, (2, 3))[:1500, :2500]
    transform = (tr.a, 0.0, tr.c - 1000 * tr.a, 0.0, tr.e, tr.f - 400 * tr.e)
    return big, transform, wkt


def grid_vectors(shape, transform, wkt, step=16, window=32):
    """Vectors on a track-like grid over the frame: 2 px east, 0.5 px south, 15 m/s."""
    rows = np.arange(window / 2 - 0.5, shape[0] - window / 2, step)
    cols = np.arange(window / 2 - 0.5, shape[1] - window / 2, step)
    rr, cc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    n = rr.size
    values = {
        "row": rr,
        "col": cc,
        "dx": np.full(n, 2.0),
        "dy": np.full(n, 0.5),
        "speed": np.full(n, 15.0),
        "flag": np.zeros(n, dtype=np.int64),
    }
    return Vectors(
        values=values,
        time_a=T0,
        time_b=T0 + timedelta(minutes=5),
        transform=transform,
        crs_wkt=wkt,
        shape=(rows.size, cols.size),
        window=window,
        step=step,
    )


def arrows(fig) -> int:
    return sum(c.N for ax in fig.axes for c in ax.collections if isinstance(c, Quiver))


def lines(fig, gid) -> list[np.ndarray]:
    return [
        s
        for ax in fig.axes
        for c in ax.collections
        if isinstance(c, LineCollection) and c.get_gid() == gid
        for s in c.get_segments()
    ]


def pixel_of(lon, lat, transform, wkt):
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", wkt, always_xy=True).transform(lon, lat)
    a, _, c, _, e, f = transform
    return (x - c) / a - 0.5, (y - f) / e - 0.5  # column, row (north-up grid)


def test_conus_quicklook_thins_to_a_readable_density_with_coastlines(conus, tmp_path, drawn):
    img, transform, wkt = conus
    v = grid_vectors(img.shape, transform, wkt)
    assert v.n > 14000  # as many as track draws on CONUS at its defaults
    quicklook(v, img, str(tmp_path / "conus.png"), transform=transform, crs_wkt=wkt)
    fig = drawn[-1]
    n = arrows(fig)
    assert 150 <= n <= 1500, n
    # arrows lie at least ~25 picture pixels apart: 8 in at 100 dpi shows 2500 columns in < 650 px
    width_px = fig.axes[0].get_window_extent().width
    cols_drawn = np.unique(next(c for c in fig.axes[0].collections if isinstance(c, Quiver)).X)
    assert np.min(np.diff(cols_drawn)) * width_px / img.shape[1] >= 25
    coast = lines(fig, "coastline")
    assert len(coast) > 200 and lines(fig, "borders")
    # the coast passes by San Francisco's Ocean Beach where pyproj puts it on this grid
    col, row = pixel_of(-122.51, 37.76, transform, wkt)
    ends = np.concatenate(coast)
    assert np.min(np.hypot(ends[:, 0] - col, ends[:, 1] - row)) < 3.0
    assert ((ends[:, 0] >= -0.5) & (ends[:, 0] <= img.shape[1] - 0.5)).mean() > 0.95  # cut to the frame
    # --every still overrides the default thinning
    quicklook(v, img, str(tmp_path / "every.png"), transform=transform, crs_wkt=wkt, every=3)
    assert arrows(drawn[-1]) == int(np.ceil(v.shape[0] / 3) * np.ceil(v.shape[1] / 3))


def test_coastlines_ship_small_and_public_domain():
    assert os.path.getsize(COASTLINE_FILE) <= 2 * 1024 * 1024
    lines_ = natural_earth_lines()
    assert set(lines_) == {"coastline", "borders"}
    coast = lines_["coastline"]
    ok = np.isfinite(coast).all(axis=1)
    assert ok.sum() > 50000 and np.abs(coast[ok, 0]).max() <= 180 and np.abs(coast[ok, 1]).max() <= 90


def test_sample_quicklook_from_the_cli_keeps_a_readable_density(tmp_path, run, drawn):
    vec = tmp_path / "v.csv"
    assert run("track", *SAMPLE[:2], "-o", vec)[0] == 0
    code, _, err = run("plot", vec, SAMPLE[0], "-o", tmp_path / "q.png")
    assert code == 0, err
    fig = drawn[-1]
    assert 100 <= arrows(fig) <= 400  # 900 vectors on 500 x 500 px: every 2nd
    assert "every 2" in fig.axes[0].get_title() and len(lines(fig, "coastline")) > 50
    code, _, err = run("plot", vec, SAMPLE[0], "-o", tmp_path / "n.png", "--no-coastlines", "--every", "1")
    assert code == 0, err
    assert not lines(drawn[-1], "coastline") and arrows(drawn[-1]) > 800


@pytest.fixture(scope="module")
def nowcasts(tmp_path_factory):
    """Two leads (5 and 10 min) from the first two sample frames; the third sample frame is
    the observed frame valid at the first lead."""
    from cloudmotion.cli.main import main

    out = tmp_path_factory.mktemp("nowcast")
    code = main(
        [
            "nowcast",
            SAMPLE[0],
            SAMPLE[1],
            "--lead",
            "10min",
            "--every",
            "5min",
            "-q",
            "-o",
            str(out / "nc_{lead:03d}.tif"),
        ]
    )
    assert code == 0
    return out, sorted(glob.glob(str(out / "nc_*.tif")))


def test_nowcast_picture_has_lon_lat_axes_inversion_and_a_value_colour_bar(nowcasts, run, drawn):
    out, paths = nowcasts
    code, _, err = run("plot", paths[0], "-o", out / "one.png", "--observed", SAMPLE[2])
    assert code == 0, err
    fig = drawn[-1]
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("longitude") and ax.get_ylabel() == "latitude"
    labels = [t.get_text() for t in ax.get_xticklabels()] + [t.get_text() for t in ax.get_yticklabels()]
    assert any(t.endswith("°W") for t in labels) and any(t.endswith("°N") for t in labels)
    assert ax.images[0].get_cmap().name.startswith("gray_r")  # GOES band 13: cold is white
    bar = [a for a in fig.axes if a.get_ylabel()]
    assert any("radiance" in a.get_ylabel() and "mW" in a.get_ylabel() for a in bar)
    assert lines(fig, "coastline")
    with rasterio.open(paths[0]) as ds:
        assert "radiance" in ds.tags()["QUANTITY"]


def test_nowcast_loop_has_one_picture_per_lead(nowcasts, run, drawn):
    out, paths = nowcasts
    gif = out / "loop.gif"
    code, _, err = run("plot", *reversed(paths), "-o", gif, "--observed", SAMPLE[2], "--dpi", "50")
    assert code == 0, err
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == len(paths) == 2
    assert "+5 min" in drawn[-1].axes[0].get_title() or "+10 min" in drawn[-1].axes[0].get_title()
    code, _, err = run("plot", *paths, "-o", out / "l2.gif", "--observed", SAMPLE[1])
    assert code == 1
    one_line_error(err, "--observed", "no lead's valid time")
    # --observed takes the words after it (a glob): the second one is read as observed, at no lead's time
    code, _, err = run("plot", *paths, "-o", out / "l3.gif", "--observed", SAMPLE[2], SAMPLE[0])
    assert code == 1
    one_line_error(err, os.path.basename(SAMPLE[0]), "no lead's valid time")
    code, _, err = run("plot", *paths, "-o", out / "two.png")
    assert code == 2
    one_line_error(err, "2 nowcasts make a loop")


def test_vector_loop_has_one_picture_per_frame_shown_with_its_pair(tmp_path, run):
    vec = tmp_path / "v.csv"
    assert run("track", *SAMPLE, "-o", vec, "--step", "32")[0] == 0
    gif = tmp_path / "loop.gif"
    code, _, err = run("plot", vec, *SAMPLE, "-o", gif, "--dpi", "50")
    assert code == 0, err
    with Image.open(gif) as im:
        assert im.n_frames == len(SAMPLE) == 3
        sizes = set()
        for k in range(im.n_frames):
            im.seek(k)
            sizes.add(im.size)
        assert len(sizes) == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
    code, _, err = run("plot", vec, *SAMPLE, "-o", tmp_path / "loop.png")
    assert code == 2
    one_line_error(err, "3 FRAMEs make a loop")


def test_loop_write_failure_leaves_no_file(tmp_path, run, monkeypatch):
    from matplotlib.animation import PillowWriter

    vec = tmp_path / "v.csv"
    assert run("track", *SAMPLE[:2], "-o", vec, "--step", "64")[0] == 0

    def broken(self, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(PillowWriter, "grab_frame", broken)
    code, _, err = run("plot", vec, *SAMPLE[:2], "-o", tmp_path / "loop.gif", "--dpi", "30")
    assert code == 1 and "No space left" in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == ["v.csv"]


def test_mp4_without_ffmpeg_is_refused_in_one_line(tmp_path, run, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    code, _, err = run("plot", SAMPLE[0], *SAMPLE, "-o", tmp_path / "loop.mp4")
    assert code == 2
    one_line_error(err, "loop.mp4", "ffmpeg")
    assert not (tmp_path / "loop.mp4").exists()


def test_loop_pairs_match_frames_by_time_or_order():
    def pair(k):
        return Vectors(
            values={"row": np.zeros(1), "col": np.zeros(1)},
            time_a=T0 + timedelta(minutes=5 * k),
            time_b=T0 + timedelta(minutes=5 * k + 5),
        )

    pairs = [pair(0), pair(1)]
    times = [T0 + timedelta(minutes=m) for m in (10, 0, 5)]
    assert match_pairs(pairs, times, "v.csv") == [1, 0, 1]
    assert match_pairs(pairs, [None, None, None], "v.csv") == [0, 1, 1]
    from cloudmotion.errors import DataError

    with pytest.raises(DataError, match="no pair starts at 2019-10-27T20:20:27.5Z"):
        match_pairs(pairs, [T0 + timedelta(minutes=20)], "v.csv")
    with pytest.raises(DataError, match="2 pair"):
        match_pairs(pairs, [None] * 5, "v.csv")


def completions(*words: str) -> list[str]:
    env = {
        **os.environ,
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
        "_CLOUDMOTION_COMPLETE": "bash_complete",
    }
    code = "import sys; from cloudmotion.cli.main import main; sys.exit(main(sys.argv[1:]))"
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    return res.stdout.splitlines()


def test_fixed_values_complete_from_the_settings_choices():
    from click.shell_completion import ShellComplete

    from cloudmotion.cli.main import cli

    complete = ShellComplete(cli, {}, "cloudmotion", "_CLOUDMOTION_COMPLETE")
    chosen = [(n, s) for n, s, _ in params.specs() if s.cli and s.choices]
    assert {"subpixel", "targets", "calibrate", "search_mode", "equalize", "channels"} <= {n for n, _ in chosen}
    for name, spec in chosen:
        for command in ("track", "batch", "nowcast"):
            got = [c.value for c in complete.get_completions([command, option_name(name)], "")]
            assert got == list(spec.choices()), (command, name, got)
    assert [c.value for c in complete.get_completions(["track", "--targets"], "c")] == ["clouds"]
    profile = complete.get_completions(["track", "--profile"], "")
    assert [c.value for c in profile if c.type == "plain"] == ["standard", "tropical"]
    assert any(c.type == "file" for c in profile)  # a sounding FILE.csv too
    # through the shell protocol, as plot --style does
    assert completions("cloudmotion", "track", "--subpixel", "p") == ["plain,parabolic"]
    assert completions("cloudmotion", "plot", "x.csv", "--style", "") == ["plain,arrows", "plain,barbs"]


def test_track_help_groups_options_under_headings(run):
    code, out, _ = run("track", "--help")
    assert code == 0
    heads = [
        "Input options:",
        "Search options:",
        "Refinement options:",
        "Quality control options:",
        "AMV (height, parallax) options:",
        "Output options:",
        "Running options:",
    ]
    at = [out.index(h) for h in heads]
    assert at == sorted(at) and "Other options:" not in out

    def section(head):
        start = out.index(head)
        ends = [out.index(h) for h in heads if out.index(h) > start]
        return out[start : min(ends) if ends else len(out)]

    assert "--subpixel" in section("Refinement options:") and "--window" in section("Search options:")
    assert "--min-corr" in section("Quality control options:") and "--profile" in section("AMV (height, parallax)")
    assert "--band" in section("Input options:") and "--plot" in section("Output options:")
    assert all(spec.group in params.GROUPS for _, spec, _ in params.specs())
