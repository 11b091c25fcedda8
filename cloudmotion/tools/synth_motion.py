"""The motion of ``cloudmotion synth``: the ``--motion`` terms, the field they make and their checks."""

from __future__ import annotations

import re

import numpy as np

from cloudmotion.errors import UsageError
from cloudmotion.tools.known_motion import uniform_field, vortex_shear_field

__all__ = ["check_motion", "motion_field", "parse_motion", "parse_size"]

_KINDS = {
    "uniform": ("dx,dy", 2, 2),
    "vortex": ("strength[,radius[,row,col]]", 1, 4),
    "shear": ("amount", 1, 1),
}


def parse_motion(spec: str) -> list[tuple[str, tuple[float, ...]]]:
    """Parse a motion specification such as ``uniform:1.25,-0.5`` or ``vortex:3,80+uniform:2,0``.

    Terms joined by ``+`` are summed:

    - ``uniform:DX,DY`` constant displacement, px (DX along columns, DY along rows);
    - ``vortex:STRENGTH[,RADIUS[,ROW,COL]]`` counter-clockwise vortex peaking at STRENGTH px
      at RADIUS px (default a fifth of the smaller side) around (ROW, COL) (default the centre);
    - ``shear:AMOUNT`` ``dx = AMOUNT * (row - centre) / (rows / 2)``, px.

    Returns
    -------
    list of (kind, numbers)

    Raises
    ------
    UsageError
        Naming the bad term.
    """
    terms = []
    for term in spec.split("+"):
        kind, _, args = term.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in _KINDS:
            raise UsageError(
                f"--motion {spec}: unknown motion {kind!r}; use "
                + ", ".join(f"{k}:{v[0]}" for k, v in _KINDS.items())
                + " (join terms with +)"
            )
        usage, lo, hi = _KINDS[kind]
        try:
            nums = tuple(float(a) for a in args.split(",")) if args.strip() else ()
        except ValueError:
            raise UsageError(f"--motion {spec}: {term.strip()!r} is not {kind}:{usage} with numbers") from None
        if not lo <= len(nums) <= hi or len(nums) == 3 or not all(np.isfinite(nums)):
            raise UsageError(f"--motion {spec}: {term.strip()!r} is not {kind}:{usage}")
        if kind == "vortex" and len(nums) >= 2 and nums[1] <= 0:
            raise UsageError(f"--motion {spec}: vortex radius must be > 0")
        terms.append((kind, nums))
    return terms


def motion_field(terms: list[tuple[str, tuple[float, ...]]], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The displacement field per frame step of parsed motion terms.

    Parameters
    ----------
    terms : list of (kind, numbers)
        From :func:`parse_motion`.
    shape : (int, int)
        Frame shape (rows, cols).

    Returns
    -------
    dx, dy : ndarray of float64, shape ``shape``
        Displacement along columns and rows, px.
    """
    dx = np.zeros(shape)
    dy = np.zeros(shape)
    with np.errstate(over="ignore", invalid="ignore"):  # an absurd motion is refused by check_motion
        _add_terms(terms, shape, dx, dy)
    return dx, dy


def _add_terms(terms, shape, dx: np.ndarray, dy: np.ndarray) -> None:
    for kind, nums in terms:
        if kind == "uniform":
            fx, fy = uniform_field(shape, *nums)
        elif kind == "vortex":
            radius = nums[1] if len(nums) > 1 else None
            centre = (nums[2], nums[3]) if len(nums) == 4 else None
            fx, fy = vortex_shear_field(shape, strength=nums[0], radius=radius, shear=0.0, centre=centre)
        else:
            fx, fy = vortex_shear_field(shape, strength=0.0, shear=nums[0])
        dx += fx
        dy += fy


def check_motion(spec: str, dx: np.ndarray, dy: np.ndarray, nframes: int) -> None:
    """Refuse a motion that leaves the frame: the last frame must still overlap the first.

    Raises
    ------
    UsageError
        ``--motion SPEC: moves up to D px per step ...`` (also for non-finite values).
    """
    rows, cols = np.shape(dx)
    with np.errstate(over="ignore", invalid="ignore"):
        worst = float(np.max(np.hypot(dx, dy))) if np.size(dx) else 0.0
    if not np.isfinite(worst):
        raise UsageError(
            f"--motion {spec}: the displacement overflows (not a finite number of px); use a smaller motion"
        )
    if worst * (nframes - 1) > max(rows, cols):
        raise UsageError(
            f"--motion {spec}: moves up to {worst:.3g} px per step, which carries the texture out "
            f"of the {rows}x{cols} px frame within {nframes} frames; use a smaller motion"
        )


def parse_size(text: str) -> tuple[int, int]:
    """``"ROWSxCOLS"`` (or one number for a square) -> (rows, cols); UsageError when malformed."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX*,]\s*(\d+))?\s*", text or "")
    if not m:
        raise UsageError(f"--size {text}: expected ROWSxCOLS, e.g. 500x500")
    rows = int(m[1])
    cols = int(m[2]) if m[2] else rows
    if rows < 8 or cols < 8:
        raise UsageError(f"--size {text}: frames need at least 8x8 pixels")
    if rows * cols > 50_000_000:
        raise UsageError(f"--size {text}: more than 50 Mpx per frame")
    return rows, cols
