"""TerraMesh as a pool: WebDataset tar shards of Zarr-zip samples, read by member offset."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from torch import Tensor

from ..bands import band_indices
from .handles import HandleCache
from .indexing import cached_index, signature
from .metadata import (
    MetadataPool,
    MissingPolicy,
    absolute_paths,
    cached_metadata_index,
    drop_missing_files,
)
from .metatables import (
    read_table,
    table_columns,
)
from .zarrzip import band_positions, open_zarr_zip_bytes, read_image, variable

__all__ = ["TERRAMESH_BANDS", "TerraMeshPool", "shard_members"]

_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09")

#: Bands of each TerraMesh modality, in file order.
TERRAMESH_BANDS: dict[str, tuple[str, ...]] = {
    "S2L1C": (*_S2, "B10", "B11", "B12"),
    "S2L2A": (*_S2, "B11", "B12"),
    "S2RGB": ("R", "G", "B"),
    "S1GRD": ("vv", "vh"),
    "S1RTC": ("vv", "vh"),
    "DEM": ("DEM",),
    "NDVI": ("NDVI",),
    "LULC": ("LULC",),
}

#: Column names tried, in order, when not given.
_KEYS = ("__key__", "key", "sample", "sample_id", "sample_name", "name")
_SHARDS = ("shard", "shard_name", "shard_file", "tar", "tar_file")
_LONS = ("center_lon", "centre_lon", "lon", "longitude")
_LATS = ("center_lat", "centre_lat", "lat", "latitude")

#: Suffix of a sample's member in a shard.
MEMBER_SUFFIX = ".zarr.zip"


def shard_members(path: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """List the Zarr-zip members of a tar shard by reading its headers only.

    Args:
        path: The tar file.

    Returns:
        ``{sample key: (data offset, size)}``; the key is the member name without
        ``.zarr.zip``.

    Raises:
        ValueError: If the file is not a readable tar archive.
    """
    out: dict[str, tuple[int, int]] = {}
    try:
        with tarfile.open(path, mode="r:") as archive:
            for member in archive:
                if member.isfile() and member.name.endswith(MEMBER_SUFFIX):
                    key = member.name[: -len(MEMBER_SUFFIX)]
                    out[key] = (member.offset_data, member.size)
    except (tarfile.TarError, OSError) as err:
        raise ValueError(
            f"shard {str(path)!r} is not a readable tar file ({err})"
        ) from err
    return out


def _pick(
    columns: Sequence[str], given: str | None, candidates: Sequence[str]
) -> str | None:
    if given is not None:
        return given
    return next((c for c in candidates if c in columns), None)


class TerraMeshPool(MetadataPool):
    """TerraMesh (SSL4EO-S12 v1.1 and Major TOM samples) as a pool.

    Layout under ``root``::

        {train,val}_metadata.parquet
        {train,val}/<modality>/{majortom,ssl4eos12}_shard_<n>.tar

    Each shard is a WebDataset tar whose members ``<key>.zarr.zip`` are one
    sample each: a Zarr (format 2) zip whose ``bands`` variable has the
    dimensions (time, band, y, x) with one timestamp (the first is read if there
    are more). The index comes from the metadata parquet alone: its key column
    gives the sample ids, its centre columns the location, and every other column
    stays as metadata. The dataset card does not document the parquet's columns;
    without explicit names the first present of ``__key__ / key / sample /
    sample_id`` (key), ``center_lon / centre_lon / lon`` and ``center_lat /
    centre_lat / lat`` (centre), and ``shard / tar`` (the shard holding the
    sample, with or without ``.tar``) are used.

    Random access: a sample is read with one seek into its shard, at the member's
    data offset. Offsets come from the tar headers (no member data is read): per
    shard on the first read of one of its samples when the shard column is
    known; otherwise all shards of the modality are listed on the first read and
    the listing is cached in ``<root>/<split>/<modality>/.tgc_members.parquet``.
    The band names are checked on the first sample read from each shard.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        split: Literal["train", "val"] = "train",
        modality: Literal[
            "S2L1C", "S2L2A", "S2RGB", "S1GRD", "S1RTC", "DEM", "NDVI", "LULC"
        ] = "S2L2A",
        bands: Sequence[str] | None = None,
        metadata: str | os.PathLike[str] | None = None,
        key_column: str | None = None,
        shard_column: str | None = None,
        lon_column: str | None = None,
        lat_column: str | None = None,
        on_missing: MissingPolicy = "error",
        fill_value: float = 0.0,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new TerraMeshPool instance.

        Args:
            root: Root folder of the download.
            split: ``train`` or ``val``.
            modality: The modality folder to read.
            bands: Bands to read, in order; ``None`` = all bands of ``modality``.
            metadata: The metadata table; ``None`` = ``<root>/<split>_metadata.parquet``.
            key_column: Column of sample keys (member names without
                ``.zarr.zip``); ``None`` = detected.
            shard_column: Column of shard names; ``None`` = detected, or none.
            lon_column: Column of centre longitudes; ``None`` = detected.
            lat_column: Column of centre latitudes; ``None`` = detected.
            on_missing: What to do with rows whose shard is missing: ``"error"``,
                ``"skip"`` (with a warning) or ``"ignore"``.
            fill_value: Value given to NaN or infinite pixels.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If the metadata table or the modality folder is
                missing, or (with ``on_missing="error"``) a shard it names.
            ValueError: For an unknown split, modality or band, a table whose key
                or centre columns cannot be found, or invalid centres.
        """
        if split not in ("train", "val"):
            raise ValueError(
                f"split {split!r} is not valid; valid choices are ['train', 'val']"
            )
        if modality not in TERRAMESH_BANDS:
            raise ValueError(
                f"modality {modality!r} is not valid; valid choices are "
                f"{list(TERRAMESH_BANDS)}"
            )
        self.root = Path(root)
        self.split = split
        self.modality = modality
        self.folder = self.root / split / modality
        self.metadata_path = (
            Path(metadata) if metadata else self.root / f"{split}_metadata.parquet"
        )
        self.all_bands = TERRAMESH_BANDS[modality]
        self.bands = tuple(bands) if bands is not None else self.all_bands
        band_indices(self.all_bands, self.bands)
        self.fill_value = float(fill_value)
        self.transforms = transforms
        source = str(self.metadata_path)
        columns = table_columns(self.metadata_path)
        if not columns:
            read_table(self.metadata_path, None, "metadata")  # raises clearly
        self._key_column = _pick(columns, key_column, _KEYS)
        self._shard_column = _pick(columns, shard_column, _SHARDS)
        self._lon_column = _pick(columns, lon_column, _LONS)
        self._lat_column = _pick(columns, lat_column, _LATS)
        if (
            self._key_column is None
            or self._lon_column is None
            or self._lat_column is None
        ):
            raise ValueError(
                f"metadata table {source!r} has no recognised key or centre columns "
                f"(columns: {columns}); name them with key_column, lon_column and "
                "lat_column"
            )
        if not self.folder.is_dir() and on_missing != "ignore":
            raise FileNotFoundError(
                f"modality folder {str(self.folder)!r} does not exist; download the "
                f"{modality} shards of the {split} split into it"
            )
        columns_used = (
            self._key_column,
            self._shard_column,
            self._lon_column,
            self._lat_column,
        )
        options = f"{split}|{modality}|{columns_used}"
        index = cached_metadata_index(
            self.root, "terramesh", [self.metadata_path], options, self._build
        )
        if self._shard_column is not None:
            index = drop_missing_files(index, self.root, on_missing, source)
        self._set_index(index, source)
        self._keys = self._index["sample_id"].astype(str).tolist()
        self._shard_paths = (
            absolute_paths(self.root, self._index["path"])
            if self._shard_column is not None
            else None
        )
        self._files = HandleCache()
        self._members: dict[str, dict[str, tuple[int, int]]] = {}
        self._all_members: dict[str, tuple[str, int, int]] | None = None
        self._bands: dict[str, list[int]] = {}

    def _build(self) -> pd.DataFrame:
        """Build the index from the metadata table."""
        assert (
            self._key_column is not None
            and self._lon_column is not None
            and self._lat_column is not None
        )
        table = read_table(self.metadata_path, None, "metadata")
        folder = f"{self.split}/{self.modality}"
        if self._shard_column is not None:
            shard = table[self._shard_column].astype(str)
            shard = shard.where(shard.str.endswith(".tar"), shard + ".tar")
            path = folder + "/" + shard
        else:
            path = pd.Series([folder] * len(table))
        frame = pd.DataFrame(
            {
                "sample_id": table[self._key_column].astype(str),
                "path": path.to_numpy(),
                "lon": pd.to_numeric(table[self._lon_column], errors="coerce").to_numpy(
                    np.float64
                ),
                "lat": pd.to_numeric(table[self._lat_column], errors="coerce").to_numpy(
                    np.float64
                ),
            }
        )
        for column in table.columns:
            if column not in (
                self._key_column,
                self._lon_column,
                self._lat_column,
                "geometry",
            ):
                frame[column] = table[column].to_numpy()
        return frame

    def _locate(self, index: int) -> tuple[str, int, int]:
        """Return the shard, data offset and size of a sample's member."""
        key = self._keys[index]
        if self._shard_paths is not None:
            shard = self._shard_paths[index]
            members = self._members.get(shard)
            if members is None:
                members = self._members[shard] = shard_members(shard)
            if key not in members:
                raise ValueError(
                    f"shard {shard!r} holds no member {key + MEMBER_SUFFIX!r}, which "
                    f"the metadata table {str(self.metadata_path)!r} places in it"
                )
            offset, size = members[key]
            return shard, offset, size
        if self._all_members is None:
            self._all_members = self._list_all()
        found = self._all_members.get(key)
        if found is None:
            raise ValueError(
                f"no shard in {str(self.folder)!r} holds the member "
                f"{key + MEMBER_SUFFIX!r} named by {str(self.metadata_path)!r}"
            )
        return found

    def _list_all(self) -> dict[str, tuple[str, int, int]]:
        """List the members of every shard of the modality (cached on disk)."""
        shards = sorted(p for p in self.folder.glob("*.tar") if p.is_file())
        entries = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in shards]

        def build() -> pd.DataFrame:
            rows: list[tuple[str, str, int, int]] = []
            for shard in shards:
                for key, (offset, size) in shard_members(shard).items():
                    rows.append((key, shard.name, offset, size))
            return pd.DataFrame(rows, columns=["key", "shard", "offset", "size"])

        table = cached_index(
            self.folder / ".tgc_members.parquet", signature(entries, "members"), build
        )
        return {
            str(k): (str(self.folder / s), int(o), int(n))
            for k, s, o, n in zip(
                table["key"],
                table["shard"],
                table["offset"],
                table["size"],
                strict=True,
            )
        }

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one sample.

        Args:
            index: Position of the sample.

        Returns:
            Array (len(bands), H, W) in the file's data type.

        Raises:
            ValueError: If the shard does not hold the sample, or the member is
                not a Zarr zip with a ``bands`` variable (the message names both).
        """
        shard, offset, size = self._locate(index)
        file: Any = self._files.get(shard, lambda: open(shard, "rb"))
        file.seek(offset)
        data = file.read(size)
        source = f"{shard}:{self._keys[index]}{MEMBER_SUFFIX}"
        if len(data) != size:
            raise ValueError(
                f"member {source!r} is truncated ({len(data)} of {size} bytes)"
            )
        group = open_zarr_zip_bytes(data, source)
        # the samples of a shard share their bands: look them up once per shard
        positions = self._bands.get(shard)
        if positions is None:
            positions = band_positions(group, self.bands, self.all_bands, source)
            self._bands[shard] = positions
        return read_image(
            variable(group, "bands", source), {"time": 0}, positions, source
        )

    def _describe(self) -> str:
        return f"split={self.split!r}, modality={self.modality!r}"
