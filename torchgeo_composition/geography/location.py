"""Sample locations from raster bounds, reprojected to EPSG:4326."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import rasterio
import rasterio.errors
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer


def _to_crs(crs: Any) -> CRS:
    if crs is None:
        raise ValueError("crs must be given, got None")
    try:
        if hasattr(crs, "to_wkt"):  # rasterio.crs.CRS and pyproj.CRS
            return CRS.from_wkt(crs.to_wkt())
        return CRS.from_user_input(crs)
    except Exception as error:  # pyproj raises CRSError and others
        raise ValueError(f"crs {crs!r} is not a valid coordinate system") from error


def bounds_center_lonlat(
    bounds: ArrayLike, crs: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the centre of bounding boxes as longitude/latitude (EPSG:4326).

    The centre is taken in the source CRS, then reprojected with pyproj, so a
    UTM chip's centre is its pixel-grid centre. Vectorised: pass an ``(N, 4)``
    array of boxes sharing one CRS (a pool index, say).

    Args:
        bounds: ``(left, bottom, right, top)`` or an array of shape ``(..., 4)``.
        crs: the boxes' CRS: an EPSG code, ``"EPSG:32633"``, WKT, a
            :class:`pyproj.CRS` or a :class:`rasterio.crs.CRS`. In a geographic
            CRS, ``left > right`` means the box crosses the antimeridian.

    Returns:
        ``(lon, lat)`` arrays of shape ``bounds.shape[:-1]`` (0-d for one box).

    Raises:
        ValueError: if ``bounds`` is not ``(..., 4)``, holds non-finite values or
            ``bottom > top``, if ``crs`` is invalid, or if the centres cannot be
            transformed to EPSG:4326.
    """
    box = np.asarray(bounds, dtype=np.float64)
    if box.ndim == 0 or box.shape[-1] != 4:
        raise ValueError(
            f"bounds must have shape (..., 4) as (left, bottom, right, top), "
            f"got shape {box.shape}"
        )
    if not np.isfinite(box).all():
        raise ValueError(f"bounds must be finite, got {box[~np.isfinite(box)][:1]!r}")
    left, bottom, right, top = np.moveaxis(box, -1, 0)
    if (bottom > top).any():
        raise ValueError("bounds must satisfy bottom <= top")
    source = _to_crs(crs)
    if source.is_geographic:
        right = np.where(right < left, right + 360.0, right)
    x, y = (left + right) / 2.0, (bottom + top) / 2.0
    transformer = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(x, y)
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValueError(
            f"bounds centres cannot be transformed from {source.to_string()} "
            "to EPSG:4326 (outside the CRS's area of use?)"
        )
    lon = (lon + 180.0) % 360.0 - 180.0
    lon = np.where((lon == -180.0) & (x > 0), 180.0, lon)
    return lon, np.clip(lat, -90.0, 90.0)


def raster_center_lonlat(path: str | os.PathLike[str]) -> tuple[float, float]:
    """Return the centre of a raster's bounds as longitude/latitude (EPSG:4326).

    Only the header is read (CRS and bounds), never the pixels.

    Args:
        path: a raster file readable by rasterio (GeoTIFF, ...).

    Returns:
        ``(lon, lat)`` in degrees.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if ``path`` is not a raster or the raster has no CRS.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"path {os.fspath(path)!r} does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(path) as src:
                crs, bounds = src.crs, tuple(src.bounds)
    except rasterio.errors.RasterioIOError as error:
        raise ValueError(
            f"path {os.fspath(path)!r} is not a raster readable by rasterio: {error}"
        ) from error
    if crs is None:
        raise ValueError(
            f"raster {os.fspath(path)!r} has no CRS; its location cannot be "
            "determined (assign one, e.g. with rio edit-info --crs)"
        )
    lon, lat = bounds_center_lonlat(bounds, crs)
    return float(lon), float(lat)
