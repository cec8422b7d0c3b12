"""A pool adapter for TorchGeo's SSL4EO-S12 dataset."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torchgeo.datasets import SSL4EOS12

from ..bands import band_indices
from .indexing import (
    INDEX_FILENAME,
    cached_index,
    check_lonlat,
    read_raster_headers,
    signature,
)
from .pool import INDEX_COLUMNS, PoolDataset

__all__ = ["SSL4EOS12Pool"]

_LOCATION = re.compile(r"^\d{7}$")


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

    Samples are read by :class:`~torchgeo.datasets.SSL4EOS12` (which picks
    ``seasons`` random seasons and resamples every band to 264 px); the adapter keeps
    the selected ``bands`` of each season and adds ``lon``/``lat``. With
    ``seasons`` > 1, channels are season-major and :attr:`bands` repeats the band
    names once per season. Sample ids are the 7-digit location ids.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        split: Literal["s1", "s2c", "s2a"] = "s2c",
        seasons: Literal[1, 2, 3, 4] = 1,
        bands: Sequence[str] | None = None,
        index_workers: int | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new SSL4EOS12Pool instance.

        Args:
            root: Root folder of SSL4EO-S12 (holding ``s1``, ``s2c`` or ``s2a``).
            split: Which product: ``s1``, ``s2c`` (L1C, 13 bands) or ``s2a``
                (L2A, 12 bands).
            seasons: Number of seasonal patches per sample, 1--4.
            bands: Bands to keep, in order; ``None`` keeps all bands of ``split``.
            index_workers: Threads used to build the index; ``None`` = automatic.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            DatasetNotFoundError: If the dataset is not found under ``root``.
            ValueError: If ``split`` is unknown or a band is not in ``split``.
        """
        if split not in SSL4EOS12.metadata:
            raise ValueError(
                f"split {split!r} is not valid; valid choices are "
                f"{list(SSL4EOS12.metadata)}"
            )
        self.root = Path(root)
        self.split = split
        self.seasons = seasons
        self.all_bands = tuple(SSL4EOS12.metadata[split]["bands"])
        selected = tuple(bands) if bands is not None else self.all_bands
        self._band_idx = band_indices(self.all_bands, selected)
        # channel names: season-major, the selected bands once per season
        self.bands = selected * seasons
        self.index_workers = index_workers
        self.transforms = transforms
        self._dataset = SSL4EOS12(root, split=split, seasons=seasons)
        self._index = self._load_index()
        self._locations = [int(i) for i in self._index["sample_id"]]
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

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the location in :meth:`index`.

        Returns:
            ``image`` (seasons x bands, 264, 264) float32, ``lon``, ``lat``.
        """
        raw = self._dataset[self._locations[index]]
        image = raw["image"]
        n = len(self.all_bands)
        keep = [s * n + b for s in range(image.shape[0] // n) for b in self._band_idx]
        sample = {
            "image": image[keep].float(),
            "lon": torch.tensor(self._lon[index], dtype=torch.float32),
            "lat": torch.tensor(self._lat[index], dtype=torch.float32),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
