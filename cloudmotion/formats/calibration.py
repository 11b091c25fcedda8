"""Calibration of GOES ABI L1b radiance: brightness temperature (bands 7-16) and reflectance factor (1-6).

The L1b files carry the constants as scalar netCDF variables beside ``Rad``: the Planck
coefficients ``planck_fk1``, ``planck_fk2``, ``planck_bc1``, ``planck_bc2`` for the emissive
bands and ``kappa0`` for the reflective ones (the other kind is a fill value). GeoTIFFs
derived from L1b (``cloudmotion synth --from``) keep them as dataset tags of the same
names, so that they can be calibrated too. A :class:`~cloudmotion.formats.raster.FrameInfo`
records the constants it found (``calibration``), the conversion chosen (``calibrate``)
and the resulting ``quantity`` and ``unit``; :func:`apply` converts the values at read.

References
----------
GOES-R Product Definition and User's Guide (PUG), vol. 3, Level 1b products, section 5.1.3.6
(brightness temperature: ``BT = (fk2 / ln(fk1 / L + 1) - bc1) / bc2``; reflectance factor:
``kappa0 * L``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from cloudmotion.errors import DataError, UsageError

__all__ = [
    "IR_KEYS",
    "MODES",
    "VIS_KEYS",
    "apply",
    "as_tags",
    "brightness_temperature",
    "from_tags",
    "read_netcdf_constants",
    "reflectance_factor",
    "resolve",
]

IR_KEYS = ("planck_fk1", "planck_fk2", "planck_bc1", "planck_bc2")
VIS_KEYS = ("kappa0",)
MODES = ("auto", "radiance", "bt", "reflectance")
"""``--calibrate`` choices."""

BT, REFLECTANCE, RADIANCE = "brightness_temperature", "reflectance_factor", "radiance"
NOT_READ = "calibration constants not read"
"""Starts the note of a file whose constants could not be read (netCDF4 missing)."""
_TARGET = {"bt": (BT, "K", IR_KEYS), "reflectance": (REFLECTANCE, "1", VIS_KEYS)}


def brightness_temperature(radiance: np.ndarray, fk1: float, fk2: float, bc1: float, bc2: float) -> np.ndarray:
    """Brightness temperature in K from ABI radiance (inverse Planck function with band correction).

    Parameters
    ----------
    radiance : ndarray
        Spectral radiance L in mW m-2 sr-1 (cm-1)-1, any shape.
    fk1, fk2, bc1, bc2 : float
        The file's ``planck_fk1`` (mW m-2 sr-1 (cm-1)-1 scale), ``planck_fk2`` (K),
        ``planck_bc1`` (K) and ``planck_bc2`` (1).

    Returns
    -------
    ndarray of float64
        ``(fk2 / ln(fk1 / L + 1) - bc1) / bc2``; NaN where ``L <= 0`` (no temperature).

    References
    ----------
    GOES-R PUG vol. 3 (L1b), section 5.1.3.6.1.
    """
    rad = np.asarray(radiance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        bt = (fk2 / np.log(fk1 / rad + 1.0) - bc1) / bc2
    return np.where(rad > 0, bt, np.nan)


def reflectance_factor(radiance: np.ndarray, kappa0: float) -> np.ndarray:
    """Reflectance factor (unitless) ``kappa0 * L`` from ABI radiance in W m-2 sr-1 um-1.

    References
    ----------
    GOES-R PUG vol. 3 (L1b), section 5.1.3.6.2.
    """
    return np.asarray(radiance, dtype=np.float64) * kappa0


def _valid_constants(values: dict, where: str) -> dict | None:
    """The IR or VIS constants that are all present and finite (fill values dropped), or None.

    Raises
    ------
    DataError
        A constant that is present but cannot calibrate (``planck_fk1 = 0``), naming it.
    """
    for keys in (IR_KEYS, VIS_KEYS):
        got = {k: values.get(k) for k in keys}
        if all(v is not None and math.isfinite(v) and v > -999 for v in got.values()):
            for key, value in got.items():
                if not _PHYSICAL[key](value):
                    raise DataError(f"{where}: calibration constant {key} = {value:g} {_RULES[key]}")
            return got
    return None


_PHYSICAL = {
    "planck_fk1": lambda v: v > 0,
    "planck_fk2": lambda v: v > 0,
    "planck_bc1": lambda v: True,
    "planck_bc2": lambda v: v != 0,
    "kappa0": lambda v: v > 0,
}
_RULES = {
    "planck_fk1": "must be > 0 (the inverse Planck function divides by it)",
    "planck_fk2": "must be > 0 (a temperature, K)",
    "planck_bc2": "must not be 0 (the band correction divides by it)",
    "kappa0": "must be > 0 (reflectance factor per unit radiance)",
}


def from_tags(tags: dict, where: str = "frame") -> dict | None:
    """Calibration constants from raster tags (a GeoTIFF derived from L1b), or None; ``where``
    names the file in the error about an impossible constant."""
    values = {}
    for key in IR_KEYS + VIS_KEYS:
        try:
            values[key] = float(tags[key])
        except (KeyError, TypeError, ValueError):
            continue
    return _valid_constants(values, where)


def as_tags(constants: dict | None) -> dict:
    """Tags that carry ``constants`` into a derived GeoTIFF (``{}`` when there are none)."""
    return {k: repr(float(v)) for k, v in (constants or {}).items()}


def read_netcdf_constants(fname: str) -> tuple[dict | None, str | None]:
    """The calibration constants of a GOES L1b netCDF file (scalar variables, read with netCDF4).

    Returns
    -------
    constants : dict or None
        ``planck_*`` or ``kappa0`` values, None when the file has none (L2, other files).
    note : str or None
        Why the constants could not be read (netCDF4 missing: a broken install, as it is a
        dependency), for a warning; it starts with :data:`NOT_READ`.

    Raises
    ------
    DataError
        A constant that cannot calibrate (``planck_fk1 = 0``), naming the file and the constant.
    """
    try:
        import netCDF4
    except ImportError:
        return None, (
            f"{fname}: {NOT_READ} (netCDF4, a dependency of cloudmotion, is not installed: pip install "
            "netCDF4); values stay as stored"
        )
    values = {}
    with netCDF4.Dataset(fname) as ds:
        for key in IR_KEYS + VIS_KEYS:
            var = ds.variables.get(key)
            if var is None or var.size != 1:
                continue
            v = var[...]
            if not np.ma.is_masked(v):
                values[key] = float(np.asarray(v, dtype=np.float64).ravel()[0])
    return _valid_constants(values, fname), None


def resolve(info, mode: str = "auto"):
    """The frame header with the conversion ``mode`` chosen: ``calibrate``, ``quantity``, ``unit``.

    Parameters
    ----------
    info : FrameInfo
        From a reader, with the ``calibration`` constants it found.
    mode : {"auto", "radiance", "bt", "reflectance"}
        ``auto``: brightness temperature when the Planck constants are there, reflectance
        factor when ``kappa0`` is, else values as they are (L2 CMI is already calibrated).
        ``radiance``: no conversion. ``bt`` / ``reflectance``: that conversion, or the
        values as they are when the file already holds that quantity.

    Raises
    ------
    UsageError
        ``bt`` or ``reflectance`` for a frame without the constants it needs.
    """
    const = info.calibration or {}
    if mode == "auto":
        mode = "bt" if all(k in const for k in IR_KEYS) else "reflectance" if "kappa0" in const else "radiance"
    if mode == "radiance":
        return dataclasses.replace(info, calibrate=None)
    quantity, unit, keys = _TARGET[mode]
    if info.quantity == quantity and info.calibrate is None:
        return info
    if not all(k in const for k in keys):
        unread = next((n for n in info.notes if NOT_READ in n), None)
        if unread is not None:  # the constants may well be there: the library to read them is missing
            raise UsageError(f"--calibrate {mode}: {unread.replace('; values stay as stored', '')}")
        raise UsageError(
            f"--calibrate {mode}: {info.path} has no {' '.join(keys)} constants "
            f"(its values are {info.quantity or 'not GOES L1b radiance'})"
        )
    return dataclasses.replace(info, calibrate=mode, quantity=quantity, unit=unit)


def apply(data: np.ndarray, info) -> np.ndarray:
    """Convert values in stored physical units (after scale and offset) as ``info.calibrate`` says."""
    if info.calibrate is None:
        return data
    c = info.calibration
    if info.calibrate == "bt":
        return brightness_temperature(data, c["planck_fk1"], c["planck_fk2"], c["planck_bc1"], c["planck_bc2"])
    return reflectance_factor(data, c["kappa0"])
