"""Where a frame's cloud probability comes from: a mixture in a TOML file, a
mixture fitted on the frame (``auto``), or a GOES L2 clear-sky mask (ABI-L2-ACM).

The numeric work is in :mod:`cloudmotion.amv.cloudprob` and :mod:`cloudmotion.amv.cloudfit`; this
module reads files, picks the cold/bright rule from the frame's band and turns problems into
one-line :class:`~cloudmotion.errors.UsageError` / :class:`~cloudmotion.errors.DataError`.

A model file lists its components; ``mean`` and ``variance`` have one value per channel
(the bands the frame is read from, in order: one for a single band, three for red, green,
blue)::

    # IR window brightness temperature, K
    [[component]]
    weight = 0.6
    mean = [288.0]
    variance = [30.0]
    cloud = false

    [[component]]
    weight = 0.4
    mean = [235.0]
    variance = [120.0]
    cloud = true
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cloudmotion.amv.cloudfit import FitReport, auto_model
from cloudmotion.amv.cloudprob import CloudModel, cloud_probability
from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.goes_names import parse_goes_name
from cloudmotion.formats.readers import Frame, FrameInfo

__all__ = [
    "CloudSource",
    "cloud_facts",
    "cloud_rule",
    "cloud_source",
    "load_cloud_model",
    "make_cloud_source",
    "mask_probability",
    "read_cloud_mask",
]

MAX_MODEL_BYTES = 1 << 20
COMPONENT_KEYS = ("weight", "mean", "variance", "cloud")
"""The keys of a ``[[component]]``; any other is refused, as unknown config keys are."""
WATER_VAPOUR_BANDS = (8, 9, 10)
_SHORT_BAND = re.compile(r"(?:^|_)G\d{2}_(?:F|C|M1|M2)_C(\d{2})_s\d{13,14}(?=[_.]|$)")


def goes_band(info: FrameInfo) -> int | None:
    """The ABI band of a frame from its GOES name (full or short form), or None."""
    if info.goes and info.goes.get("band"):
        return int(info.goes["band"])
    m = _SHORT_BAND.search(os.path.basename(info.path))
    return int(m.group(1)) if m else None


def load_cloud_model(path: str) -> CloudModel:
    """Read a ``--cloud-model FILE.toml`` (see the module's example).

    Raises
    ------
    UsageError
        Missing or unreadable file, invalid TOML, or components that break a rule of
        :class:`~cloudmotion.amv.cloudprob.CloudModel`, naming the file.
    """
    where = f"--cloud-model {path}"
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MODEL_BYTES + 1)
        if len(data) > MAX_MODEL_BYTES:
            raise UsageError(f"{where}: larger than 1 MiB; not a cloud model")
        table = tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{where}: invalid TOML ({exc})") from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise UsageError(f"{where}: invalid TOML (nested too deeply); not a cloud model") from None
    comps = table.get("component")
    if not isinstance(comps, list) or not comps or not all(isinstance(c, dict) for c in comps):
        raise UsageError(f"{where}: needs [[component]] tables with weight, mean, variance and cloud")
    try:
        for i, c in enumerate(comps, start=1):
            missing = [k for k in COMPONENT_KEYS if k not in c]
            if missing:
                raise ValueError(f"component {i} has no {', '.join(missing)}")
            unknown = sorted(set(c) - set(COMPONENT_KEYS))
            if unknown:
                raise ValueError(
                    f"component {i}: unknown key {', '.join(unknown)} (a component has {', '.join(COMPONENT_KEYS)})"
                )
            if not isinstance(c["cloud"], bool):
                raise TypeError(f"component {i}: cloud must be true or false")
        lengths = {len(np.atleast_1d(c["mean"])) for c in comps} | {len(np.atleast_1d(c["variance"])) for c in comps}
        if len(lengths) != 1:
            raise ValueError("every mean and variance needs the same number of channels")
        return CloudModel(
            weights=[float(c["weight"]) for c in comps],
            means=[np.atleast_1d(c["mean"]).astype(float) for c in comps],
            variances=[np.atleast_1d(c["variance"]).astype(float) for c in comps],
            cloud=[c["cloud"] for c in comps],
            source=path,
            rule="from the file",
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{where}: {exc}") from None


def cloud_rule(spec: str, info: FrameInfo) -> str:
    """``cold`` or ``bright`` for ``auto``: from the GOES band (1-6 visible, 7-16 infrared), or
    bright for red-green-blue images; ``auto-cold``/``auto-bright`` say it outright."""
    if spec != "auto":
        return spec.split("-", 1)[1]
    band = goes_band(info)
    if band is not None:
        return "bright" if band <= 6 else "cold"
    if len(info.bands) == 3 and info.channels == "luminance":
        return "bright"
    raise UsageError(
        f"--cloud-model auto: {info.path} names no GOES band, so it is not known whether cold or "
        "bright means cloud; use auto-cold (infrared) or auto-bright (visible)"
    )


def read_cloud_mask(path: str, frame: Frame, *, align: bool = False) -> np.ndarray:
    """Cloud probability from a clear-sky mask on the frame's grid: the ``BCM`` variable of a
    GOES ABI-L2-ACM netCDF (0 clear, 1 cloudy) or band 1 of any raster of 0/1 values, of a
    probability in [0, 1] or of the four ACM codes (0 clear, 1 probably clear, 2 probably
    cloudy, 3 cloudy; 0 and 1 count as clear, 2 and 3 as cloudy, as the product's BCM does).
    Fill values are unknown (NaN).

    The mask's grid must be the frame's: same shape, and, when the mask is georeferenced,
    the same CRS and transform, as frames of one sequence must be. With ``align`` a
    georeferenced mask on another grid is reprojected onto the frame's (bilinear, so that
    the probability stays in [0, 1]). A mask without any georeference is taken to be on the
    frame's grid when its shape is the frame's.

    Raises
    ------
    DataError
        Unreadable mask, values that are not a mask, or a mask on another grid (naming both).
    """
    from cloudmotion.formats.alignment import align_frame, describe_grid, same_grid
    from cloudmotion.formats.readers import open_frame, read_frame

    source = path
    if path.lower().endswith(".nc") and not path.upper().startswith("NETCDF:"):
        source = f"NETCDF:{path}:BCM"
    try:
        mask = read_frame(open_frame(source))
    except DataError as exc:
        raise DataError(f"--cloud-mask {path}: {str(exc).split(': ', 1)[-1]}") from None
    prob = mask_probability(path, mask)
    info, ref = mask.info, frame.info
    georeferenced = info.crs_wkt is not None or info.transform is not None
    if (not georeferenced and info.shape == ref.shape) or same_grid(info, ref):
        return prob
    if align and georeferenced:
        moved = align_frame(Frame(info=info, data=prob, valid=np.isfinite(prob)), ref)
        return np.where(moved.valid, moved.data, np.nan).astype(np.float32)
    if not georeferenced:
        (r, c), (fr, fc) = info.shape, ref.shape
        raise DataError(
            f"--cloud-mask {path}: {r}x{c} px, but {ref.path} is {fr}x{fc} px; the mask must be "
            "on the frames' grid (e.g. the 2 km ACM with a 2 km band)"
        )
    raise DataError(
        f"--cloud-mask {path}: its grid ({describe_grid(info)}) is not the grid of {ref.path} "
        f"({describe_grid(ref)}); the mask must be on the frames' grid, or --align reprojects it"
    )


def mask_probability(path: str, mask: Frame) -> np.ndarray:
    """The cloud probability (H, W) float32 a mask's valid values give: a probability in [0, 1]
    (0/1 included) as it is, ACM codes 0-3 as 0, 0, 1, 1; NaN where the mask is not valid.

    Raises
    ------
    DataError
        No valid value, or values that are none of these (a temperature, a percentage).
    """
    values = mask.data[mask.valid]
    values = values[np.isfinite(values)]
    if not values.size:
        raise DataError(f"--cloud-mask {path}: no valid value; not a cloud mask")
    lo, hi = float(values.min()), float(values.max())
    data = np.where(mask.valid & np.isfinite(mask.data), mask.data, np.nan)
    if lo >= 0 and hi <= 1:
        return data.astype(np.float32)
    if lo >= 0 and hi <= 3 and np.all(values == np.round(values)):
        return np.where(np.isfinite(data), (data >= 2).astype(np.float32), np.nan).astype(np.float32)
    raise DataError(
        f"--cloud-mask {path}: values {lo:g} to {hi:g} are not a cloud mask; expected a 0/1 mask (the ACM "
        "product's BCM), the ACM codes 0-3 or a cloud probability from 0 to 1"
    )


def find_cloud_mask(folder: str, info: FrameInfo) -> str:
    """The ACM file in ``folder`` (recursively) of the frame's satellite and scan start time."""
    if info.time is None:
        raise DataError(f"--cloud-mask {folder}: {info.path} has no time to find its mask by")
    sat = (info.goes or {}).get("satellite") or (
        re.search(r"(?:^|_)(G\d{2})_", os.path.basename(info.path)) or [None, None]
    )[1]
    for root, _, names in os.walk(folder):
        for name in sorted(names):
            t, ident = parse_goes_name(name)
            if (
                t is not None
                and abs((t - info.time).total_seconds()) < 1
                and "ACM" in name.upper()
                and (sat is None or ident is None or ident["satellite"] == sat)
            ):
                return os.path.join(root, name)
    raise DataError(
        f"--cloud-mask {folder}: no ACM file with scan start {info.time:%Y-%m-%dT%H:%M:%S}Z for {info.path}"
    )


@dataclass
class CloudSource:
    """A run's cloud probability: ``probability(frame)`` gives (H, W) float32 in [0, 1], NaN unknown."""

    model: CloudModel | None = None
    auto: str | None = None
    mask: str | None = None
    stack: Callable[[Frame], np.ndarray] | None = None
    last_fit: FitReport | None = None
    align: bool = False  # reproject a mask on another grid onto the frame's (--align)

    def probability(self, frame: Frame) -> np.ndarray:
        if self.mask is not None:
            path = find_cloud_mask(self.mask, frame.info) if os.path.isdir(self.mask) else self.mask
            return read_cloud_mask(path, frame, align=self.align)
        stack = self.stack(frame) if self.stack is not None else frame.data
        model = self.model
        if self.auto is not None:
            try:
                self.last_fit = auto_model(stack, frame.valid, cloud_is=cloud_rule(self.auto, frame.info))
            except ValueError as exc:
                raise DataError(f"{frame.info.path}: --cloud-model auto: {exc}") from None
            model = self.last_fit.model
        channels = 1 if np.ndim(stack) == 2 else np.shape(stack)[2]
        if model.n_channels != channels:
            raise UsageError(
                f"--cloud-model {model.source}: {model.n_channels} channel(s), but {frame.info.path} "
                f"is read as {channels} (--band picks one)"
            )
        return cloud_probability(stack, model, valid=frame.valid)


def _band_stack(read: Callable[[FrameInfo], Frame]) -> Callable[[Frame], np.ndarray]:
    """Every band of a multi-band frame, (H, W, C), each read alone before any channel reduction."""

    def stack(frame: Frame) -> np.ndarray:
        info = frame.info
        if len(info.bands) == 1 or info.channels is None:
            return frame.data
        bands = [read(dataclasses.replace(info, band=b, bands=(b,), channels=None)).data for b in info.bands]
        return np.stack(bands, axis=-1)

    return stack


def cloud_source(settings, read: Callable[[FrameInfo], Frame]) -> CloudSource | None:
    """The cloud source a run's settings ask for, None without one (``targets = "all"``, nothing given).

    ``read(info)`` reads one frame as the run does (NoData, valid range, DQF).

    Raises
    ------
    UsageError
        ``--cloud-model`` with ``--cloud-mask``, or an unreadable model file.
    """
    model, mask = settings.cloud_model, settings.cloud_mask
    if model is None and mask is None and settings.params.targets != "clouds":
        return None
    return make_cloud_source(model, mask, read, align=settings.align)


def make_cloud_source(
    model: str | None, mask: str | None, read: Callable[[FrameInfo], Frame], *, align: bool = False
) -> CloudSource:
    """A cloud source from ``--cloud-model`` / ``--cloud-mask`` values (neither: ``auto``);
    ``align`` reprojects a mask on another grid (``--align``)."""
    if model is not None and mask is not None:
        raise UsageError("--cloud-model and --cloud-mask: give one or the other")
    if mask is not None:
        if not os.path.exists(mask):
            raise UsageError(f"--cloud-mask {mask}: no such file or folder")
        return CloudSource(mask=mask, align=align)
    model = model or "auto"
    if model.startswith("auto"):
        return CloudSource(auto=model, stack=_band_stack(read))
    return CloudSource(model=load_cloud_model(model), stack=_band_stack(read))


def cloud_facts(frame: Frame, source: CloudSource) -> dict:
    """What ``info --cloud-model`` reports: the components, the rule and the frame's cloud share."""
    prob = source.probability(frame)
    fit = source.last_fit
    model = fit.model if fit is not None else source.model
    facts = {"cloud_share": float(np.nanmean(prob)) if np.isfinite(prob).any() else None}
    if model is None:
        return {**facts, "source": source.mask}
    comps = [
        {"weight": float(w), "mean": m.tolist(), "sd": np.sqrt(v).tolist(), "cloud": bool(c)}
        for w, m, v, c in zip(model.weights, model.means, model.variances, model.cloud, strict=True)
    ]
    facts.update(source=model.source, rule=model.rule, components=comps)
    if fit is not None:
        facts.update(bic={str(k): v for k, v in fit.bic.items()}, samples=fit.samples)
    return facts
