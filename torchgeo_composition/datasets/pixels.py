"""Reading pixels: one chip with its missing pixels, and every sample once.

:func:`read_chip` reads a GeoTIFF chip as float32 and marks its missing pixels
(NaN, infinite or nodata); :func:`find_empty_chips` finds chips without any valid
pixel. :func:`find_bad_samples` reads samples of a pool in parallel threads (reading
rasters releases the GIL) and returns those that cannot be used for training,
each with its file and the reason: a read failure (a truncated or corrupt file),
no valid pixel (every pixel NaN, infinite or nodata), or an image whose shape
differs from the other samples' (they could not be batched).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import NamedTuple, Protocol

import numpy as np
import pandas as pd
import rasterio
import rasterio.env
import torch
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from tqdm.auto import tqdm

from .indexing import GDAL_OPTIONS

__all__ = [
    "BadSample",
    "EmptyChipError",
    "describe_bad_samples",
    "find_bad_samples",
    "find_empty_chips",
    "read_chip",
]

#: How many bad samples an error message lists.
_SHOWN = 10

_EMPTY = "no valid pixel (every pixel is NaN, infinite or nodata)"


class _Pool(Protocol):
    """What :func:`find_bad_samples` needs of a pool."""

    def index(self) -> pd.DataFrame: ...

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]: ...


class EmptyChipError(ValueError):
    """A chip has no valid pixel (every pixel NaN, infinite or nodata)."""


def _ensure_gdal_env() -> None:
    """Keep a GDAL environment active in this thread.

    Without one, :func:`rasterio.open` sets up and tears down a GDAL environment for
    every file, which costs about a third of the time of reading a small chip; and
    GDAL lists the whole folder for sidecar files at every open unless told not to
    (:data:`GDAL_OPTIONS`). The environment entered here is never exited; it lives as
    long as the thread (or data-loader worker). An environment the caller entered is
    used as is.
    """
    if not rasterio.env.hasenv():
        rasterio.env.Env(**GDAL_OPTIONS).__enter__()


def read_chip(
    path: str, indexes: list[int], size: int | None, nodata: float | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Read a chip as float32 and find its missing pixels.

    Args:
        path: The GeoTIFF file.
        indexes: Band numbers to read (1-based), in channel order.
        size: Resample (nearest) to ``size x size`` pixels; None keeps the size.
        nodata: Value of missing pixels; None uses the file's nodata tag.

    Returns:
        ``(image, missing)``: ``missing`` marks NaN, infinite and nodata pixels,
        or is None when there is none.

    Raises:
        RasterioError: If the file cannot be read.
    """
    _ensure_gdal_env()
    with rasterio.open(path) as src:
        shape = None if size is None else (len(indexes), size, size)
        # GDAL converts to float32 while reading: no extra copy
        image = src.read(
            indexes, out_shape=shape, out_dtype="float32", resampling=Resampling.nearest
        )
        nodata = nodata if nodata is not None else src.nodata
        is_float = np.dtype(src.dtypes[0]).kind == "f"
    missing = None
    if nodata is not None and not np.isnan(nodata):
        is_nodata = image == np.float32(nodata)
        if is_nodata.any():
            missing = is_nodata
    # Only floating-point files can hold NaN / inf; one sum tests them all.
    if is_float and not np.isfinite(image.sum()):
        not_finite = ~np.isfinite(image)
        missing = not_finite if missing is None else missing | not_finite
    return image, missing


def find_empty_chips(
    paths: Sequence[str],
    indexes: list[int],
    size: int | None,
    nodata: float | None,
    num_workers: int | None = None,
) -> list[bool]:
    """Read chips in parallel threads and tell which have no valid pixel.

    Args:
        paths: The GeoTIFF files.
        indexes: Band numbers to read (1-based).
        size: Resample to ``size x size`` pixels as the pool does; None keeps it.
        nodata: Value of missing pixels; None uses each file's nodata tag.
        num_workers: Threads; ``None`` = Python's default for I/O work.

    Returns:
        Per file, whether every pixel is missing (a file that cannot be read is
        not empty: reading it later names it).
    """

    def empty(path: str) -> bool:
        try:
            _, missing = read_chip(path, indexes, size, nodata)
        except RasterioError:
            return False
        return missing is not None and bool(missing.all())

    with (
        ThreadPoolExecutor(max_workers=num_workers) as executor,
        tqdm(total=len(paths), desc="Finding empty chips", disable=None) as bar,
    ):
        flags = []
        for flag in executor.map(empty, paths):
            flags.append(flag)
            bar.update()
    return flags


class BadSample(NamedTuple):
    """A sample that cannot be used, and why."""

    #: The sample id.
    sample_id: str
    #: Its file or folder (under the pool's root when it has one).
    path: str
    #: What is wrong with it.
    reason: str


def _check(pool: _Pool, position: int) -> tuple[tuple[int, ...] | None, str]:
    """Read one sample; return its image shape (None on failure) and a problem."""
    try:
        image = pool[position]["image"]
    except EmptyChipError:
        return None, _EMPTY
    except Exception as err:  # any failure of a reader is a bad sample
        cause = err.__cause__
        if cause is not None:  # the reader named the file; give the cause
            return None, f"could not read it: {type(cause).__name__}: {cause}"
        return None, " ".join(str(err).split()) or type(err).__name__
    shape = tuple(image.shape)
    if image.numel() == 0 or not bool(torch.isfinite(image).any()):
        return shape, _EMPTY
    return shape, ""


def find_bad_samples(
    pool: _Pool,
    positions: Sequence[int],
    num_workers: int | None = None,
) -> list[BadSample]:
    """Read samples of a pool once, in parallel, and return the unusable ones.

    Args:
        pool: The pool.
        positions: Dataset positions to read (duplicates are read once).
        num_workers: Threads; ``None`` = Python's default for I/O work.

    Returns:
        The bad samples, in position order: read failures, images without a
        valid pixel, and images whose shape differs from the most common one.
    """
    unique = sorted(set(positions))
    index = pool.index()
    root = getattr(pool, "root", None)
    results: dict[int, tuple[tuple[int, ...] | None, str]] = {}
    with (
        ThreadPoolExecutor(max_workers=num_workers) as executor,
        tqdm(total=len(unique), desc="Checking pixels", disable=None) as bar,
    ):
        futures = {executor.submit(_check, pool, p): p for p in unique}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            bar.update()
    shapes = Counter(s for s, _ in results.values() if s is not None)
    common = shapes.most_common(1)[0][0] if shapes else None
    bad: list[BadSample] = []
    for position in unique:
        shape, reason = results[position]
        if not reason and shape is not None and common is not None and shape != common:
            reason = (
                f"image shape {shape} differs from {common}, the shape of "
                f"{shapes[common]} other samples; batches need one size "
                "(ChipFolder(size=...) resamples every chip to one size)"
            )
        if reason:
            path = str(index["path"].iat[position])
            if root is not None:
                path = os.path.join(str(root), path)
            bad.append(BadSample(str(index["sample_id"].iat[position]), path, reason))
    return bad


def describe_bad_samples(bad: Sequence[BadSample], checked: int, pool: object) -> str:
    """One line naming the bad samples (the first ten) and what to do.

    Args:
        bad: The bad samples.
        checked: How many samples were read.
        pool: The pool, for the message.

    Returns:
        The message.
    """
    listed = "; ".join(f"{b.path!r}: {b.reason.rstrip('.')}" for b in bad[:_SHOWN])
    more = f"; and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
    root = getattr(pool, "root", None)
    name = type(pool).__name__ + (f" {str(root)!r}" if root is not None else "")
    return (
        f"check_pixels: {len(bad)} of {checked} samples of pool {name} cannot be "
        f"used: {listed}{more}. Fix or remove these files (the pool index is "
        "rebuilt when files change) before training"
    )
