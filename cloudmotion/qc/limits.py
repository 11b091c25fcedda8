"""The ``max_error`` threshold of a run: each pair's pixels per m/s, and the resolved threshold in words.

A speed threshold (``--max-error 2.5m/s``, and the default of 2 m/s) means a different
number of pixels at every template: ``px = speed * dt / ground pixel size``, with the
ground size from the frame's CRS (:func:`cloudmotion.geo.ground_scale`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cloudmotion.errors import UsageError
from cloudmotion.geo import ground_scale
from cloudmotion.grid import make_grid
from cloudmotion.settings.params import (
    DEFAULT_MAX_ERROR_SPEED,
    SettingError,
    Settings,
    Speed,
    TrackParams,
    error_limit_px,
)

__all__ = ["describe_limit", "pair_scales"]


def pair_scales(info, settings: Settings, steps: Sequence[float | None]) -> list[np.ndarray | None]:
    """Pixels per m/s at every template of each pair (its time step over the local ground pixel size).

    Parameters
    ----------
    info : FrameInfo
        Frame A of the sequence (``shape``, ``transform``, ``crs_wkt``, ``path``): every
        pair shares its grid.
    settings : Settings
    steps : sequence of float or None
        Seconds per pair.

    Returns
    -------
    list of ndarray (grid rows, grid cols) or None

    None for a pair whose time step is unknown, or for every pair when the frames have no
    CRS and no ``--pixel-size``.

    Raises
    ------
    UsageError
        ``--max-error`` is a speed and a pair's scale is unknown: refused before any work,
        naming ``--max-error``.
    """
    p = settings.params
    grid = make_grid(info.shape, p.window, p.step or max(1, p.window // 2))
    row, col = grid.centres()
    size = ground_scale(row, col, transform=info.transform, crs_wkt=info.crs_wkt, pixel_size=settings.pixel_size)
    out: list[np.ndarray | None] = []
    for dt in steps:
        if dt is None or size is None:
            out.append(None)
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(dt / size)
    if isinstance(p.max_error, Speed) and any(s is None for s in out):
        what = "time step (file names, tags or --dt)" if size is not None else "pixel size (a CRS or --pixel-size)"
        raise UsageError(
            f"--max-error {p.max_error}: a speed needs each pair's {what}, which {info.path} "
            "and its partner do not give; give the threshold in px (e.g. --max-error 0.3px) or the missing value"
        )
    return out


def describe_limit(params: TrackParams, scale: np.ndarray | None) -> str:
    """The resolved ``max_error`` of a pair in words, for ``-v``: ``2 m/s (default) = 0.29-0.31 px``."""
    given = "default" if params.max_error is None else "--max-error"
    try:
        limit = np.asarray(error_limit_px(params.max_error, scale), dtype=np.float64)
    except SettingError:
        return f"{params.max_error} ({given}): no time step or pixel size to convert it"
    if params.max_error is not None and not isinstance(params.max_error, Speed):
        return f"{limit.max():g} px ({given})"
    if scale is None:
        return f"{limit.max():g} px ({given}: the pair's time step or pixel size is unknown)"
    speed = params.max_error.value if isinstance(params.max_error, Speed) else DEFAULT_MAX_ERROR_SPEED
    ok = limit[np.isfinite(limit)]
    span = f"{ok.min():.3g}-{ok.max():.3g} px" if ok.size else "no px value (no vector on the Earth)"
    return f"{speed:g} m/s ({given}) = {span} at the templates' pixel sizes"
