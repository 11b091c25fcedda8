"""Checks of a run's height assignment against its frames: heights need brightness temperature,
and vectors left without one are counted, so that a run never gives fewer heights than asked
without saying so."""

from __future__ import annotations

import numpy as np

from cloudmotion.errors import DataError
from cloudmotion.formats.readers import FrameInfo

__all__ = ["check_temperature", "height_counts", "height_note", "height_report"]

BT = "brightness_temperature"


def check_temperature(info: FrameInfo, parallax: bool, profile: str) -> None:
    """Refuse ``--parallax``, or a ``--profile`` other than the default, on a frame not in
    brightness temperature: no vector could get a height.

    Parameters
    ----------
    info : FrameInfo
        Frame A of the run (after ``--calibrate`` is resolved).
    parallax : bool
        ``--parallax`` asked for.
    profile : str
        The ``--profile`` setting; anything but ``standard`` (the default) asks for heights.

    Raises
    ------
    DataError
        Naming the frame's quantity and what gives brightness temperature.
    """
    if info.quantity == BT:
        return
    if parallax:
        asked = "--parallax"
    elif profile != "standard":
        asked = f"--profile {profile}"
    else:
        return
    held = info.quantity.replace("_", " ") if info.quantity else "values of unknown quantity (as stored)"
    raise DataError(
        f"{asked}: {info.path} holds {held}, not brightness temperature, so no vector would get a height; "
        "use --calibrate bt on a GOES ABI L1b netCDF of an infrared band (7-16), or frames in brightness "
        "temperature (K)"
    )


def height_counts(ctt: np.ndarray, height: np.ndarray, max_ctt: float) -> dict[str, int]:
    """How many vectors have no height, and why.

    Parameters
    ----------
    ctt, height : ndarray
        The pair's ``ctt`` (K) and ``height`` (m) columns, any shape, NaN where none.
    max_ctt : float
        Warmer ``ctt`` is clear sky, K.

    Returns
    -------
    dict
        ``without`` (no height), ``clear`` (ctt warmer than ``max_ctt``) and ``no_ctt``
        (no valid pixel to take a cloud-top temperature from); ``without = clear + no_ctt``
        plus any other reason.
    """
    ctt, height = np.asarray(ctt, dtype=np.float64).ravel(), np.asarray(height, dtype=np.float64).ravel()
    without = ~np.isfinite(height)
    clear = without & np.isfinite(ctt) & (ctt > max_ctt)
    no_ctt = without & ~np.isfinite(ctt)
    return {"without": int(without.sum()), "clear": int(clear.sum()), "no_ctt": int(no_ctt.sum())}


def height_report(columns: dict[str, np.ndarray], profile: str, max_ctt: float) -> dict[str, int]:
    """:func:`height_counts` of a pair's AMV ``columns``, plus ``dropped_levels``: the levels of
    the ``--profile`` sounding file left out for an empty cell (0 for a named profile)."""
    from cloudmotion.formats.profile import load_profile

    report = height_counts(columns["ctt"], columns["height"], max_ctt)
    report["dropped_levels"] = load_profile(profile).dropped
    return report


def height_note(counts: dict[str, int] | None, max_ctt: float) -> str:
    """``", 12 without a height (10 clear sky: ctt above 273 K; 2 no cloud-top temperature)"``, or ``""``."""
    if not counts or not counts["without"]:
        return ""
    why = []
    if counts["clear"]:
        why.append(f"{counts['clear']} clear sky: ctt above {max_ctt:g} K")
    if counts["no_ctt"]:
        why.append(f"{counts['no_ctt']} no cloud-top temperature")
    return f", {counts['without']} without a height" + (f" ({'; '.join(why)})" if why else "")
