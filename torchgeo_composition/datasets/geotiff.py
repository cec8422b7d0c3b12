"""Reading GeoTIFF pixels for the metadata pools: files on disk and bytes in memory."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import rasterio
import rasterio.env
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.io import MemoryFile
from rasterio.windows import Window

from .indexing import GDAL_OPTIONS

__all__ = ["decode_geotiff", "ensure_gdal_env", "read_geotiff"]


def ensure_gdal_env() -> None:
    """Keep a GDAL environment active in this thread (entered once, never exited).

    Without one, rasterio sets one up and tears it down at every open, which costs
    a good part of reading a small file.
    """
    if not rasterio.env.hasenv():
        rasterio.env.Env(**GDAL_OPTIONS).__enter__()


def read_geotiff(
    path: str,
    indexes: Sequence[int],
    size: int | None = None,
    nodata: float | None = None,
    fill_value: float = 0.0,
) -> np.ndarray:
    """Read bands of a raster file as float32.

    Args:
        path: The file.
        indexes: 1-based band numbers to read, in order.
        size: If given, resample (nearest) to ``size x size`` pixels.
        nodata: Value marking missing pixels; ``None`` = the file's own tag.
        fill_value: Value given to missing pixels.

    Returns:
        Array (len(indexes), H, W) float32.

    Raises:
        ValueError: If the file is not a readable raster or lacks a band (the
            message names it).
    """
    ensure_gdal_env()
    try:
        with rasterio.open(path) as src:
            if max(indexes) > src.count:
                raise ValueError(
                    f"raster {path!r} holds {src.count} bands; band {max(indexes)} "
                    "was requested"
                )
            shape = None if size is None else (len(indexes), size, size)
            image = src.read(
                list(indexes),
                out_shape=shape,
                out_dtype="float32",
                resampling=Resampling.nearest,
            )
            nodata = src.nodata if nodata is None else nodata
    except RasterioIOError as err:
        raise ValueError(f"file {path!r} is not a readable raster ({err})") from err
    if nodata is not None and not np.isnan(nodata):
        image[image == np.float32(nodata)] = fill_value
    return image


def decode_geotiff(
    data: bytes,
    source: str,
    out_size: int,
    window: tuple[float, float, float] | None = None,
) -> np.ndarray:
    """Decode a single-band GeoTIFF held in memory, resampled to a common grid.

    Args:
        data: The GeoTIFF file's bytes.
        source: Where the bytes come from, for messages.
        out_size: Side of the returned image in pixels.
        window: ``(column offset, row offset, side)`` of a square window as
            fractions of the image width and height; ``None`` = the whole image.

    Returns:
        Array (out_size, out_size) float32 (nearest resampling).

    Raises:
        ValueError: If the bytes are not a readable GeoTIFF (naming ``source``).
    """
    ensure_gdal_env()
    try:
        with MemoryFile(data) as memfile, memfile.open() as src:
            win = None
            if window is not None:
                col, row, side = window
                win = Window(
                    col * src.width,
                    row * src.height,
                    side * src.width,
                    side * src.height,
                )
            image = src.read(
                1,
                window=win,
                out_shape=(out_size, out_size),
                out_dtype="float32",
                resampling=Resampling.nearest,
            )
    except (RasterioIOError, TypeError, ValueError) as err:
        raise ValueError(f"{source} is not a readable GeoTIFF ({err})") from err
    return image
