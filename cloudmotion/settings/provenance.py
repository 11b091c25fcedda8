"""What every output records about how it was made: the tool's version and the settings used.

GeoTIFF tags (``CLOUDMOTION_VERSION``, ``CLOUDMOTION_SETTINGS``), netCDF global attributes
(``cloudmotion_version``, ``cloudmotion_settings``) and the GeoJSON collection's
``properties`` block carry it; the CSV header is a fixed contract and does not.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

__all__ = ["provenance", "settings_json"]

_RESOURCES = ("threads", "chunk")
"""Settings that change how fast a pair is tracked, never its result: left out, so that an output
is the same byte for byte whether it ran serially, in a worker (threads shared out) or on a cluster."""


def _plain(value: Any) -> Any:
    from cloudmotion.settings.rules import Speed

    if isinstance(value, Speed):
        return str(value)  # "2.5m/s", as a config file gives it
    return list(value) if isinstance(value, tuple) else value


def provenance(settings=None) -> dict:
    """``{"software": "cloudmotion", "version": ..., "settings": {...}}`` for a run's
    :class:`~cloudmotion.settings.params.Settings` (every setting by its TOML key, resolved: ``step``
    as used; batch-only settings left out); without settings, the version alone."""
    from cloudmotion import __version__

    out: dict = {"software": "cloudmotion", "version": __version__}
    if settings is not None:
        values: dict[str, Any] = {}
        for obj in (settings.params, settings):
            for f in dataclasses.fields(obj):
                spec = f.metadata.get("spec")
                if spec is None or spec.deprecated or spec.scope is not None or f.name in _RESOURCES:
                    continue
                values[f.name] = _plain(getattr(obj, f.name))
        out["settings"] = values
    return out


def settings_json(record: dict) -> str:
    """The settings of a :func:`provenance` record as one line of JSON ("{}" when unknown)."""
    return json.dumps(record.get("settings", {}), sort_keys=True, separators=(",", ":"))
