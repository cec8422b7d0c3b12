"""A folder of GeoTIFF chips, one sample per file."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import rasterio.env
import torch
from rasterio.enums import Resampling
from torch import Tensor

from ..bands import S2_BANDS, band_indices
from .indexing import (
    GDAL_OPTIONS,
    INDEX_FILENAME,
    cached_index,
    check_lonlat,
    read_raster_headers,
    scan_files,
)
from .indexing import signature as files_signature
from .pool import INDEX_COLUMNS, PoolDataset

__all__ = ["ChipFolder"]


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


class ChipFolder(PoolDataset):
    """A pool of GeoTIFF chips stored one sample per file under a folder.

    Files may be in any CRS (UTM, EPSG:4326, ...) and of any integer or float data
    type; every file must hold the bands of ``all_bands`` in that order. Each
    sample's location is the centre of the file's bounds reprojected to EPSG:4326.

    The pool index (sample id, path, lon, lat) is built from file headers only, in
    parallel, and cached atomically in ``<root>/.tgc_index.parquet``. It is rebuilt
    only when the set of files, their sizes or their modification times change.

    Nodata and NaN handling: pixels are read as float32. A pixel is *missing* when
    it is NaN or +-inf (float files), or equals the nodata value (``nodata`` if
    given, else each file's own nodata tag; compared after conversion to float32).
    Missing pixels are set to ``fill_value`` in the returned image, so images never
    contain NaN. Set ``fill_value`` to a value your normalisation maps to something harmless
    (0 is "no reflectance" for Sentinel-2 digital numbers).

    Sample ids are the file paths relative to ``root`` without their suffix, e.g.
    ``europe/chip_00012``; ``path`` in the index is the relative file path.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        bands: Sequence[str] | None = None,
        all_bands: Sequence[str] = S2_BANDS,
        nodata: float | None = None,
        fill_value: float = 0.0,
        size: int | None = None,
        suffixes: Sequence[str] = (".tif", ".tiff"),
        index_workers: int | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new ChipFolder instance.

        Args:
            root: Folder holding the chips (searched recursively; hidden files and
                folders are skipped).
            bands: Bands to load, in the order wanted; ``None`` loads ``all_bands``.
            all_bands: Names of the bands stored in each file, in file order.
            nodata: Value marking missing pixels; ``None`` uses each file's own
                nodata tag (if any).
            fill_value: Value given to missing (nodata, NaN or infinite) pixels.
            size: If given, every chip is resampled (nearest) to ``size x size``
                pixels on read, so chips of different sizes can be batched.
            suffixes: File name endings that mark a chip (case-insensitive).
            index_workers: Threads used to index the folder; ``None`` = automatic.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If ``root`` does not exist or holds no chip.
            ValueError: If ``bands`` names a band not in ``all_bands``, ``fill_value``
                is not finite, if a file is
                not a raster, has no CRS, holds a different number of bands than
                ``all_bands``, or lies outside the valid lon/lat range.
        """
        self.root = Path(root)
        self.all_bands = tuple(all_bands)
        self.bands = tuple(bands) if bands is not None else self.all_bands
        self.nodata = nodata
        self.fill_value = float(fill_value)
        self.size = size
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.index_workers = index_workers
        self.transforms = transforms

        if not self.bands:
            raise ValueError(f"bands must name at least one of {list(self.all_bands)}")
        if not set(self.bands) <= set(self.all_bands):
            # band_indices raises with the list of valid names; try aliases first
            band_indices(self.all_bands, self.bands)
        self._band_idx = band_indices(self.all_bands, self.bands)
        self._indexes = [i + 1 for i in self._band_idx]
        if not np.isfinite(self.fill_value):
            raise ValueError(f"fill_value must be a finite number, got {fill_value}")
        if size is not None and size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {size}")

        self._index = self._load_index()
        self._abs_paths = [str(self.root / p) for p in self._index["path"]]
        self._lon = self._index["lon"].to_numpy(dtype=np.float64)
        self._lat = self._index["lat"].to_numpy(dtype=np.float64)
        # One 0-d tensor per chip, made once: indexing a list is cheaper than
        # slicing a tensor on every read.
        self._lon_t = list(torch.from_numpy(self._lon.astype(np.float32)).unbind())
        self._lat_t = list(torch.from_numpy(self._lat.astype(np.float32)).unbind())

    def _load_index(self) -> pd.DataFrame:
        """Load the cached index or rebuild it.

        Returns:
            The full index (with a ``count`` column of bands per file).

        Raises:
            FileNotFoundError: If the folder is missing or empty.
            ValueError: If a file does not hold ``len(all_bands)`` bands or its
                centre is not a valid longitude/latitude.
        """
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"root {str(self.root)!r} is not a folder; it must hold the pool's "
                "GeoTIFF chips"
            )
        files = scan_files(self.root, self.suffixes)
        if not files:
            raise FileNotFoundError(
                f"root {str(self.root)!r} holds no chip (files ending with "
                f"{list(self.suffixes)}); the pool is empty"
            )

        def build() -> pd.DataFrame:
            rel = [f[0] for f in files]
            headers = read_raster_headers(
                [str(self.root / r) for r in rel], num_workers=self.index_workers
            )
            ids = [r.rsplit(".", 1)[0] for r in rel]
            return pd.DataFrame(
                {
                    "sample_id": ids,
                    "path": rel,
                    "lon": headers["lon"].to_numpy(),
                    "lat": headers["lat"].to_numpy(),
                    "count": headers["count"].to_numpy(),
                }
            )

        sig = files_signature(files, extra="chips")
        index = cached_index(self.root / INDEX_FILENAME, sig, build)
        bad = index[index["count"] != len(self.all_bands)]
        if len(bad):
            row = bad.iloc[0]
            raise ValueError(
                f"file {str(self.root / row['path'])!r} holds {row['count']} bands but "
                f"all_bands names {len(self.all_bands)}: {list(self.all_bands)}; set "
                "all_bands to the bands stored in the files, in file order"
            )
        check_lonlat(index, str(self.root))
        return index.reset_index(drop=True)

    def index(self) -> pd.DataFrame:
        """Return the pool index.

        Returns:
            Columns ``sample_id``, ``path`` (relative to ``root``), ``lon``, ``lat``.
        """
        return self._index.loc[:, list(INDEX_COLUMNS)]

    def __len__(self) -> int:
        """Return the number of chips.

        Returns:
            The number of chips in the pool.
        """
        return len(self._abs_paths)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one chip.

        Args:
            index: Position of the chip.

        Returns:
            ``image`` (C, H, W) float32 with missing pixels set to ``fill_value``,
            ``lon`` and ``lat`` (float32, degrees).
        """
        _ensure_gdal_env()
        with rasterio.open(self._abs_paths[index]) as src:
            shape = None
            if self.size is not None:
                shape = (len(self._indexes), self.size, self.size)
            # GDAL converts to float32 while reading: no extra copy
            image = src.read(
                self._indexes,
                out_shape=shape,
                out_dtype="float32",
                resampling=Resampling.nearest,
            )
            nodata = self.nodata if self.nodata is not None else src.nodata
            is_float = np.dtype(src.dtypes[0]).kind == "f"
        if nodata is not None and not np.isnan(nodata):
            is_nodata = image == np.float32(nodata)
            if is_nodata.any():
                image[is_nodata] = self.fill_value
        # Only floating-point files can hold NaN / inf; one sum tests them all.
        if is_float and not np.isfinite(image.sum()):
            image[~np.isfinite(image)] = self.fill_value
        sample = {
            "image": torch.from_numpy(image),
            "lon": self._lon_t[index],
            "lat": self._lat_t[index],
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, bands={list(self.bands)}, "
            f"len={len(self)})"
        )
