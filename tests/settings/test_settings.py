"""One source of truth for settings: every default, help text, TOML key and rule comes from
cloudmotion.settings.params, and these tests fail when the CLI, the presets or the settings
reference (docs/reference/settings.md) drift."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from support import ROOT, SAMPLE, one_line_error

from cloudmotion.errors import UsageError
from cloudmotion.settings import params
from cloudmotion.settings import text as settings_text
from cloudmotion.settings.config import load_config, preset_names, resolve_settings


def test_default_toml_is_generated_from_params():
    with open(os.path.join(ROOT, "configs", "default.toml")) as fh:
        assert fh.read() == settings_text.default_toml(), (
            "regenerate: python -m cloudmotion.settings.text > configs/default.toml"
        )


def test_default_preset_equals_the_code_defaults_and_step_follows_the_window():
    # the drift this issue found: default.toml pinned step = 16, so --window 48 kept step 16
    s = resolve_settings({"window": 48}, "default")
    assert s.params.window == 48 and s.params.step == 24
    assert resolve_settings({}, "default") == params.Settings()


@pytest.mark.parametrize(("marker", "scope"), [("settings table", None), ("batch settings table", "batch")])
def test_settings_reference_table_is_generated_from_params(marker, scope):
    with open(os.path.join(ROOT, "docs", "reference", "settings.md")) as fh:
        text = fh.read()
    m = re.search(rf"<!-- {marker}:[^\n]*-->\n(.*?)<!-- end of {marker} -->", text, re.DOTALL)
    assert m, f"docs/reference/settings.md lost its generated {marker}"
    assert m.group(1) == settings_text.readme_table(scope), (
        "regenerate: python -m cloudmotion.settings.text --readme " + (scope or "")
    )


@pytest.mark.parametrize("command", ["track", "batch"])
def test_every_cli_setting_is_an_option_with_its_default_in_the_help(run, command):
    code, out, _ = run(command, "--help")
    assert code == 0
    text = " ".join(out.split())
    for name, spec, default in params.specs():
        opt = settings_text.option_name(name)
        if not spec.cli or (spec.scope is not None and spec.scope != command):
            assert re.search(rf"{re.escape(opt)}\b", text) is None, f"{opt} is config-only"
            continue
        assert opt in text, f"{opt} missing from {command} --help"
        shown = settings_text.default_text(name, spec, default)
        if shown is not None:
            squeezed = "".join(text.split())  # click wraps long lines, also at hyphens
            assert "".join(f"[default: {shown}]".split()) in squeezed, f"{opt}: default {shown} not in the help"


@pytest.mark.parametrize("preset", preset_names())
def test_every_shipped_preset_loads_and_validates(preset):
    settings = resolve_settings({}, preset)
    assert isinstance(settings.params, params.TrackParams)


BAD = [
    ("window", 2, "must be an integer >= 4"),
    ("step", 0, "must be an integer >= 1"),
    ("sigma", 1e6, "<= 100"),
    ("min_corr", 1.5, "<= 1"),
    ("pixel_size", -2000, "> 0"),
    ("pixel_size", 0, "> 0"),
    ("dt", 0, "> 0"),
    ("dt", -5, "> 0"),
    ("max_speed", 0, "> 0"),
    ("subpixel", "spline", "must be one of gaussian, parabolic, centroid"),
    ("band", 0, "must be an integer >= 1"),
]


@pytest.mark.parametrize(("key", "value", "rule"), BAD)
def test_config_and_command_line_meet_the_same_rule(tmp_path, key, value, rule):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"{key} = {value!r}\n".replace("'", '"'))
    with pytest.raises(UsageError) as from_file:
        resolve_settings({}, str(cfg))
    with pytest.raises(UsageError) as from_cli:
        resolve_settings({key: value})
    assert str(from_file.value) == f"--config {cfg}: {key} {from_cli.value.args[0].split(': ', 1)[1]}"
    assert str(from_cli.value).startswith(settings_text.option_name(key) + ": ") and rule in str(from_cli.value)


def test_nan_in_a_config_is_refused(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("dt = nan\n")
    with pytest.raises(UsageError, match=r"--config .*c.toml: dt must be a finite number > 0, got nan"):
        resolve_settings({}, str(cfg))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\xff\xfe garbage \x89PNG", "not a text file"),
        (b"window = [1, 2]\n", "must be a single value"),
        (b"window = 32.5\n", "must be an integer"),
        (b"fill = 1\n", "must be true or false"),
    ],
)
def test_bad_config_files_are_one_line_usage_errors(tmp_path, content, why):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(content)
    with pytest.raises(UsageError, match=re.escape(why)):
        load_config(str(cfg)) if why == "must be a single value" else resolve_settings({}, str(cfg))


def test_config_from_dev_zero_is_refused_without_reading_it_all(run):
    code, _, err = run("track", *SAMPLE[:2], "--config", "/dev/zero")
    assert code == 2
    one_line_error(err, "--config /dev/zero", "not a settings file")


def test_negative_pixel_size_in_config_is_a_usage_error_through_the_cli(tmp_path, run):
    cfg = tmp_path / "c.toml"
    cfg.write_text("pixel_size = -2000\n")
    code, out, err = run("track", *SAMPLE[:2], "--config", cfg)
    assert code == 2 and out == ""
    one_line_error(err, "c.toml", "pixel_size must be a finite number > 0")


def test_library_params_refuse_bad_values_with_the_field_name():
    with pytest.raises(params.SettingError, match="^window must be an integer >= 4, got 3$"):
        params.TrackParams(window=3)
    assert params.TrackParams(window=40).step == 20


def test_help_starts_without_heavy_imports():
    # the import cost is paid only by the command that needs it (timings live in benchmarks/)
    code = (
        "import sys; from cloudmotion.cli.main import main; main(['track', '--help']);"
        "heavy = {'cv2', 'scipy', 'rasterio', 'pyproj', 'numpy'} & set(sys.modules); print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_preset_name_is_the_shipped_preset_whatever_the_folder_holds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "amv").mkdir()  # as `synth amv` leaves one
    (tmp_path / "fast").write_text("junk = 1\n")
    assert resolve_settings({}, "amv").params.targets == "clouds"
    assert resolve_settings({}, "fast").params.refine is False
    with pytest.raises(UsageError, match="unknown key 'junk'"):
        resolve_settings({}, "./fast")  # a path is a path


def test_every_geotiff_band_has_a_unit():
    from cloudmotion.formats.geotiff import BAND_UNITS, GEOTIFF_BANDS

    assert set(BAND_UNITS) == set(GEOTIFF_BANDS)
