"""Cost of the AMV columns on a real CONUS frame, and the cross-check figures.

    python -m benchmarks.amv            # needs ../shared/sample_goes/ and the netcdf extra

Times the pure stages over the 32 px / 16 px grid of the GOES-16 band-16 CONUS frame
(1500 x 2500, calibrated to brightness temperature): EBBT ctt per template
(:func:`cloudmotion.amv.cloudtop.cold_share_mean`), height assignment and parallax correction of
origins; medians of 5 runs. Then the cross-checks the tests pin: pressure of the standard
atmosphere against hydrostatic integration, parallax against a line-of-sight march.
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONUS = os.path.join(
    HERE,
    "..",
    "..",
    "shared",
    "sample_goes",
    "OR_ABI-L1b-RadC-M6C16_G16_s20200040316182_e20200040318566_c20200040319074.nc",
)


def _median_time(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    import sys

    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from test_amv import _independent_parallax, _standard_by_integration

    from cloudmotion.amv.cloudtop import cold_share_mean
    from cloudmotion.amv.height import assign_height, us_standard_1976
    from cloudmotion.amv.parallax import Satellite, correct_parallax, satellite_from_crs
    from cloudmotion.formats.calibration import resolve
    from cloudmotion.formats.readers import open_frame, read_frame
    from cloudmotion.geo import geolocate
    from cloudmotion.grid import make_grid

    info = resolve(open_frame(CONUS))
    frame = read_frame(info)
    grid = make_grid(frame.data.shape, 32, 16)
    top, left = grid.top_left()
    rows, cols = grid.centres()
    geo = geolocate(
        rows, cols, np.zeros(rows.shape), np.zeros(rows.shape), transform=info.transform, crs_wkt=info.crs_wkt, dt=None
    )
    ctt = cold_share_mean(frame.data, frame.valid, top, left, 32, 0.25)
    std = us_standard_1976()
    _, h, _ = assign_height(ctt, std)
    sat = satellite_from_crs(info.crs_wkt)
    t_ctt = _median_time(lambda: cold_share_mean(frame.data, frame.valid, top, left, 32, 0.25))
    t_h = _median_time(lambda: assign_height(ctt, std))
    t_px = _median_time(lambda: correct_parallax(geo.lon.ravel(), geo.lat.ravel(), h, sat))
    print(
        f"CONUS band 16, {grid.size} templates of 32 px: ctt {t_ctt:.3f} s, height {t_h:.4f} s, "
        f"parallax {t_px:.4f} s (medians of 5); {np.isfinite(h).mean():.1%} with a height"
    )
    temps = np.array([220.0, 236.0, 252.0, 268.0, 285.0])
    got = assign_height(temps, std, max_ctt=290)[0]
    ref = np.array([_standard_by_integration(t)[0] for t in temps])
    print(
        "pressure hPa (module, integration, difference):",
        ", ".join(f"{t:g} K {a:.3f} {b:.3f} {a - b:+.1e}" for t, a, b in zip(temps, got, ref, strict=True)),
    )
    from pyproj import Geod

    for lon, lat in ((-75.0, 45.0), (-120.0, 40.0)):
        c = correct_parallax(np.array([lon]), np.array([lat]), np.array([10000.0]), Satellite(-75.2, 35786023.0))
        w = _independent_parallax(lon, lat, 10000.0, -75.2, 35786023.0)
        _, _, miss = Geod(ellps="GRS80").inv(c[0][0], c[1][0], *w)
        _, _, shift = Geod(ellps="GRS80").inv(lon, lat, *w)
        print(
            f"parallax 10 km at {lat} N {-lon} W from GOES-16 (75.2 W): shift {shift / 1000:.3f} km, "
            f"module vs independent {miss * 1000:.1f} mm"
        )


if __name__ == "__main__":
    main()
