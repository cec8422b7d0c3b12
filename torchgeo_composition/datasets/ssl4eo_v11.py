"""SSL4EO-S12 v1.1 as a pool: Zarr zips of 64 locations x 4 timestamps each."""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from torch import Tensor

from ..bands import band_indices
from .handles import HandleCache
from .metadata import (
    MetadataPool,
    MissingPolicy,
    absolute_paths,
    cached_metadata_index,
    drop_missing_files,
)
from .metatables import (
    geometry_centres,
    read_table,
    table_columns,
    table_crs,
)
from .zarrzip import (
    band_positions,
    dimensions,
    open_zarr_zip,
    read_image,
    require_variables,
    variable,
)

__all__ = ["SSL4EO_V11_BANDS", "SSL4EOS12V11Pool"]

_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09")

#: Bands of each SSL4EO-S12 v1.1 modality, in file order.
SSL4EO_V11_BANDS: dict[str, tuple[str, ...]] = {
    "S2L1C": (*_S2, "B10", "B11", "B12"),
    "S2L2A": (*_S2, "B11", "B12"),
    "S2RGB": ("R", "G", "B"),
    "S1GRD": ("vv", "vh"),
}

#: Columns of ``splits/<split>_metadata.parquet`` the index needs.
_REQUIRED = ("sample_id", "time_id", "geometry", "file")
#: Further columns kept in the index when present.
_EXTRA = ("time", "tile_id", "tile_crs")


class SSL4EOS12V11Pool(MetadataPool):
    """SSL4EO-S12 v1.1: 246,144 locations x 4 timestamps, 264 x 264 px.

    Layout under ``root`` (as downloaded from the dataset's Hugging Face or
    Jülich DataHub release)::

        splits/{train,val}_metadata.parquet
        {train,val}/{S2L1C,S2L2A,S2RGB,S1GRD}/ssl4eos12_<split>_seasonal_data_<n>.zarr.zip

    Each Zarr (format 2) zip holds 64 locations; its ``bands`` variable has the
    dimensions (sample, time, band, y, x) and its ``sample`` coordinate the
    location ids. The index comes from the metadata parquet alone (columns
    ``sample_id, time_id, time, tile_id, geometry, tile_crs, file``): each
    sample's centre is the centre of its geometry's bounds, reprojected to
    longitude/latitude when the GeoParquet metadata names another CRS; no zip is
    opened. ``time``, ``tile_id``, ``tile_crs``, ``time_id`` and ``file`` stay in
    the index as metadata columns.

    Samples and their ids, by ``timestamps``:

    * ``"all"`` -- one sample per location and timestamp, id
      ``<sample_id>/<time_id>`` (e.g. ``0000173/2``);
    * an int ``t`` -- one sample per location, its timestamp ``t``, id
      ``<sample_id>``;
    * ``"random"`` -- one sample per location, id ``<sample_id>``; each read
      takes one of the location's timestamps, drawn from ``(seed, epoch,
      location)``: the same in every run for a given epoch (see
      :meth:`set_epoch`), different from epoch to epoch.

    Zips are opened once per process and kept open (the 16 most recently used).
    Reading a sample decodes the chunk that holds it (in the released files, one
    timestamp of all 64 locations of a zip), so reading in the order of the
    index is much faster than random order.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        split: Literal["train", "val"] = "train",
        modality: Literal["S2L1C", "S2L2A", "S2RGB", "S1GRD"] = "S2L2A",
        timestamps: Literal["all", "random"] | int = "all",
        bands: Sequence[str] | None = None,
        seed: int = 0,
        on_missing: MissingPolicy = "error",
        fill_value: float = 0.0,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new SSL4EOS12V11Pool instance.

        Args:
            root: Root folder of the download (holding ``splits/`` and the splits).
            split: ``train`` or ``val``.
            modality: ``S2L1C``, ``S2L2A``, ``S2RGB`` or ``S1GRD``.
            timestamps: ``"all"``, ``"random"`` or a timestamp position (0-3).
            bands: Bands to read, in order; ``None`` = all bands of ``modality``.
            seed: Seed of the timestamp drawn per read with ``"random"``.
            on_missing: What to do with metadata rows whose zip is missing:
                ``"error"``, ``"skip"`` (with a warning) or ``"ignore"``.
            fill_value: Value given to NaN or infinite pixels.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If the metadata table is missing, or (with
                ``on_missing="error"``) a zip it names.
            ValueError: For an unknown split, modality, band or timestamp, a
                metadata table without the needed columns, or invalid centres.
        """
        if split not in ("train", "val"):
            raise ValueError(
                f"split {split!r} is not valid; valid choices are ['train', 'val']"
            )
        if modality not in SSL4EO_V11_BANDS:
            raise ValueError(
                f"modality {modality!r} is not valid; valid choices are "
                f"{list(SSL4EO_V11_BANDS)}"
            )
        if not (timestamps in ("all", "random") or isinstance(timestamps, int)):
            raise ValueError(
                f"timestamps {timestamps!r} is not valid; valid choices are 'all', "
                "'random' or a timestamp position (0-3)"
            )
        self.root = Path(root)
        self.split = split
        self.modality = modality
        self.timestamps = timestamps
        self.seed = int(seed)
        self.epoch = 0
        # a drawn timestamp changes with the epoch: data loaders see set_epoch
        self.varies_by_epoch = timestamps == "random"
        self.fill_value = float(fill_value)
        self.transforms = transforms
        self.all_bands = SSL4EO_V11_BANDS[modality]
        self.bands = tuple(bands) if bands is not None else self.all_bands
        band_indices(self.all_bands, self.bands)  # unknown band: clear error
        self.metadata_path = self.root / "splits" / f"{split}_metadata.parquet"
        source = str(self.metadata_path)

        full = cached_metadata_index(
            self.root,
            "ssl4eo-s12-v1.1",
            [self.metadata_path],
            f"{split}|{modality}",
            self._build,
        )
        full = drop_missing_files(full, self.root, on_missing, source)
        index, (self._choices, self._start, self._count) = self._select(full)
        self._set_index(index, source)
        self._locations = self._index["location"].astype(str).tolist()
        self._paths = absolute_paths(self.root, self._index["path"])
        self._stores = HandleCache()

    def _build(self) -> pd.DataFrame:
        """Build the index of every (location, timestamp) from the metadata."""
        names = table_columns(self.metadata_path)
        table = read_table(
            self.metadata_path,
            [*_REQUIRED, *(c for c in _EXTRA if c in names)],
            "metadata table",
        )
        crs = table_crs(self.metadata_path, "geometry")
        lon, lat = geometry_centres(
            table["geometry"], crs, str(self.metadata_path), "geometry"
        )
        location = table["sample_id"].astype(str)
        time_id = table["time_id"].astype(np.int64)
        frame = pd.DataFrame(
            {
                "sample_id": location + "/" + time_id.astype(str),
                "path": f"{self.split}/{self.modality}/" + table["file"].astype(str),
                "lon": lon,
                "lat": lat,
                "location": location,
                "time_id": time_id,
                "file": table["file"].astype(str),
            }
        )
        for column in _EXTRA:
            if column in table:
                frame[column] = table[column].to_numpy()
        return frame

    def _select(
        self, full: pd.DataFrame
    ) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Return the samples of ``timestamps`` and each sample's timestamp choices.

        The choices are kept as one array of time ids, with each sample's first
        position and count in it.
        """
        if self.timestamps == "all" or isinstance(self.timestamps, int):
            rows = full
            if isinstance(self.timestamps, int):
                rows = full[full["time_id"] == self.timestamps]
                if len(rows) == 0:
                    valid = sorted(int(t) for t in full["time_id"].unique())
                    raise ValueError(
                        f"timestamps {self.timestamps} is not a time_id of "
                        f"{str(self.metadata_path)!r}; valid choices are 'all', "
                        f"'random' or one of {valid}"
                    )
                rows = rows.assign(sample_id=rows["location"])
            values = rows["time_id"].to_numpy(dtype=np.int64)
            n = len(values)
            return rows.reset_index(drop=True), (
                values,
                np.arange(n, dtype=np.int64),
                np.ones(n, dtype=np.int64),
            )
        codes, _ = pd.factorize(full["location"], sort=False)
        time_id = full["time_id"].to_numpy(dtype=np.int64)
        order = np.lexsort((time_id, codes))
        n = int(codes.max()) + 1 if len(codes) else 0
        start = np.searchsorted(codes[order], np.arange(n))
        count = np.bincount(codes, minlength=n)
        first = full.drop_duplicates("location", keep="first")
        index = first.assign(sample_id=first["location"], n_timestamps=count).drop(
            columns=["time_id", "time"], errors="ignore"
        )
        return index.reset_index(drop=True), (time_id[order], start, count)

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that the timestamp drawn with ``"random"`` depends on.

        Args:
            epoch: The training epoch (e.g. ``trainer.current_epoch``).
        """
        self.epoch = int(epoch)

    def timestamp(self, index: int) -> int:
        """Return the ``time_id`` that reading sample ``index`` uses now.

        Args:
            index: Position of the sample.

        Returns:
            The timestamp position; with ``"random"`` it depends on the seed, the
            epoch and the location only.
        """
        start, count = int(self._start[index]), int(self._count[index])
        if count == 1:
            return int(self._choices[start])
        location = zlib.crc32(self._locations[index].encode())
        rng = np.random.default_rng([self.seed, self.epoch, location])
        return int(self._choices[start + int(rng.integers(count))])

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one sample.

        Args:
            index: Position of the sample.

        Returns:
            Array (len(bands), 264, 264) in the file's data type.

        Raises:
            ValueError: If the zip lacks the expected variables, the location or
                the timestamp (the message names the file).
        """
        path = self._paths[index]
        store = self._stores.get(
            path, lambda: _OpenZip(path, self.bands, self.all_bands)
        )
        location = self._locations[index]
        position = store.positions.get(location)
        if position is None:
            raise ValueError(
                f"Zarr zip {path!r} does not hold sample {location!r}, which the "
                f"metadata table {str(self.metadata_path)!r} places in it"
            )
        time_id = self.timestamp(index)
        select = {"sample": position, "time": store.times.get(time_id, time_id)}
        return read_image(store.bands, select, store.band_index, path, store.dims)

    def _describe(self) -> str:
        return (
            f"split={self.split!r}, modality={self.modality!r}, "
            f"timestamps={self.timestamps!r}"
        )


class _OpenZip:
    """One open zip of SSL4EO-S12 v1.1 and where its samples, bands and times are."""

    def __init__(
        self, path: str, bands: Sequence[str], all_bands: Sequence[str]
    ) -> None:
        self.group = open_zarr_zip(path)
        require_variables(self.group, ["bands", "sample"], path)
        self.bands = variable(self.group, "bands", path)
        self.dims = dimensions(self.bands, path)
        samples = np.asarray(variable(self.group, "sample", path)[...])
        self.positions = {str(s): i for i, s in enumerate(samples)}
        self.band_index = band_positions(self.group, bands, all_bands, path)
        self.times: dict[int, int] = {}
        if "time" in self.group.array_keys():
            values = np.asarray(variable(self.group, "time", path)[...])
            if values.dtype.kind in "iu":
                self.times = {int(t): i for i, t in enumerate(values)}

    def close(self) -> None:
        self.group.store.close()
