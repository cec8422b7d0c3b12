"""A pool adapter for TorchGeo's SSL4EO-S12 dataset."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import rasterio
import torch
from rasterio.errors import RasterioError
from torch import Tensor
from torchgeo.datasets import SSL4EOS12, DatasetNotFoundError

from ..bands import band_indices
from .indexing import (
    GDAL_OPTIONS,
    INDEX_FILENAME,
    cached_index,
    check_lonlat,
    read_raster_headers,
    signature,
)
from .pool import INDEX_COLUMNS, PoolDataset

__all__ = ["SSL4EOS12Pool"]

_LOCATION = re.compile(r"^\d{7}$")

#: Pixels per side of every band after reading (TorchGeo's ``SSL4EOS12.size``).
_SIZE = 264


class _PoolNotFoundError(DatasetNotFoundError):
    """The SSL4EO-S12 files are not where the pool looks (TorchGeo's error type)."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)


def _not_found(root: Path, split: str) -> str:
    part = SSL4EOS12.filenames[split]
    url = SSL4EOS12.url.format(part, "<aa, ab, ...>").rsplit("/", 2)[0]
    return (
        f"SSL4EO-S12 split {split!r} not found under root {str(root)!r}: expected "
        f"'{root / split}/<7-digit location id>/<season>/<band>.tif'. This pool "
        f"does not download. Get the archive parts '{part}.tar.gz.part*' (from "
        f"{url}/{part}/) and put them in {str(root)!r}, where they are extracted on "
        f"first use; or extract them yourself so that '{root / split}' holds the "
        "location folders; or set root to the folder that holds them"
    )


class SSL4EOS12Pool(PoolDataset):
    """SSL4EO-S12 as a pool: TorchGeo's dataset plus an index of sample centres.

    Wraps :class:`~torchgeo.datasets.SSL4EOS12` and adds each location's centre in
    longitude and latitude.

    TorchGeo's dataset reports ``x``/``y`` in each file's own CRS (UTM for the real
    data) and a fixed length of 251,079 whatever is on disk. This adapter indexes
    the location folders actually present (``<root>/<split>/<7-digit id>/``): for
    each it reads the CRS and bounds of one band file of its first season (no
    pixels), reprojects the centre to EPSG:4326 and caches the result atomically in
    ``<root>/<split>/.tgc_index.parquet`` (rebuilt when location folders or those
    files change). Indexing runs in parallel workers.

    Samples are read like :class:`~torchgeo.datasets.SSL4EOS12` reads them
    (``seasons`` of a location's season folders, every band resampled to 264 px,
    nearest), but only the selected ``bands`` are read, and the seasons are drawn
    reproducibly: from numpy's PCG64 seeded with ``(seed, epoch, location id)``,
    among the location's season folders in sorted order. The same seed gives the
    same sample in every run, process and data-loader worker, so measurements
    (e.g. spectral entropy) are reproducible; :meth:`set_epoch` (called every
    epoch by the datamodules' sampler) draws other seasons in later epochs.

    With ``seasons`` > 1, channels are season-major and :attr:`bands` repeats the
    band names once per season: choose the bands here, with ``bands``; a
    datamodule refuses to select channels of such a pool by name (the names are
    ambiguous). Sample ids are the 7-digit location ids.
    """

    #: Samples change with :meth:`set_epoch` (other seasons every epoch).
    varies_by_epoch = True

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        split: Literal["s1", "s2c", "s2a"] = "s2c",
        seasons: Literal[1, 2, 3, 4] = 1,
        bands: Sequence[str] | None = None,
        seed: int = 0,
        index_workers: int | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new SSL4EOS12Pool instance.

        Args:
            root: Root folder of SSL4EO-S12 (holding ``s1``, ``s2c`` or ``s2a``).
            split: Which product: ``s1``, ``s2c`` (L1C, 13 bands) or ``s2a``
                (L2A, 12 bands).
            seasons: Number of seasonal patches per sample, 1--4.
            bands: Bands to keep, in order, in every season; ``None`` keeps all
                bands of ``split``.
            seed: Seed of the season draws (with the epoch and the location id).
            index_workers: Threads used to build the index; ``None`` = automatic.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            DatasetNotFoundError: If the dataset is not found under ``root`` (the
                message says what to download and where to put it).
            ValueError: If ``split`` or ``seasons`` is invalid or a band is not in
                ``split``.
        """
        if split not in SSL4EOS12.metadata:
            raise ValueError(
                f"split {split!r} is not valid; valid choices are "
                f"{list(SSL4EOS12.metadata)}"
            )
        if seasons not in (1, 2, 3, 4):
            raise ValueError(f"seasons must be 1, 2, 3 or 4, got {seasons!r}")
        self.root = Path(root)
        self.split = split
        self.seasons = seasons
        self.all_bands = tuple(SSL4EOS12.metadata[split]["bands"])
        selected = tuple(bands) if bands is not None else self.all_bands
        self._files = [
            self.all_bands[i] for i in band_indices(self.all_bands, selected)
        ]
        # channel names: season-major, the selected bands once per season
        self.bands = selected * seasons
        self.seed = seed
        self.epoch = 0
        self.index_workers = index_workers
        self.transforms = transforms
        try:  # TorchGeo's check; it extracts downloaded archive parts
            SSL4EOS12(root, split=split, seasons=seasons)
        except DatasetNotFoundError:
            raise _PoolNotFoundError(_not_found(self.root, split)) from None
        self._index = self._load_index()
        self._locations = self._index["sample_id"].astype(str).tolist()
        self._lon = self._index["lon"].to_numpy(dtype=np.float64)
        self._lat = self._index["lat"].to_numpy(dtype=np.float64)

    def _load_index(self) -> pd.DataFrame:
        folder = self.root / self.split
        locations = sorted(
            e.name for e in os.scandir(folder) if e.is_dir() and _LOCATION.match(e.name)
        )
        files: list[tuple[str, int, int]] = []
        for loc in locations:
            seasons = sorted(os.listdir(folder / loc))
            rel = f"{loc}/{seasons[0]}/{self.all_bands[0]}.tif"
            st = os.stat(folder / rel)
            files.append((rel, st.st_size, st.st_mtime_ns))

        def build() -> pd.DataFrame:
            headers = read_raster_headers(
                [str(folder / f[0]) for f in files], num_workers=self.index_workers
            )
            return pd.DataFrame(
                {
                    "sample_id": locations,
                    "path": [f"{self.split}/{loc}" for loc in locations],
                    "lon": headers["lon"].to_numpy(),
                    "lat": headers["lat"].to_numpy(),
                }
            )

        sig = signature(files, extra=f"ssl4eo-s12|{self.split}")
        index = cached_index(folder / INDEX_FILENAME, sig, build)
        check_lonlat(index, str(self.root))
        return index

    def index(self) -> pd.DataFrame:
        """Return the pool index.

        Returns:
            Columns ``sample_id`` (7-digit location id), ``path`` (location folder
            relative to ``root``), ``lon``, ``lat``.
        """
        return self._index.loc[:, list(INDEX_COLUMNS)]

    def __len__(self) -> int:
        """Return the number of locations present on disk.

        Returns:
            The number of samples.
        """
        return len(self._index)

    def set_epoch(self, epoch: int) -> None:
        """Draw the seasons of the given epoch from now on.

        Args:
            epoch: The epoch (0 for measurements).
        """
        self.epoch = int(epoch)

    def seasons_of(self, index: int) -> list[str]:
        """Return the season folders sample ``index`` reads at the current epoch.

        Args:
            index: Position of the location in :meth:`index`.

        Returns:
            ``seasons`` season folder names, in channel order.

        Raises:
            ValueError: If the location holds fewer season folders than ``seasons``.
        """
        folder = self.root / self.split / self._locations[index]
        regex = SSL4EOS12.metadata[self.split]["filename_regex"]
        names = sorted(n for n in os.listdir(folder) if re.match(regex, n))
        if len(names) < self.seasons:
            raise ValueError(
                f"location {str(folder)!r} of pool {str(self.root)!r} holds "
                f"{len(names)} season folders, fewer than seasons={self.seasons}"
            )
        location = int(self._locations[index])
        rng = np.random.default_rng([self.seed, self.epoch, location])
        return [names[i] for i in rng.choice(len(names), self.seasons, replace=False)]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the location in :meth:`index`.

        Returns:
            ``image`` (seasons x bands, 264, 264) float32, ``lon``, ``lat``.

        Raises:
            ValueError: If a band file cannot be read (naming it and the pool).
        """
        folder = self.root / self.split / self._locations[index]
        channels = []
        with rasterio.Env(**GDAL_OPTIONS):
            for season in self.seasons_of(index):
                for band in self._files:
                    path = folder / season / f"{band}.tif"
                    try:
                        with rasterio.open(path) as src:
                            pixels = src.read(out_shape=(1, _SIZE, _SIZE))
                    except RasterioError as err:
                        raise ValueError(
                            f"could not read chip {str(path)!r} of pool "
                            f"{str(self.root)!r}: {err}"
                        ) from err
                    channels.append(pixels.astype(np.float32))
        sample = {
            "image": torch.from_numpy(np.concatenate(channels)),
            "lon": torch.tensor(self._lon[index], dtype=torch.float32),
            "lat": torch.tensor(self._lat[index], dtype=torch.float32),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
