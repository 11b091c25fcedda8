"""Settings: the one source of truth for every default, unit, help text, rule and option name.

Each field of :class:`TrackParams` (the numeric core's settings) and :class:`Settings`
(a run's settings: reading, times, physical units, post-processing) carries a
:class:`Spec`. The command-line options (``cloudmotion.cli.options``), the TOML keys of
``--config``, ``configs/default.toml`` and the settings reference of the manual
(``docs/reference/settings.md``) are all generated
from, or tested against, these specs; validation lives only here, so a value from a
config file and the same value on the command line meet the same rule.

Run ``python -m cloudmotion.settings.text`` to print ``configs/default.toml``,
``python -m cloudmotion.settings.text --readme`` to print the settings reference's table and
``python -m cloudmotion.settings.text --readme batch`` the table of batch's own settings.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cloudmotion.settings.durations import parse_duration

__all__ = [
    "DEFAULT_MAX_ERROR",
    "DEFAULT_MAX_ERROR_SPEED",
    "GROUPS",
    "SECTIONS",
    "SettingError",
    "Settings",
    "Spec",
    "Speed",
    "TrackParams",
    "build_settings",
    "deprecation_message",
    "error_limit_px",
    "parse_duration",
    "spec_of",
    "specs",
]


from cloudmotion.settings.rules import (  # noqa: F401 - the vocabulary the settings below are declared with
    _CALIBRATE,
    _CHANNELS,
    _EQUALIZE,
    _INTERP,
    _SUBPIXEL,
    DEFAULT_MAX_ERROR,
    DEFAULT_MAX_ERROR_SPEED,
    GROUPS,
    Rule,
    SettingError,
    Spec,
    Speed,
    _bandpass,
    _choice,
    _cloud_model,
    _error_limit,
    _formats,
    _int_at_least,
    _name_pattern,
    _number,
    _profile,
    _range,
    _spec,
    deprecation_message,
    error_limit_px,
    parse_error_limit,
)
from cloudmotion.settings.rules import (
    check_value as _check,
)
from cloudmotion.settings.track_params import TrackParams


@dataclass(frozen=True)
class Settings:
    """Everything a run needs besides paths: the tracker's settings and the edges'.

    ``params`` holds :class:`TrackParams`; the other fields are about reading frames,
    times, physical units and post-processing, each with its :class:`Spec`.
    """

    params: TrackParams = field(default_factory=TrackParams)
    band: int | None = _spec(
        None,
        "int",
        "Band to read (1-based).",
        rule=_int_at_least(1),
        default_text="1; red-green-blue images: luminance",
        metavar="N",
        group="input",
    )
    channels: str | None = _spec(
        None,
        "str",
        "Reduce all bands to one channel: BT.601 luma, the first principal component over valid pixels, or the mean.",
        rule=_choice(_CHANNELS),
        choices=_CHANNELS,
        group="input",
    )
    valid_range: tuple[float, float] | None = _spec(
        None,
        "range",
        "Valid values in physical units (after scale/offset and --calibrate, e.g. K); others are NoData.",
        rule=_range,
        metavar="MIN MAX",
        group="input",
    )
    dqf: bool = _spec(False, "bool", "GOES netCDF: mask pixels whose data quality flag is not 0.", group="input")
    align: bool = _spec(
        False, "bool", "Reproject later frames onto the first frame's grid (rasterio.warp, bilinear).", group="input"
    )
    max_dt: float | None = _spec(
        None,
        "duration",
        "Deprecated, replaced by --max-gap (the same duration): warns.",
        unit="s",
        rule=_number(0, lo_open=True),
        metavar="DURATION",
        deprecated=True,
        group="input",
    )
    force: bool = _spec(
        False, "bool", "Track frames whose GOES names give different satellites, sectors or bands.", group="input"
    )
    nodata: float | None = _spec(
        None,
        "float",
        "NoData value in stored units (before scale/offset and calibration), on top of the file's own mask.",
        metavar="VALUE",
        group="input",
    )
    dt: float | None = _spec(
        None,
        "float",
        "Time between frames, overriding file names and tags.",
        unit="s",
        rule=_number(0, lo_open=True),
        metavar="SECONDS",
        group="input",
    )
    pixel_size: float | None = _spec(
        None,
        "float",
        "Pixel size for frames without a CRS (north up), for m/s output.",
        unit="m",
        rule=_number(0, lo_open=True),
        metavar="M",
        group="input",
    )
    fill: bool = _spec(
        False,
        "bool",
        "Replace flagged vectors by normalised-convolution interpolation of good "
        "neighbours; they keep their flags plus FILLED.",
        flag=1024,
        group="qc",
    )
    # calibration, cloud-top temperature and height, parallax
    calibrate: str = _spec(
        "auto",
        "str",
        "GOES L1b values to track: auto = brightness temperature (K) for infrared "
        "bands, reflectance factor for visible bands, anything else as stored; bt, reflectance or "
        "radiance force one.",
        rule=_choice(_CALIBRATE),
        choices=_CALIBRATE,
        group="input",
    )
    ctt_share: float = _spec(
        0.25,
        "float",
        "Share of a template's coldest valid pixels whose mean is its cloud-top temperature ctt (EBBT).",
        rule=_number(0, 1, lo_open=True),
        group="amv",
    )
    max_ctt: float = _spec(
        273.0,
        "float",
        "Warmest ctt given a pressure and height; warmer templates are taken as clear sky.",
        unit="K",
        rule=_number(0, lo_open=True),
        metavar="K",
        group="amv",
    )
    profile: str = _spec(
        "standard",
        "str",
        "Temperature profile for the height: standard (US 1976), tropical "
        "(AFGL 1986) or a sounding FILE.csv with columns pressure_hPa,temperature_K[,height_m].",
        rule=_profile,
        metavar="standard|tropical|FILE.csv",
        group="amv",
        words=("standard", "tropical"),
    )
    parallax: bool = _spec(
        False,
        "bool",
        "Move vectors with a height to the point under the cloud "
        "(lon_corrected, lat_corrected) and take winds from the corrected ends.",
        group="amv",
    )
    # nowcast (options of the nowcast command only, hence cli=False; TOML keys everywhere)
    pairs: int = _spec(
        1,
        "int",
        "Nowcast: the motion field is the ee-weighted mean of the last N pairs.",
        cli=False,
        rule=_int_at_least(1),
        metavar="N",
        group="nowcast",
    )
    flow_smoothing: float | None = _spec(
        None,
        "float",
        "Nowcast: smoothing length of the dense motion field (Gaussian normalised convolution of the good vectors).",
        unit="px",
        cli=False,
        rule=_number(0, 1000, lo_open=True),  # beyond ~1000 px the field is the median; 1e9 would fill the memory
        default_text="step",
        group="nowcast",
    )
    site_radius: float = _spec(
        2.0,
        "float",
        "Sites: radius of the good vectors averaged into a site's wind, in vector spacings (--step).",
        rule=_number(0, lo_open=True),
        metavar="SPACINGS",
        group="output",
    )
    # --targets clouds
    cloud_model: str | None = _spec(
        None,
        "str",
        "Cloud probability per pixel from a Gaussian mixture: a TOML file "
        "of components, or auto (fitted on each frame; infrared: cold is cloud, "
        "visible: bright is cloud; auto-cold or auto-bright say which).",
        rule=_cloud_model,
        metavar="FILE.toml|auto",
        default_text="auto with --targets clouds",
        group="qc",
        words=("auto", "auto-cold", "auto-bright"),
    )
    cloud_mask: str | None = _spec(
        None,
        "str",
        "Cloud probability from a GOES clear-sky mask (ABI-L2-ACM netCDF, "
        "its BCM) instead: one file, or a folder searched by scan start time.",
        metavar="FILE|DIR",
        group="qc",
    )
    # daily use from cron and pipes
    max_gap: float | None = _spec(
        None,
        "duration",
        "Pairs of frames further apart in time are not tracked: track "
        "refuses them, batch skips them (recorded and warned once); 900, 20min, 1h.",
        unit="s",
        rule=_number(0, lo_open=True),
        metavar="DURATION",
        group="input",
    )
    name_pattern: str | None = _spec(
        None,
        "str",
        "Frame times (and batch sequences) from file names with strftime "
        "fields %Y %y %m %d %j %H %M %S %f, e.g. '%Y%m%d%H%M_radar.tif'; a * names "
        "one sequence per matched text.",
        rule=_name_pattern,
        metavar="PATTERN",
        group="input",
    )
    format: str = _spec(
        "csv",
        "str",
        "Output formats, one file per pair each: csv, tif, geojson, nc, dmw.nc (as for track -o).",
        rule=_formats,
        metavar="FMT[,FMT...]",
        scope="batch",
        group="output",
    )
    template: str | None = _spec(
        None,
        "str",
        "Output names inside OUTDIR: {sequence}, {time_a:STRFTIME}, {time_b:STRFTIME}, {ext}.",
        metavar="TEMPLATE",
        scope="batch",
        default_text="{sequence}/{time_a:%Y%m%dT%H%M%S}_{time_b:%H%M%S}.{ext}",
        group="output",
    )
    workers: int | None = _spec(
        None,
        "int",
        "Local worker processes.",
        rule=_int_at_least(1),
        metavar="N",
        default_text="1",
        scope="batch",
        group="run",
    )
    lock: bool = _spec(
        False,
        "bool",
        "Hold OUTDIR/.cloudmotion.lock; exit at once with status 1 when another run holds it (cron).",
        scope="batch",
        group="run",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.params, TrackParams):
            raise SettingError("params", "must be TrackParams")
        for f in dataclasses.fields(self):
            if f.name != "params" and getattr(self, f.name) is not None:
                value = _coerce(f.name, f.metadata["spec"], getattr(self, f.name))
                _check(f.name, f.metadata["spec"], value)
                object.__setattr__(self, f.name, value)
        if self.max_dt is not None:  # the old spelling of max_gap
            warnings.warn(
                "max_dt (--max-dt) is deprecated: use max_gap (--max-gap), which takes the same "
                "duration (900, 20min, 1h)",
                FutureWarning,
                stacklevel=3,
            )
            if self.max_gap is None:
                object.__setattr__(self, "max_gap", self.max_dt)
            object.__setattr__(self, "max_dt", None)


SECTIONS = (TrackParams, Settings)
"""The settings dataclasses, in the order their options are listed."""


def specs() -> Iterator[tuple[str, Spec, Any]]:
    """Every setting as (name, spec, default), TrackParams first, in declaration order."""
    for cls in SECTIONS:
        for f in dataclasses.fields(cls):
            if "spec" in f.metadata:
                yield f.name, f.metadata["spec"], f.default


def spec_of(name: str) -> Spec:
    """The :class:`Spec` of one setting (KeyError for an unknown name)."""
    for key, spec, _ in specs():
        if key == name:
            return spec
    raise KeyError(name)


def _coerce(name: str, spec: Spec, value: Any) -> Any:
    """Config values: an int where a float is expected, a list where a range is, text for a duration."""
    if spec.auto and isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value)  # --search 24 (the option takes text, for "auto")
    if spec.kind in ("float", "duration") and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if spec.kind == "error":
        return parse_error_limit(value)
    if spec.kind == "duration" and isinstance(value, str):
        seconds = parse_duration(value)
        return value if seconds is None else seconds
    if spec.kind == "range" and spec.sep and isinstance(value, str) and value.count(spec.sep) == 1:
        try:
            value = tuple(float(x) for x in value.split(spec.sep))
        except ValueError:
            return value  # not two numbers: the type check names the setting
    if spec.kind == "range" and isinstance(value, list | tuple) and len(value) == 2:
        return tuple(float(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in value)
    return value


def build_settings(values: dict[str, Any]) -> Settings:
    """Validated :class:`Settings` from canonical keys (``min_valid``); None means the default.

    ``step`` follows ``window`` unless given. Raises :class:`SettingError` naming the
    first key whose value breaks its rule, or :class:`KeyError` for an unknown key.
    """
    track_keys = {f.name for f in dataclasses.fields(TrackParams)}
    run_keys = {f.name for f in dataclasses.fields(Settings)} - {"params"}
    track: dict[str, Any] = {}
    run: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "qc_options":
            track[key] = value
            continue
        if key not in track_keys | run_keys:
            raise KeyError(key)
        value = _coerce(key, spec_of(key), value)
        _check(key, spec_of(key), value)
        (track if key in track_keys else run)[key] = value
    return Settings(params=TrackParams(**track), **run)
