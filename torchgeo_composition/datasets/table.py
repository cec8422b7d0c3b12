"""A pool from any table of files and locations (GeoParquet, Parquet or CSV)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import rasterio
from rasterio.errors import RasterioIOError
from torch import Tensor

from ..bands import band_indices
from .band_names import UndescribedBandsWarning, numbered_bands, undescribed_warning
from .geotiff import ensure_gdal_env, read_geotiff
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

__all__ = ["TablePool"]

_LON = ("lon", "longitude", "centre_lon", "center_lon")
_LAT = ("lat", "latitude", "centre_lat", "center_lat")


class TablePool(MetadataPool):
    """A pool from a table listing each sample's raster file and its location.

    The table (``.parquet`` -- Parquet or GeoParquet -- or ``.csv``; e.g. a
    user's own STAC export) has a column of file paths (relative to ``root``, or
    absolute) and either longitude/latitude columns (degrees) or a geometry
    column (WKB or WKT; the centre of its bounds, reprojected from the
    GeoParquet CRS when there is one). Without explicit names, the columns
    ``lon``/``lat`` (or ``longitude``/``latitude``, ``centre_*``, ``center_*``)
    or ``geometry`` are used. Every other column stays in the index as metadata
    (a geometry column is dropped), usable as strata and filters.

    Sample ids come from ``id_column``, else the path without its suffix. Files
    are read with rasterio (any format it reads); ``all_bands`` names their bands
    in file order -- when not given, they are taken from the first file's band
    descriptions, or named ``band1 ... bandN`` with a warning (give the names for
    Sentinel-2 models). The index is built from the table alone.
    """

    def __init__(
        self,
        table: str | os.PathLike[str],
        root: str | os.PathLike[str] | None = None,
        path_column: str = "path",
        lon_column: str | None = None,
        lat_column: str | None = None,
        geometry_column: str | None = None,
        id_column: str | None = None,
        bands: Sequence[str] | None = None,
        all_bands: Sequence[str] | None = None,
        size: int | None = None,
        nodata: float | None = None,
        fill_value: float = 0.0,
        on_missing: MissingPolicy = "error",
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new TablePool instance.

        Args:
            table: The table file (``.parquet`` or ``.csv``).
            root: Folder the paths are relative to; ``None`` = the table's folder.
            path_column: Column of file paths.
            lon_column: Column of longitudes (with ``lat_column``).
            lat_column: Column of latitudes (with ``lon_column``).
            geometry_column: Column of geometries (WKB or WKT) instead.
            id_column: Column of sample ids; ``None`` = paths without suffix.
            bands: Bands to read, in order; ``None`` = all of ``all_bands``.
            all_bands: The files' bands in file order; ``None`` = from the first
                file's band descriptions, else ``band1 ... bandN``.
            size: If given, images are resampled (nearest) to ``size x size``.
            nodata: Value marking missing pixels; ``None`` = each file's own tag.
            fill_value: Value given to missing, NaN or infinite pixels.
            on_missing: What to do with rows whose file is missing: ``"error"``,
                ``"skip"`` (with a warning) or ``"ignore"``.
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            FileNotFoundError: If the table is missing, or (with
                ``on_missing="error"``) a file it names.
            ValueError: For a table without a path or coordinate columns, duplicate
                sample ids, invalid coordinates, an unknown band or a bad size.
        """
        self.table_path = Path(table)
        self.root = Path(root) if root is not None else self.table_path.parent
        if size is not None and size <= 0:
            raise ValueError(f"size must be a positive number of pixels, got {size}")
        if (lon_column is None) != (lat_column is None):
            raise ValueError(
                "lon_column and lat_column go together; give both or neither "
                f"(got lon_column={lon_column!r}, lat_column={lat_column!r})"
            )
        self.path_column = path_column
        self.id_column = id_column
        self.size = size
        self.nodata = nodata
        self.fill_value = float(fill_value)
        self.transforms = transforms
        source = str(self.table_path)
        coords = self._coordinates(lon_column, lat_column, geometry_column)
        options = f"{path_column}|{coords}|{id_column}"
        index = cached_metadata_index(
            self.root, "table", [self.table_path], options, lambda: self._build(coords)
        )
        index = drop_missing_files(index, self.root, on_missing, source)
        duplicated = index["sample_id"].duplicated()
        if duplicated.any():
            raise ValueError(
                f"table {source!r} gives {int(duplicated.sum())} sample id(s) twice "
                f"(first: {index['sample_id'][duplicated].iat[0]!r}); set id_column "
                "to a column of unique ids"
            )
        self._set_index(index, source)
        self._paths = absolute_paths(self.root, self._index["path"])
        self.all_bands = (
            tuple(all_bands) if all_bands is not None else self._band_names()
        )
        self.bands = tuple(bands) if bands is not None else self.all_bands
        self._indexes = [i + 1 for i in band_indices(self.all_bands, self.bands)]

    def _coordinates(
        self, lon: str | None, lat: str | None, geometry: str | None
    ) -> tuple[str, ...]:
        """Choose the coordinate columns: ``(lon, lat)`` or ``(geometry,)``."""
        columns = table_columns(self.table_path)
        if not columns:
            read_table(self.table_path, None, "table")  # raises the clear error
        wanted = [self.path_column]
        if lon is not None and lat is not None:
            chosen: tuple[str, ...] = (lon, lat)
        elif geometry is not None:
            chosen = (geometry,)
        else:
            found_lon = next((c for c in _LON if c in columns), None)
            found_lat = next((c for c in _LAT if c in columns), None)
            if found_lon and found_lat:
                chosen = (found_lon, found_lat)
            elif "geometry" in columns:
                chosen = ("geometry",)
            else:
                raise ValueError(
                    f"table {str(self.table_path)!r} has no coordinate columns: "
                    f"name them with lon_column/lat_column or geometry_column "
                    f"(columns: {columns})"
                )
        missing = [c for c in [*wanted, *chosen] if c not in columns]
        if missing:
            raise ValueError(
                f"table {str(self.table_path)!r} lacks the column(s) {missing} "
                f"(path_column, coordinates); it has {columns}"
            )
        return chosen

    def _build(self, coords: tuple[str, ...]) -> pd.DataFrame:
        """Build the index from the table."""
        table = read_table(self.table_path, None, "table")
        source = str(self.table_path)
        if len(coords) == 2:
            lon = pd.to_numeric(table[coords[0]], errors="coerce").to_numpy(np.float64)
            lat = pd.to_numeric(table[coords[1]], errors="coerce").to_numpy(np.float64)
        else:
            crs = table_crs(self.table_path, coords[0])
            lon, lat = geometry_centres(table[coords[0]], crs, source, coords[0])
        paths = table[self.path_column]
        if paths.isna().any():
            row = int(np.flatnonzero(paths.isna().to_numpy())[0])
            raise ValueError(
                f"column {self.path_column!r} of table {source!r} has missing paths "
                f"(first: row {row})"
            )
        paths = paths.astype(str)
        if self.id_column is not None:
            ids = table[self.id_column].astype(str)
        else:
            ids = paths.map(lambda p: str(PurePosixPath(p).with_suffix("")))
        frame = pd.DataFrame({"sample_id": ids, "path": paths, "lon": lon, "lat": lat})
        drop = {self.path_column, self.id_column, *coords}
        for column in table.columns:
            if column not in drop and column not in frame:
                frame[column] = table[column].to_numpy()
        return frame

    def _band_names(self) -> tuple[str, ...]:
        """Band names of the first file: its descriptions, else ``band1 ... bandN``."""
        first = self._paths[0]
        source = str(self.table_path)
        ensure_gdal_env()
        try:
            with rasterio.open(first) as src:
                names = src.descriptions
                count = src.count
        except RasterioIOError as err:
            raise ValueError(
                f"the band names could not be read from the first file {first!r} "
                f"({err}); give all_bands"
            ) from err
        if all(names) and len(set(names)) == count:
            return tuple(str(n) for n in names)
        warnings.warn(
            undescribed_warning(
                f"the files of table {source!r} (e.g. {first!r})", count
            ),
            UndescribedBandsWarning,
            stacklevel=3,
        )
        return numbered_bands(count)

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one sample.

        Args:
            index: Position of the sample.

        Returns:
            Array (len(bands), H, W) float32 with missing pixels set to
            ``fill_value``.

        Raises:
            ValueError: If the file is not a readable raster or lacks a band.
        """
        return read_geotiff(
            self._paths[index], self._indexes, self.size, self.nodata, self.fill_value
        )

    def _describe(self) -> str:
        return f"table={str(self.table_path)!r}"
