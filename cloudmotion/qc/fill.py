"""Filling flagged vectors from their good neighbours, after the flags are set (``FILLED``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cloudmotion.qc.checks import Flag
from cloudmotion.qc.field_stats import fill_field

__all__ = ["fill_flagged"]


def fill_flagged(field, *, sigma: float = 1.0):
    """Replace vectors that are not good by interpolation of good neighbours.

    Interpolated vectors keep their flag bits plus :attr:`Flag.FILLED` and get quality 0,
    so they are never mistaken for measurements.

    Parameters
    ----------
    field : MotionField
        An assessed field.
    sigma : float
        Normalised-convolution width in grid cells.

    Returns
    -------
    MotionField
        A new field; the input is not modified.
    """
    dx, dy, filled = fill_field(field.dx, field.dy, field.good, sigma=sigma)
    flag = field.flag.copy()
    flag[filled] |= Flag.FILLED
    quality = np.where(filled, 0.0, field.quality)
    return dataclasses.replace(field, dx=dx, dy=dy, flag=flag, quality=quality, filled=filled)
