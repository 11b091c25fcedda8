"""The search range of a run: ``search = "auto"`` resolved from the frames' pixel size and time
steps, and the warning when the range was too small for what moved."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from cloudmotion.formats.readers import FrameInfo
from cloudmotion.geo import smallest_pixel
from cloudmotion.model import MotionField
from cloudmotion.motion.search import AUTO_FALLBACK, auto_search, border_share
from cloudmotion.settings.params import Settings

__all__ = ["BORDER_WARN_SHARE", "border_warning", "frame_pixel", "resolve_search"]

BORDER_WARN_SHARE = 0.05
"""Share of the textured templates peaking at the search border above which a pair warns."""


def frame_pixel(info: FrameInfo, settings: Settings) -> float | None:
    """The frame's smallest ground pixel, m: from its CRS, else ``--pixel-size``, else None."""
    if info.crs_wkt and info.transform is not None:
        try:
            return smallest_pixel(info.shape, transform=info.transform, crs_wkt=info.crs_wkt)
        except (ValueError, RuntimeError):  # a CRS pyproj cannot place on the Earth: no ground size
            return settings.pixel_size
    return settings.pixel_size


def resolve_search(settings: Settings, infos: Sequence[FrameInfo], steps: Sequence[float | None]) -> Settings:
    """``settings`` with ``search = "auto"`` replaced by pixels; an explicit search is kept.

    Auto is :func:`cloudmotion.motion.search.auto_search` of the largest known time step
    of the run's pairs and the first frame's smallest ground pixel (all frames share one
    grid), or :data:`~cloudmotion.motion.search.AUTO_FALLBACK` when either is unknown.
    """
    p = settings.params
    if p.search != "auto":
        return settings
    known = [s for s in steps if s]
    pixel = frame_pixel(infos[0], settings) if known else None
    n = auto_search(p.max_speed, max(known), pixel, infos[0].shape) if known and pixel else AUTO_FALLBACK
    return dataclasses.replace(settings, params=dataclasses.replace(p, search=n))


def border_warning(field: MotionField, a: FrameInfo, b: FrameInfo) -> str | None:
    """One line when more than :data:`BORDER_WARN_SHARE` of the textured templates peak at the search border."""
    p = field.params
    if p is None or field.at_search_limit is None:
        return None
    share = border_share(field.at_search_limit, field.valid_fraction, field.texture, p.min_valid)
    if share <= BORDER_WARN_SHARE:
        return None
    return (
        f"{a.path} -> {b.path}: {100 * share:.0f} % of the textured templates peak at the search border "
        f"(--search {p.search}): the motion may be larger; --search {2 * p.search} would cover twice the range"
    )
