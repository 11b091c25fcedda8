"""Sequence checks and reprojection of frames: one grid, one GOES identity, ``--align``."""

from __future__ import annotations

import dataclasses

import numpy as np

from cloudmotion.errors import DataError, UsageError
from cloudmotion.formats.readers import Frame, FrameInfo

__all__ = ["align_frame", "check_compatible", "describe_grid", "same_grid"]


def check_compatible(infos: list[FrameInfo], *, grid: bool = True, identity: bool = True) -> None:
    """Require one grid and one GOES satellite, sector and band for a sequence of frames.

    Parameters
    ----------
    infos : list of FrameInfo
        The frames, first one the reference.
    grid : bool
        Check shape, CRS and transform (off when later frames are reprojected).
    identity : bool
        Check the satellite, sector and band parsed from GOES file names.

    Raises
    ------
    DataError
        Naming the first frame that differs and what differs.
    """
    from pyproj import CRS

    ref = infos[0]
    for other in infos[1:]:
        if identity and ref.goes and other.goes:
            for key in ("satellite", "sector", "band"):
                if ref.goes[key] != other.goes[key]:
                    raise DataError(
                        f"{other.path}: {key} {other.goes[key]} differs from {ref.path} "
                        f"({ref.goes[key]}); pass --force to track them anyway"
                    )
        if not grid:
            continue
        if other.shape != ref.shape:
            raise DataError(
                f"{other.path}: shape {other.shape[0]}x{other.shape[1]} differs from "
                f"{ref.path} ({ref.shape[0]}x{ref.shape[1]}); --align reprojects it"
            )
        if (ref.crs_wkt is None) != (other.crs_wkt is None) or (
            ref.crs_wkt and not CRS.from_wkt(ref.crs_wkt).equals(CRS.from_wkt(other.crs_wkt))
        ):
            raise DataError(f"{other.path}: CRS differs from {ref.path}; --align reprojects it")
        if (ref.transform is None) != (other.transform is None) or (
            ref.transform is not None
            and not np.allclose(
                ref.transform,
                other.transform,
                rtol=0,
                atol=1e-6 * max(1.0, abs(ref.transform[0]), abs(ref.transform[4])),
            )
        ):
            raise DataError(
                f"{other.path}: transform {other.transform} differs from {ref.path} ({ref.transform}); "
                "--align reprojects it"
            )


def same_grid(a: FrameInfo, b: FrameInfo) -> bool:
    """Whether two rasters share shape, CRS and transform (to a millionth of a pixel)."""
    from pyproj import CRS

    if (
        a.shape != b.shape
        or (a.crs_wkt is None) != (b.crs_wkt is None)
        or (a.transform is None) != (b.transform is None)
    ):
        return False
    if a.crs_wkt and not CRS.from_wkt(a.crs_wkt).equals(CRS.from_wkt(b.crs_wkt)):
        return False
    if a.transform is None:
        return True
    tol = 1e-6 * max(1.0, abs(a.transform[0]), abs(a.transform[4]))
    return bool(np.allclose(a.transform[:6], b.transform[:6], rtol=0, atol=tol))


def describe_grid(info: FrameInfo) -> str:
    """A raster's grid in a few words: ``500x500 px, Geostationary ..., origin (x, y), pixel (dx, dy)``."""
    from pyproj import CRS

    crs = CRS.from_wkt(info.crs_wkt).name if info.crs_wkt else "no CRS"
    where = ""
    if info.transform is not None:
        t = info.transform
        where = f", origin ({t[2]:.6g}, {t[5]:.6g}), pixel ({t[0]:.6g}, {t[4]:.6g})"
    return f"{info.shape[0]}x{info.shape[1]} px, {crs}{where}"


def align_frame(frame: Frame, ref: FrameInfo) -> Frame:
    """Reproject a frame onto another frame's grid (bilinear, NoData kept out).

    Parameters
    ----------
    frame : Frame
        The frame to move; needs a CRS and transform.
    ref : FrameInfo
        The grid to move it to.

    Returns
    -------
    Frame
        Same values resampled on ``ref``'s grid; pixels that no valid source pixel
        covers are invalid.
    """
    from affine import Affine
    from rasterio.crs import CRS as RioCRS
    from rasterio.warp import Resampling, reproject

    src, dst = frame.info, ref
    if not (src.crs_wkt and src.transform and dst.crs_wkt and dst.transform):
        raise UsageError(f"--align: {src.path} and {dst.path} both need a CRS and a geotransform")
    out = np.full(dst.shape, np.nan, dtype=np.float32)
    reproject(
        np.where(frame.valid, frame.data, np.nan).astype(np.float32),
        out,
        src_transform=Affine(*src.transform),
        src_crs=RioCRS.from_wkt(src.crs_wkt),
        dst_transform=Affine(*dst.transform),
        dst_crs=RioCRS.from_wkt(dst.crs_wkt),
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.bilinear,
    )
    valid = np.isfinite(out)
    if not valid.any():
        raise DataError(f"{src.path}: does not overlap {dst.path} after --align")
    info = dataclasses.replace(src, shape=dst.shape, transform=dst.transform, crs_wkt=dst.crs_wkt)
    return Frame(info=info, data=out, valid=valid)
