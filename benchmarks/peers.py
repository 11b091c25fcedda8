"""One adapter per method: cloudmotion (in its configurations) and the four peers.

Every adapter takes frames A and B (float, NaN or a mask where invalid) and returns the
library's vector model, :class:`cloudmotion.model.Vectors`, with ``row``/``col`` the
vector origins (window centres in frame A, pixel index coordinates), ``dx`` along
columns, ``dy`` along rows, and ``flag`` 0 where the method accepts the vector. A peer's
flag is 1 where it rejects the vector or gives none; cloudmotion's is its own bitmask.

The grids are the library's: :func:`cloudmotion.grid.make_grid` (centred), and for
OpenPIV, which tiles from pixel 0, the same grid moved to ``row0 = col0 = 0``.

OpenPIV is GPL-3.0: it is imported here only, inside the functions that call it, and
only ever installed into the benchmark's own environment. The package never imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import warnings
from collections.abc import Callable

import numpy as np

from .common import CM, STEP, WINDOW, threads

PEER_NAMES = ("OpenPIV single pass", "OpenPIV windef 64-32-32", "skimage pcc loop", "OpenCV DIS medium")

# cloudmotion settings compared: (sub-pixel fitter, refine, interpolation); the first is the default
CM_CONFIGS = [
    ("gaussian", True, "bicubic"),
    ("gaussian", True, "bilinear"),
    ("gaussian", False, "bicubic"),
    ("parabolic", True, "bicubic"),
    ("parabolic", True, "bilinear"),
    ("parabolic", False, "bicubic"),
    ("centroid", True, "bicubic"),
    ("centroid", True, "bilinear"),
    ("centroid", False, "bicubic"),
]


def grid(shape: tuple[int, int], *, top_left: bool = False):
    """The 32 px / 16 px :class:`cloudmotion.grid.Grid` of a frame, centred or from pixel 0."""
    from cloudmotion.grid import make_grid

    g = make_grid(shape, WINDOW, STEP)
    return dataclasses.replace(g, row0=0, col0=0) if top_left else g


def as_vectors(g, dx: np.ndarray, dy: np.ndarray, ok: np.ndarray | None = None):
    """A peer's displacements on grid ``g`` (C order) as :class:`cloudmotion.model.Vectors`.

    ``ok`` defaults to the finite estimates; ``flag`` is 0 where ``ok``, else 1.
    """
    from cloudmotion.model import Vectors

    row, col = g.centres()
    dx, dy = np.asarray(dx, dtype=np.float64).ravel(), np.asarray(dy, dtype=np.float64).ravel()
    if ok is None:
        ok = np.isfinite(dx) & np.isfinite(dy)
    values = {"row": row.ravel(), "col": col.ravel(), "dx": dx, "dy": dy, "flag": (~ok).astype(np.int64)}
    return Vectors(values=values, shape=g.shape, window=g.window, step=g.step)


def filled(img: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """Replace invalid pixels by the valid mean, for peers that cannot take a mask."""
    img = np.asarray(img, dtype=np.float64)
    bad = ~np.isfinite(img) if valid is None else ~valid | ~np.isfinite(img)
    if not bad.any():
        return img
    out = img.copy()
    out[bad] = img[~bad].mean()
    return out


def run_cloudmotion(a, b, mask_a=None, mask_b=None, **params):
    """cloudmotion.track_pair on the 32/16 grid, as Vectors with its own flags."""
    from cloudmotion import Vectors, track_pair

    mf = track_pair(a, b, mask_a=mask_a, mask_b=mask_b, window=WINDOW, step=STEP, **params)
    values = {
        "row": mf.row,
        "col": mf.col,
        "dx": mf.dx,
        "dy": mf.dy,
        "corr": mf.corr,
        "quality": mf.quality,
        "flag": mf.flag,
    }
    return Vectors(values=values, shape=mf.grid.shape, window=mf.grid.window, step=mf.grid.step)


def run_openpiv_single(a, b, mask_a=None, mask_b=None):
    """OpenPIV single pass, vectorised: ``u`` is +columns and ``v`` +rows (image axes).

    OpenPIV tiles from pixel 0 (top-left aligned) and its ``get_coordinates`` reports the
    centre of a 32 px window starting at pixel 0 as 16 (pixel-edge convention); the
    window's centre in pixel index coordinates is 15.5, used here as the origin.
    """
    from openpiv import pyprocess

    a, b = filled(a, mask_a), filled(b, mask_b)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # it prints and warns
        warnings.simplefilter("ignore")
        u, v, _ = pyprocess.extended_search_area_piv(
            a, b, window_size=WINDOW, overlap=WINDOW - STEP, sig2noise_method="peak2peak", use_vectorized=True
        )
    return as_vectors(grid(a.shape, top_left=True), u, v)


def run_openpiv_windef(a, b, mask_a=None, mask_b=None):
    """OpenPIV window deformation, passes 64 -> 32 -> 32 with 50 % overlap.

    ``simple_multipass`` returns physical coordinates (v up, and the y array flipped);
    v is negated back to image rows. Vectors its validation replaced are flagged.
    """
    from openpiv import windef
    from openpiv.settings import PIVSettings

    a, b = filled(a, mask_a), filled(b, mask_b)
    settings = PIVSettings(
        windowsizes=(64, WINDOW, WINDOW), overlap=(32, WINDOW - STEP, WINDOW - STEP), num_iterations=3
    )
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _x, _y, u, v, flags = windef.simple_multipass(a, b, settings)
    u, v = np.asarray(u, dtype=np.float64).ravel(), -np.asarray(v, dtype=np.float64).ravel()
    ok = np.isfinite(u) & np.isfinite(v) & ~np.asarray(flags, dtype=bool).ravel()
    return as_vectors(grid(a.shape, top_left=True), u, v, ok)


def run_skimage_pcc(a, b, mask_a=None, mask_b=None):
    """scikit-image phase correlation (upsample factor 20) looped over cloudmotion's tiles.

    ``phase_cross_correlation(reference, moving)`` returns the shift that registers
    ``moving`` onto ``reference``, i.e. minus the motion from A to B.
    """
    from skimage.registration import phase_cross_correlation

    a, b = filled(a, mask_a), filled(b, mask_b)
    g = grid(a.shape)
    rows, cols = g.top_left()
    dx = np.empty(rows.size)
    dy = np.empty(rows.size)
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        shift = phase_cross_correlation(
            a[r : r + WINDOW, c : c + WINDOW], b[r : r + WINDOW, c : c + WINDOW], upsample_factor=20
        )[0]
        dy[i], dx[i] = -shift[0], -shift[1]
    return as_vectors(g, dx, dy)


def to_uint8(a: np.ndarray, b: np.ndarray, mask_a=None, mask_b=None) -> tuple[np.ndarray, np.ndarray]:
    """Scale both frames to 8 bit with one joint min/max over their valid pixels."""
    a, b = filled(a, mask_a), filled(b, mask_b)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    scale = 255.0 / (hi - lo) if hi > lo else 1.0

    def conv(x: np.ndarray) -> np.ndarray:
        return np.clip(np.round((x - lo) * scale), 0, 255).astype(np.uint8)

    return conv(a), conv(b)


def run_dis(a, b, mask_a=None, mask_b=None):
    """OpenCV DIS optical flow (medium preset) on 8-bit frames, dense, then sampled.

    ``flow[..., 0]`` is +columns and ``flow[..., 1]`` +rows, at each pixel of frame A;
    it is sampled bilinearly at cloudmotion's vector origins.
    """
    import cv2
    from scipy import ndimage

    cv2.setNumThreads(threads())
    a8, b8 = to_uint8(a, b, mask_a, mask_b)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(a8, b8, None)
    g = grid(a.shape)
    r, c = (x.ravel() for x in g.centres())
    dx = ndimage.map_coordinates(flow[..., 0].astype(np.float64), [r, c], order=1)
    dy = ndimage.map_coordinates(flow[..., 1].astype(np.float64), [r, c], order=1)
    return as_vectors(g, dx, dy)


PEERS: dict[str, Callable] = dict(
    zip(PEER_NAMES, (run_openpiv_single, run_openpiv_windef, run_skimage_pcc, run_dis), strict=True)
)


def cm_label(cfg: tuple[str, bool, str]) -> str:
    """Method name of a cloudmotion configuration (the default is plain 'cloudmotion')."""
    if cfg == CM_CONFIGS[0]:
        return CM
    sub, refine, interp = cfg
    return f"cm {sub} + " + (f"LK {interp}" if refine else "no refine")


def cm_method(cfg: tuple[str, bool, str]) -> Callable:
    """A callable running cloudmotion with one configuration."""
    sub, refine, interp = cfg

    def run(a, b, mask_a=None, mask_b=None):
        return run_cloudmotion(a, b, mask_a, mask_b, subpixel=sub, refine=refine, interpolation=interp)

    return run


def methods(variants: bool = False) -> dict[str, Callable]:
    """cloudmotion's default and every peer; with ``variants`` also the other cloudmotion settings."""
    out = {CM: cm_method(CM_CONFIGS[0]), **PEERS}
    if variants:
        out |= {cm_label(c): cm_method(c) for c in CM_CONFIGS[1:]}
    return out


def peer_cli(method: str, path_a: str, path_b: str, out: str) -> None:
    """The peers' equivalent of a CLI run: read two frames, track, write cloudmotion's CSV."""
    from cloudmotion.formats.csv import write_csv

    from .data import read_raster

    a, va, _ = read_raster(path_a)
    b, vb, _ = read_raster(path_b)
    write_csv(out, PEERS[method](a, b, va, vb))
