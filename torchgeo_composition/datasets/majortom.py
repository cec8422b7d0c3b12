"""Major TOM Core as a pool: Parquet parts of GeoTIFF-bytes bands, indexed by metadata.parquet."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from torch import Tensor

from ..bands import band_indices
from .geotiff import decode_geotiff
from .handles import HandleCache
from .majortom_grid import chip_grid, expand_chips
from .metadata import (
    MISSING_POLICIES,
    MetadataPool,
    MissingPolicy,
    cached_metadata_index,
)
from .metatables import (
    dictionary_column,
    float_column,
    join_text,
    read_arrow,
    table_columns,
)
from .part_files import PartFile, file_name, pick_local

__all__ = ["MAJORTOM_BANDS", "MajorTOMPool"]

_S2 = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09")

#: Band columns of the Major TOM Core parts, by product.
MAJORTOM_BANDS: dict[str, tuple[str, ...]] = {
    "S2L2A": (*_S2, "B11", "B12"),
    "S2L1C": (*_S2, "B10", "B11", "B12"),
}

_REQUIRED = (
    "grid_cell",
    "product_id",
    "centre_lat",
    "centre_lon",
    "parquet_url",
    "parquet_row",
)
_EXTRA = ("timestamp", "cloud_cover", "nodata", "crs", "grid_row_u", "grid_col_r")


class MajorTOMPool(MetadataPool):
    """Major TOM Core (S2L2A or S2L1C) as a pool, one sample per cell or per chip.

    Layout: ``metadata.parquet`` (columns ``grid_cell, product_id, timestamp,
    cloud_cover, nodata, centre_lat, centre_lon, crs, parquet_url, parquet_row``)
    and the part files it points to (``images/part_<n>.parquet``), each row group
    one sample, one column per band holding a single-band GeoTIFF's bytes (10 m
    bands 1068 px, 20 m and 60 m bands smaller), plus ``cloud_mask`` and
    ``thumbnail``.

    The index comes from ``metadata.parquet`` alone: no part file is opened.
    Sample ids are ``<grid_cell>/<product_id>``, in sorted order (the order
    compositions are drawn in, so that drawing from millions of cells needs no
    sort); ``path`` is the part file's name.
    ``timestamp``, ``cloud_cover``, ``nodata``, ``crs``, ``parquet_url`` and
    ``parquet_row`` stay in the index; ``max_cloud_cover`` and ``max_nodata``
    drop rows at index time. Each part is read from a file of the same name
    anywhere under ``root`` when one exists (the one whose path ends like the
    URL's when several do), else, with ``remote``, from ``parquet_url`` through
    fsspec (http(s), s3 with s3fs, hf with huggingface_hub), reading only the
    row group's column chunks.

    With ``chip_size`` (e.g. 96), each cell becomes a centred grid of
    ``cell_size // chip_size`` squared chips, with ids
    ``<grid_cell>/<product_id>/<row>_<col>`` and each chip's own centre (see
    :func:`~torchgeo_composition.datasets.majortom_grid.expand_chips`). Every
    band is resampled (nearest) to the 10 m grid: images are ``chip_size`` (or
    ``size``, or ``cell_size``) pixels square.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        metadata: str | os.PathLike[str] | None = None,
        modality: Literal["S2L2A", "S2L1C"] = "S2L2A",
        bands: Sequence[str] | None = None,
        chip_size: int | None = None,
        cell_size: int = 1068,
        size: int | None = None,
        max_cloud_cover: float | None = None,
        max_nodata: float | None = None,
        remote: bool = True,
        on_missing: MissingPolicy = "error",
        fill_value: float = 0.0,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new MajorTOMPool instance.

        Args:
            root: Folder holding the local part files (searched recursively).
            metadata: The metadata table; ``None`` = ``<root>/metadata.parquet``.
            modality: ``S2L2A`` or ``S2L1C`` (which band columns the parts hold).
            bands: Bands to read, in order; ``None`` = all bands of ``modality``.
            chip_size: Side of the chips cut from each cell, in 10 m pixels;
                ``None`` = one sample per cell.
            cell_size: Side of a cell's 10 m bands in pixels (1068 in Core).
            size: Side of whole-cell images (resampled); ``None`` = ``cell_size``.
                Ignored with ``chip_size``.
            max_cloud_cover: Keep cells whose ``cloud_cover`` is at most this.
            max_nodata: Keep cells whose ``nodata`` is at most this.
            remote: Read parts without a local copy from ``parquet_url``; with
                ``False`` such parts count as missing (see ``on_missing``).
            on_missing: With ``remote=False``, what to do with rows whose part has
                no local copy: ``"error"``, ``"skip"`` (with a warning) or
                ``"ignore"``.
            fill_value: Value given to NaN or infinite pixels.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If the metadata table is missing, or a part has
                no local copy while ``remote=False`` and ``on_missing="error"``.
            ValueError: For an unknown modality or band, bad sizes, a filter
                column that is missing or a filter that removes every row, a
                table without the needed columns, or invalid centres.
        """
        if modality not in MAJORTOM_BANDS:
            raise ValueError(
                f"modality {modality!r} is not valid; valid choices are "
                f"{list(MAJORTOM_BANDS)}"
            )
        if on_missing not in MISSING_POLICIES:
            raise ValueError(
                f"on_missing {on_missing!r} is not valid; valid choices are "
                f"{list(MISSING_POLICIES)}"
            )
        for name, value in (("cell_size", cell_size), ("size", size)):
            if value is not None and value <= 0:
                raise ValueError(
                    f"{name} must be a positive number of pixels, got {value}"
                )
        if chip_size is not None:
            chip_grid(cell_size, chip_size)  # raises for chips that do not fit
        self.root = Path(root)
        self.metadata_path = (
            Path(metadata) if metadata else self.root / "metadata.parquet"
        )
        self.modality = modality
        self.all_bands = MAJORTOM_BANDS[modality]
        self.bands = tuple(bands) if bands is not None else self.all_bands
        self._columns = [
            self.all_bands[i] for i in band_indices(self.all_bands, self.bands)
        ]
        self.chip_size = chip_size
        self.cell_size = cell_size
        self.size = size
        self.remote = remote
        self.fill_value = float(fill_value)
        self.transforms = transforms
        source = str(self.metadata_path)

        cells = cached_metadata_index(
            self.root, "majortom", [self.metadata_path], "cells|sorted", self._build
        )
        cells = self._filter(cells, max_cloud_cover, max_nodata, source)
        cells = self._resolve(cells, on_missing, source)
        self._cell_source = cells["_source"].to_numpy(dtype=np.int64)
        self._cell_row = cells["parquet_row"].to_numpy(dtype=np.int64)
        cells = cells.drop(columns=["_source"])
        if chip_size is None:
            index = cells
            self._cell = np.arange(len(cells))
        else:
            index = expand_chips(cells, cell_size, chip_size, source)
            self._cell = index["cell"].to_numpy()
            self._window = (
                index["chip_row"].to_numpy(),
                index["chip_col"].to_numpy(),
            )
            index = index.drop(columns=["cell"])
        self._set_index(index, source)
        self._parts = HandleCache()
        self._last: tuple[tuple[str, int], pa.Table] | None = None

    def _build(self) -> pd.DataFrame:
        """Build the index of every cell from ``metadata.parquet``.

        Read and assembled as Arrow arrays; the columns that repeat a few values
        (part URL and file, CRS) become categoricals. Cells are kept in the
        order of their sample ids.
        """
        present = table_columns(self.metadata_path)
        extra = [c for c in _EXTRA if c in present]
        table = read_arrow(
            self.metadata_path,
            [*_REQUIRED, *extra],
            "metadata",
            dictionary=("parquet_url", "crs"),
        )
        urls = dictionary_column(table["parquet_url"])
        names, unique = pd.factorize(
            pd.Series([file_name(str(u)) for u in urls.dictionary.to_pylist()])
        )
        codes = pa.array(names, pa.int32()).take(urls.indices)
        columns: dict[str, pa.Array | pa.ChunkedArray] = {
            "sample_id": join_text([table["grid_cell"], table["product_id"]], "/"),
            "path": pa.DictionaryArray.from_arrays(
                codes, pa.array(list(unique), pa.large_string())
            ),
            "lon": float_column(table["centre_lon"], "centre_lon"),
            "lat": float_column(table["centre_lat"], "centre_lat"),
        }
        for column in extra:
            values = table[column]
            is_text = pa.types.is_string(values.type) or pa.types.is_large_string(
                values.type
            )
            if is_text or pa.types.is_dictionary(values.type):
                values = dictionary_column(values)
            columns[column] = values
        columns["parquet_url"] = urls
        columns["parquet_row"] = table["parquet_row"].cast(pa.int64())
        cells = pa.table(columns)
        # in sample-id order, the canonical order: composing needs no sort
        return cells.take(pc.sort_indices(cells["sample_id"])).to_pandas()

    def _filter(
        self,
        cells: pd.DataFrame,
        max_cloud_cover: float | None,
        max_nodata: float | None,
        source: str,
    ) -> pd.DataFrame:
        """Drop cells above the cloud and nodata limits."""
        for parameter, column, limit in (
            ("max_cloud_cover", "cloud_cover", max_cloud_cover),
            ("max_nodata", "nodata", max_nodata),
        ):
            if limit is None:
                continue
            if column not in cells:
                raise ValueError(
                    f"{parameter} needs the {column!r} column, which metadata "
                    f"table {source!r} lacks"
                )
            cells = cells[cells[column].to_numpy(dtype=np.float64) <= limit]
            if len(cells) == 0:
                raise ValueError(
                    f"{parameter}={limit} removes every cell of {source!r}; raise "
                    "the limit"
                )
        return cells.reset_index(drop=True)

    def _resolve(
        self, cells: pd.DataFrame, on_missing: str, source: str
    ) -> pd.DataFrame:
        """Give each cell the local copy of its part, or its URL."""
        local: dict[str, list[str]] = {}
        if self.root.is_dir():
            metadata = self.metadata_path.resolve()
            for folder, dirs, files in os.walk(self.root):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for file in files:
                    full = Path(folder) / file
                    if file.endswith(".parquet") and not file.startswith("."):
                        if full.resolve() != metadata:
                            local.setdefault(file, []).append(str(full))
        codes, used = pd.factorize(cells["parquet_url"])  # categorical: by codes
        urls = [str(u) for u in used]
        sources: list[str] = []
        missing: list[int] = []
        for code, url in enumerate(urls):
            found = pick_local(str(url), local)
            if found is None:
                missing.append(code)
            sources.append(found or str(url))
        self._sources = sources
        cells = cells.assign(_source=codes)
        if missing and not self.remote and on_missing != "ignore":
            rows = np.isin(codes, missing)
            shown = ", ".join(repr(file_name(urls[c])) for c in missing[:5])
            what = (
                f"{len(missing)} part file(s) named by {int(rows.sum())} row(s) of "
                f"{source!r} have no local copy under root {str(self.root)!r}: "
                f"{shown}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            )
            if on_missing == "error":
                raise FileNotFoundError(
                    f"{what}; download them into root, set remote=True to read them "
                    "from parquet_url, or on_missing='skip' to leave them out"
                )
            warnings.warn(f"{what}; their samples are left out", stacklevel=3)
            cells = cells.loc[~rows].reset_index(drop=True)
        return cells

    def _open(self, source: str) -> PartFile:
        """Open a part file, local or remote."""
        if not ("://" in source or source.startswith("hf:")):
            return PartFile(pq.ParquetFile(source))
        name = file_name(source)
        try:
            file = fsspec.open(source, mode="rb", block_size=2**20).open()
            return PartFile(pq.ParquetFile(file), file)
        except Exception as err:  # any transport error: name what was tried
            raise FileNotFoundError(
                f"part file {name!r} has no local copy under root {str(self.root)!r} "
                f"and its parquet_url {source!r} could not be read ({err}); download "
                "it into root or check the address and your network"
            ) from err

    def _row_group(self, cell: int) -> pa.Table:
        """Return the band columns of a cell's row group (the last one is kept)."""
        source = self._sources[self._cell_source[cell]]
        row = int(self._cell_row[cell])
        key = (source, row)
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        part = self._parts.get(source, lambda: self._open(source))
        groups = part.reader.num_row_groups
        if not 0 <= row < groups:
            raise ValueError(
                f"parquet_row {row} of {self._index_sample(cell)!r} is out of range: "
                f"part file {source!r} has {groups} row groups"
            )
        try:
            table = part.reader.read_row_group(row, columns=self._columns)
        except (pa.ArrowException, OSError, KeyError) as err:
            raise ValueError(
                f"row group {row} of part file {source!r} cannot be read with the "
                f"band columns {self._columns} ({err})"
            ) from err
        self._last = (key, table)
        return table

    def _index_sample(self, cell: int) -> str:
        position = int(np.searchsorted(self._cell, cell))
        return str(self._index["sample_id"].iat[position])

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one cell or chip.

        Args:
            index: Position of the sample.

        Returns:
            Array (len(bands), side, side) float32, every band on the 10 m grid.

        Raises:
            FileNotFoundError: If the part has no local copy and cannot be read
                remotely.
            ValueError: If the row group is out of range or a band's bytes are
                not a GeoTIFF (the message names the part, row group and band).
        """
        cell = int(self._cell[index])
        table = self._row_group(cell)
        window = None
        side = self.size or self.cell_size
        if self.chip_size is not None:
            rows, cols = self._window
            _, offset = chip_grid(self.cell_size, self.chip_size)
            window = (
                (offset + int(cols[index]) * self.chip_size) / self.cell_size,
                (offset + int(rows[index]) * self.chip_size) / self.cell_size,
                self.chip_size / self.cell_size,
            )
            side = self.chip_size
        source = self._sources[self._cell_source[cell]]
        row = int(self._cell_row[cell])
        out = np.empty((len(self._columns), side, side), dtype=np.float32)
        for i, column in enumerate(self._columns):
            data = table.column(column)[0].as_py()
            where = f"band {column!r} of row group {row} of part file {source!r}"
            if not isinstance(data, bytes):
                raise ValueError(
                    f"{where} holds {type(data).__name__}, not GeoTIFF bytes"
                )
            out[i] = decode_geotiff(data, where, side, window)
        return out

    def _describe(self) -> str:
        return f"metadata={str(self.metadata_path)!r}, modality={self.modality!r}"
