"""A folder of GeoTIFF chips, one sample per file."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd
import torch
from rasterio.errors import RasterioError
from torch import Tensor

from ..bands import band_indices
from .band_names import folder_band_names
from .indexing import (
    INDEX_FILENAME,
    cached_index,
    check_lonlat,
    read_raster_headers,
    scan_files,
)
from .indexing import signature as files_signature
from .pixels import EmptyChipError, find_empty_chips, read_chip
from .pool import INDEX_COLUMNS, PoolDataset

__all__ = ["EMPTY_CHIP_POLICIES", "ChipFolder", "EmptyChips"]

#: What a :class:`ChipFolder` does with a chip that has no valid pixel.
EmptyChips = Literal["error", "exclude", "nan"]

#: Valid values of ``empty_chips``.
EMPTY_CHIP_POLICIES: tuple[str, ...] = get_args(EmptyChips)

#: Cache of which chips hold a valid pixel (``empty_chips="exclude"``).
_VALID_FILENAME = ".tgc_valid.parquet"


class ChipFolder(PoolDataset):
    """A pool of GeoTIFF chips stored one sample per file under a folder.

    Files may be in any CRS (UTM, EPSG:4326, ...) and of any integer or float data
    type; every file must hold the same bands in the same order. Their names are
    ``all_bands`` when given; otherwise they come from the files' band
    descriptions, and files without descriptions get ``band1 ... bandN`` with a
    warning (give ``all_bands`` for Sentinel-2 models: files are never assumed
    to hold the Sentinel-2 bands in product order). Each sample's location is the
    centre of the file's bounds reprojected to EPSG:4326.

    The pool index (sample id, path, lon, lat) is built from file headers only, in
    parallel, and cached atomically in ``<root>/.tgc_index.parquet``. It is rebuilt
    only when the set of files, their sizes or their modification times change.
    Problems that the headers show are refused here, naming the files: a file
    with another number of bands than ``all_bands`` (or than the other files),
    files naming their bands otherwise than the others, and chips of different
    sizes when ``size`` is not set (they could not be batched).

    Nodata and NaN handling: pixels are read as float32. A pixel is *missing* when
    it is NaN or +-inf (float files), or equals the nodata value (``nodata`` if
    given, else each file's own nodata tag; compared after conversion to float32).
    Missing pixels are set to ``fill_value`` in the returned image, so images never
    contain NaN. Set ``fill_value`` to a value your normalisation maps to something
    harmless (0 is "no reflectance" for Sentinel-2 digital numbers).

    A chip whose every pixel is missing (all NaN or all nodata) has no data to
    learn from; ``empty_chips`` decides what happens to it:

    * ``"error"`` (default): reading it raises a :class:`ValueError` naming the
      file. :meth:`check_pixels` finds every such chip before training.
    * ``"exclude"``: the pool reads every chip once (in parallel, cached in
      ``<root>/.tgc_valid.parquet`` until the files change) and leaves the empty
      ones out of its index; a warning gives their number and ids, and
      :attr:`excluded_ids` lists them.
    * ``"nan"``: it is returned with every pixel NaN, so that measurements count
      it as empty (``diversity``'s ``empty`` column); never train on it.

    A file that cannot be read (e.g. a truncated GeoTIFF whose header opens)
    raises a :class:`ValueError` naming the file and the pool.

    Sample ids are the file paths relative to ``root`` without their suffix, e.g.
    ``europe/chip_00012``; ``path`` in the index is the relative file path.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        bands: Sequence[str] | None = None,
        all_bands: Sequence[str] | None = None,
        nodata: float | None = None,
        fill_value: float = 0.0,
        size: int | None = None,
        suffixes: Sequence[str] = (".tif", ".tiff"),
        empty_chips: EmptyChips = "error",
        index_workers: int | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new ChipFolder instance.

        Args:
            root: Folder holding the chips (searched recursively; hidden files and
                folders are skipped).
            bands: Bands to load, in the order wanted; ``None`` loads ``all_bands``.
            all_bands: Names of the bands stored in each file, in file order;
                ``None`` takes them from the files' band descriptions, else names
                them ``band1 ... bandN`` with a warning.
            nodata: Value marking missing pixels; ``None`` uses each file's own
                nodata tag (if any).
            fill_value: Value given to missing (nodata, NaN or infinite) pixels.
            size: If given, every chip is resampled (nearest) to ``size x size``
                pixels on read, so chips of different sizes can be batched.
            suffixes: File name endings that mark a chip (case-insensitive).
            empty_chips: What to do with a chip without a valid pixel:
                ``error`` (raise when it is read), ``exclude`` (leave it out of the
                pool; reads every chip once) or ``nan`` (return it all NaN).
            index_workers: Threads used to index the folder; ``None`` = automatic.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If ``root`` does not exist or holds no chip.
            ValueError: If ``bands`` names a band not in ``all_bands``,
                ``fill_value`` is not finite, ``empty_chips`` is unknown, a file
                is not a raster, has no CRS, holds a different number of bands
                than ``all_bands`` or the other files, names its bands otherwise
                than the others, or lies outside the valid lon/lat range, or
                chips differ in size and ``size`` is not set.
        """
        self.root = Path(root)
        self._given_bands = None if all_bands is None else tuple(all_bands)
        self.nodata = nodata
        self.fill_value = float(fill_value)
        self.size = size
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.empty_chips = empty_chips
        self.index_workers = index_workers
        self.transforms = transforms
        #: Ids of the chips left out for having no valid pixel (``exclude``).
        self.excluded_ids: list[str] = []

        if bands is not None and not bands:
            raise ValueError("bands must name at least one band, or be None (all)")
        if self._given_bands is not None and bands is not None:
            band_indices(self._given_bands, bands)  # fail before indexing
        if not np.isfinite(self.fill_value):
            raise ValueError(f"fill_value must be a finite number, got {fill_value}")
        if size is not None and size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        if empty_chips not in EMPTY_CHIP_POLICIES:
            raise ValueError(
                f"empty_chips {empty_chips!r} is not valid; valid choices are "
                f"{list(EMPTY_CHIP_POLICIES)}"
            )

        self._index = self._load_index()
        self.bands = tuple(bands) if bands is not None else self.all_bands
        self._band_idx = band_indices(self.all_bands, self.bands)
        self._indexes = [i + 1 for i in self._band_idx]
        if self.empty_chips == "exclude":
            self._index = self._exclude_empty(self._index, self._files).reset_index(
                drop=True
            )
        self._abs_paths = [str(self.root / p) for p in self._index["path"]]
        self._lon = self._index["lon"].to_numpy(dtype=np.float64)
        self._lat = self._index["lat"].to_numpy(dtype=np.float64)
        # One 0-d tensor per chip, made once: indexing a list is cheaper than
        # slicing a tensor on every read.
        self._lon_t = list(torch.from_numpy(self._lon.astype(np.float32)).unbind())
        self._lat_t = list(torch.from_numpy(self._lat.astype(np.float32)).unbind())

    def _load_index(self) -> pd.DataFrame:
        """Load the cached index or rebuild it, and check what the headers show.

        Returns:
            The full index (with ``count``, ``height`` and ``width`` per file).

        Raises:
            FileNotFoundError: If the folder is missing or empty.
            ValueError: If a file holds another number of bands than
                ``all_bands`` or the other files, names its bands otherwise, its
                centre is not a valid longitude/latitude, or chip sizes differ
                while ``size`` is None.
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
                [str(self.root / r) for r in rel],
                num_workers=self.index_workers,
                descriptions=True,
            )
            ids = [r.rsplit(".", 1)[0] for r in rel]
            return pd.concat(
                [pd.DataFrame({"sample_id": ids, "path": rel}), headers], axis=1
            )

        index = cached_index(
            self.root / INDEX_FILENAME,
            files_signature(files, extra="chips|descriptions"),
            build,
        )
        #: The names of the bands stored in each file, in file order.
        self.all_bands = folder_band_names(index, str(self.root), self._given_bands)
        check_lonlat(index, str(self.root))
        if self.size is None:
            self._check_sizes(index)
        self._files = files
        return index.reset_index(drop=True)

    def _check_sizes(self, index: pd.DataFrame) -> None:
        """Raise if chips differ in size (they could not be batched)."""
        sizes = index.groupby(["height", "width"], sort=True)["path"]
        if sizes.ngroups > 1:
            found = ", ".join(
                f"{h}x{w} px ({len(paths)} chips, e.g. "
                f"{os.path.join(self.root, str(paths.iat[0]))!r})"
                for (h, w), paths in sizes
            )
            raise ValueError(
                f"chips of pool {str(self.root)!r} differ in size: {found}; a batch "
                "needs one size: set ChipFolder(size=...) (e.g. size="
                f"{int(index['height'].min())}) to resample every chip to size x "
                "size pixels on read"
            )

    def _exclude_empty(
        self, index: pd.DataFrame, files: Sequence[tuple[str, int, int]]
    ) -> pd.DataFrame:
        """Leave out the chips without a valid pixel (read once, cached)."""

        def build() -> pd.DataFrame:
            paths = [str(self.root / p) for p in index["path"]]
            flags = find_empty_chips(
                paths, self._indexes, self.size, self.nodata, self.index_workers
            )
            return pd.DataFrame({"path": index["path"], "empty": flags})

        extra = f"empty|{self.nodata!r}|{self._indexes}|{self.size}"
        cache = self.root / _VALID_FILENAME
        flags = cached_index(cache, files_signature(files, extra=extra), build)
        empty = set(flags.loc[flags["empty"], "path"])
        is_empty = index["path"].isin(empty).to_numpy()
        self.excluded_ids = index.loc[is_empty, "sample_id"].astype(str).tolist()
        if self.excluded_ids:
            warnings.warn(
                f"{len(self.excluded_ids)} of {len(index)} chips of pool "
                f"{str(self.root)!r} have no valid pixel (every pixel NaN or "
                f"nodata) and are left out (empty_chips='exclude'): "
                f"{self.excluded_ids[:10]}"
                + (" and more" if len(self.excluded_ids) > 10 else ""),
                stacklevel=3,
            )
        return index[~is_empty]

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

        Raises:
            ValueError: If the file cannot be read (the message names it).
            EmptyChipError: If it has no valid pixel and ``empty_chips`` is
                ``error`` (the message names the file).
        """
        path = self._abs_paths[index]
        try:
            image, missing = read_chip(path, self._indexes, self.size, self.nodata)
        except RasterioError as err:
            raise ValueError(
                f"could not read chip {path!r} of pool {str(self.root)!r}: {err}"
            ) from err
        if missing is not None:
            if not missing.all():
                image[missing] = self.fill_value
            elif self.empty_chips == "nan":
                image[:] = np.nan
            else:
                raise EmptyChipError(
                    f"chip {path!r} of pool {str(self.root)!r} has no valid pixel "
                    "(every pixel is NaN, infinite or nodata); remove it, or set "
                    "empty_chips='exclude' to leave such chips out of the pool"
                )
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
