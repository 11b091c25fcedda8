"""Height assignment: cloud-top temperature -> pressure and height from a temperature profile.

Without a numerical weather prediction profile the height is climatological: the
temperature is looked up in the 1976 US Standard Atmosphere (default), the AFGL 1986
tropical model atmosphere (tropical tops, 190-210 K, are colder than the standard
atmosphere's 216.65 K tropopause) or a user's sounding. Semi-transparent cirrus lets warmer
radiation through from below, so its temperature, and therefore its height, comes out too low.

Choices (documented in the manual, docs/howto/amv.md):

- The tropopause is the profile's cold point: its coldest level at pressures of 70 hPa or
  more, the lowest one if several are equally cold (11 km in the standard atmosphere).
- The match is the lowest-pressure (highest) crossing of the profile's temperature below
  the tropopause; with an inversion there are several crossings and the highest is taken
  (``height_flag`` 3).
- Colder than the tropopause: the tropopause's pressure and height (``height_flag`` 1).
  Warmer than the profile's bottom level: the bottom level (``height_flag`` 2).
- Warmer than ``max_ctt`` (clear sky, or cloud that cannot be told from the surface without
  a surface temperature), or no temperature: no pressure and no height (NaN).
- Between levels, height is linear in temperature and ln p linear in ln T: both exact for a
  layer of constant lapse rate, so the standard atmosphere's troposphere is reproduced exactly.
- Heights are geometric, above mean sea level, from the profile's geopotential height
  ``z = r0 H / (r0 - H)`` with the US 1976 effective Earth radius ``r0 = 6356.766 km``.

References
----------
U.S. Standard Atmosphere, 1976. NOAA-S/T 76-1562, NOAA, NASA and USAF, Washington D.C.
Anderson, G. P. et al. (1986). AFGL atmospheric constituent profiles (0-120 km).
AFGL-TR-86-0110, Air Force Geophysics Laboratory, table 1a (tropical).
Highwood, E. J. and Hoskins, B. J. (1998). The tropical tropopause. Q. J. R. Meteorol.
Soc. 124, 1579-1604 (the cold-point tropopause).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "R0",
    "Profile",
    "assign_height",
    "geometric_height",
    "geopotential_height",
    "height_counts",
    "named_profile",
    "profile_from_table",
    "tropical",
    "us_standard_1976",
]

R0 = 6356766.0
"""US 1976 effective Earth radius for geopotential height, m."""
G0 = 9.80665
"""Standard gravity, m s-2."""
RD = 8.31432 / 0.0289644
"""Specific gas constant of dry air (US 1976 R* / M0), J kg-1 K-1."""
COLD_POINT_MIN_P = 70.0
"""The tropopause is sought at pressures of this many hPa or more."""

FLAG_OK, FLAG_TROPOPAUSE, FLAG_BOTTOM, FLAG_INVERSION = 0, 1, 2, 3
"""``height_flag`` values: one crossing; clipped at the tropopause; below the profile's bottom
level; several crossings (inversion), the highest taken."""


def geometric_height(h: np.ndarray) -> np.ndarray:
    """Geometric height in m from geopotential height ``h`` in m (US 1976, r0 = 6356.766 km)."""
    h = np.asarray(h, dtype=np.float64)
    return R0 * h / (R0 - h)


def geopotential_height(z: np.ndarray) -> np.ndarray:
    """Geopotential height in m from geometric height ``z`` in m."""
    z = np.asarray(z, dtype=np.float64)
    return R0 * z / (R0 + z)


@dataclass(frozen=True)
class Profile:
    """A temperature profile, bottom level first.

    Attributes
    ----------
    name : str
    pressure : ndarray, hPa, strictly decreasing
    temperature : ndarray, K
    geopotential : ndarray, geopotential metres
    source : str
        Where it comes from, for the output's attributes.
    dropped : int
        Levels of the source left out for an empty cell (a sounding file's).
    """

    name: str
    pressure: np.ndarray
    temperature: np.ndarray
    geopotential: np.ndarray
    source: str = ""
    dropped: int = 0

    @property
    def tropopause(self) -> int:
        """Index of the cold-point tropopause (coldest level at >= 70 hPa, the lowest of equals)."""
        t = np.where(self.pressure >= COLD_POINT_MIN_P, self.temperature, np.inf)
        return int(np.argmin(t))


def us_standard_1976() -> Profile:
    """The 1976 US Standard Atmosphere at its layer bases, 0-47 km geopotential (exact between them)."""
    bases = np.array([0.0, 11000.0, 20000.0, 32000.0, 47000.0])
    lapse = np.array([-6.5e-3, 0.0, 1.0e-3, 2.8e-3])
    t = [288.15]
    p = [1013.25]
    for i, rate in enumerate(lapse):
        dh = bases[i + 1] - bases[i]
        t_top = t[-1] + rate * dh
        if rate == 0:
            p.append(p[-1] * np.exp(-G0 * dh / (RD * t[-1])))
        else:
            p.append(p[-1] * (t_top / t[-1]) ** (-G0 / (RD * rate)))
        t.append(t_top)
    return Profile("standard", np.array(p), np.array(t), bases, "U.S. Standard Atmosphere, 1976 (NOAA-S/T 76-1562)")


_TROPICAL = (  # Anderson et al. (1986), table 1a: geometric altitude km, pressure hPa, temperature K
    (0, 1013.0, 299.7),
    (1, 904.0, 293.7),
    (2, 805.0, 287.7),
    (3, 715.0, 283.7),
    (4, 633.0, 277.0),
    (5, 559.0, 270.3),
    (6, 492.0, 263.6),
    (7, 432.0, 257.0),
    (8, 378.0, 250.3),
    (9, 329.0, 243.6),
    (10, 286.0, 237.0),
    (11, 247.0, 230.1),
    (12, 213.0, 223.6),
    (13, 182.0, 217.0),
    (14, 156.0, 210.3),
    (15, 132.0, 203.7),
    (16, 111.0, 197.0),
    (17, 93.7, 194.8),
    (18, 78.9, 198.8),
    (19, 66.6, 202.7),
    (20, 56.5, 206.7),
    (21, 48.0, 210.7),
    (22, 40.9, 214.6),
    (23, 35.0, 217.0),
    (24, 30.0, 219.2),
    (25, 25.7, 221.4),
)


def tropical() -> Profile:
    """The AFGL 1986 tropical model atmosphere, 0-25 km (cold-point tropopause 194.8 K at 17 km)."""
    z, p, t = (np.array(c, dtype=np.float64) for c in zip(*_TROPICAL, strict=True))
    return Profile(
        "tropical",
        p,
        t,
        geopotential_height(z * 1000.0),
        "AFGL 1986 tropical model atmosphere (Anderson et al., AFGL-TR-86-0110, table 1a)",
    )


def _standard_geopotential(p: float) -> float:
    """Geopotential height of pressure ``p`` (hPa) in the standard atmosphere (log-pressure interpolation)."""
    std = us_standard_1976()
    lp = np.log(std.pressure[::-1])
    return float(np.interp(np.log(p), lp, std.geopotential[::-1], left=std.geopotential[-1], right=0.0))


def profile_from_table(
    pressure, temperature, height=None, *, name: str = "sounding", source: str = "", dropped: int = 0
) -> Profile:
    """A :class:`Profile` from sounding columns, sorted bottom first.

    Parameters
    ----------
    pressure : array_like, hPa
    temperature : array_like, K
    height : array_like, optional
        Geopotential height of each level, m (as soundings report it). Without it the levels
        are integrated hypsometrically (dry air; the layer's log-mean temperature) upwards
        from the bottom level, placed at the standard atmosphere's height of its pressure.
    name, source : str
        The profile's name, and where it comes from (for the outputs' attributes).
    dropped : int
        Levels the reader left out (empty cells), recorded on the profile.

    Raises
    ------
    ValueError
        Fewer than two levels, repeated pressures, or non-finite or non-positive values.
    """
    p = np.asarray(pressure, dtype=np.float64)
    t = np.asarray(temperature, dtype=np.float64)
    if p.ndim != 1 or p.size < 2 or t.shape != p.shape:
        raise ValueError("needs at least two levels of pressure and temperature")
    if not (np.isfinite(p).all() and np.isfinite(t).all() and (p > 0).all() and (t > 0).all()):
        raise ValueError("pressures and temperatures must be finite and positive")
    order = np.argsort(-p)
    p, t = p[order], t[order]
    if np.any(np.diff(p) == 0):
        raise ValueError("a pressure level is repeated")
    if height is not None:
        h = np.asarray(height, dtype=np.float64)[order]
        if not np.isfinite(h).all() or np.any(np.diff(h) <= 0):
            raise ValueError("heights must be finite and increase as the pressure decreases")
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            tmean = np.where(t[:-1] == t[1:], t[:-1], (t[:-1] - t[1:]) / np.log(t[:-1] / t[1:]))
        h = _standard_geopotential(p[0]) + np.concatenate([[0.0], np.cumsum(RD / G0 * tmean * np.log(p[:-1] / p[1:]))])
    return Profile(name, p, t, h, source, dropped)


def named_profile(name: str) -> Profile:
    """``standard`` or ``tropical`` (KeyError otherwise)."""
    return {"standard": us_standard_1976, "tropical": tropical}[name]()


def assign_height(
    ctt: np.ndarray,
    profile: Profile,
    *,
    max_ctt: float = 273.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pressure, height and height flag of cloud-top temperatures.

    Parameters
    ----------
    ctt : ndarray
        Cloud-top temperature, K, any shape; NaN = none.
    profile : Profile
    max_ctt : float
        Warmer temperatures are clear sky: no pressure, height or flag, K.

    Returns
    -------
    pressure : ndarray, hPa
    height : ndarray, geometric m above mean sea level
    flag : ndarray of float
        :data:`FLAG_OK`, :data:`FLAG_TROPOPAUSE`, :data:`FLAG_BOTTOM` or
        :data:`FLAG_INVERSION`; NaN where there is no height.
    """
    t = np.asarray(ctt, dtype=np.float64)
    top = profile.tropopause
    tp, tt, th = profile.pressure[: top + 1], profile.temperature[: top + 1], profile.geopotential[: top + 1]
    ln_p = np.full(t.shape, np.nan)
    h = np.full(t.shape, np.nan)
    hits = np.zeros(t.shape, dtype=np.int32)
    for j in range(top):  # a loop over the profile's layers, vectorised over vectors
        t1, t2 = tt[j], tt[j + 1]
        lo, hi = min(t1, t2), max(t1, t2)
        inside = (t >= lo) & (t <= hi)
        if t1 == t2:
            f = np.ones(t.shape)  # isothermal layer: its top, the lowest pressure that matches
        else:
            f = (t - t1) / (t2 - t1)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(t / t1) / np.log(t2 / t1) if t1 != t2 else f
        hits += inside
        ln_p = np.where(inside, np.log(tp[j]) + g * (np.log(tp[j + 1]) - np.log(tp[j])), ln_p)
        h = np.where(inside, th[j] + f * (th[j + 1] - th[j]), h)
    flag = np.where(hits > 1, FLAG_INVERSION, FLAG_OK).astype(np.float64)
    cold = (hits == 0) & (t < tt.min())
    warm = (hits == 0) & (t > tt.max())
    for mask, level, code in ((cold, top, FLAG_TROPOPAUSE), (warm, 0, FLAG_BOTTOM)):
        ln_p = np.where(mask, np.log(tp[level]), ln_p)
        h = np.where(mask, th[level], h)
        flag = np.where(mask, code, flag)
    none = ~np.isfinite(t) | (t > max_ctt)
    pressure = np.where(none, np.nan, np.exp(ln_p))
    return pressure, np.where(none, np.nan, geometric_height(h)), np.where(none, np.nan, flag)


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
