"""Reading pool metadata tables (Parquet, GeoParquet, CSV) and locating their rows.

:func:`read_table` reads the needed columns of a table, :func:`table_columns`
and :func:`table_crs` look at its schema only, and :func:`geometry_centres`
turns a geometry column (WKB or WKT) into sample centres in longitude and
latitude.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from pyproj import CRS, Transformer

__all__ = [
    "CSV_SUFFIXES",
    "PARQUET_SUFFIXES",
    "dictionary_column",
    "float_column",
    "geometry_centres",
    "join_text",
    "read_arrow",
    "read_table",
    "require_columns",
    "table_columns",
    "table_crs",
]

#: File name endings read as Parquet (or GeoParquet) and as CSV.
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".geoparquet", ".pq")
CSV_SUFFIXES: tuple[str, ...] = (".csv", ".txt")


def require_columns(columns: Sequence[str], wanted: Sequence[str], source: str) -> None:
    """Raise if a table lacks columns.

    Args:
        columns: The table's columns.
        wanted: The columns needed.
        source: The table's file, for the message.

    Raises:
        ValueError: Naming the file, the missing columns and the columns present.
    """
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise ValueError(
            f"metadata table {source!r} lacks column(s) {missing}; it has "
            f"{list(columns)}"
        )


def read_table(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    parameter: str = "table",
) -> pd.DataFrame:
    """Read a metadata table: Parquet / GeoParquet (``.parquet``) or CSV (``.csv``).

    Only ``columns`` are read (all if ``None``); a GeoParquet geometry column
    stays as WKB bytes (see :func:`geometry_centres` and :func:`table_crs`).

    Args:
        path: The table's file.
        columns: Columns to read; each must exist.
        parameter: Name of the argument that gave the path, for messages.

    Returns:
        The table.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a readable Parquet or CSV table or lacks a
            column.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{parameter} {str(path)!r} does not exist; it must be the metadata "
            "table (.parquet or .csv) of the pool"
        )
    suffix = path.suffix.lower()
    try:
        if suffix in PARQUET_SUFFIXES:
            names = pq.read_schema(path).names
            if columns is not None:
                require_columns(names, columns, str(path))
            frame = pq.read_table(path, columns=list(columns) if columns else None)
            return frame.to_pandas()
        if suffix in CSV_SUFFIXES:
            frame = pd.read_csv(path)
            if columns is not None:
                require_columns(list(frame.columns), columns, str(path))
                frame = frame.loc[:, list(columns)]
            return frame
    except (
        OSError,
        pa.ArrowException,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    ) as err:
        raise ValueError(
            f"{parameter} {str(path)!r} is not a readable table ({err})"
        ) from err
    raise ValueError(
        f"{parameter} {str(path)!r} has suffix {suffix!r}; valid choices are "
        "'.parquet' (Parquet or GeoParquet) and '.csv'"
    )


def read_arrow(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    parameter: str = "table",
    dictionary: Sequence[str] = (),
) -> pa.Table:
    """Read columns of a metadata table as an Arrow table (no Python objects).

    Parquet is read directly, with ``dictionary`` columns decoded straight into
    dictionary arrays (fast for columns that repeat a few values, such as the
    part URL of every Major TOM row); CSV goes through :func:`read_table`.

    Args:
        path: The table's file.
        columns: Columns to read; each must exist.
        parameter: Name of the argument that gave the path, for messages.
        dictionary: Columns to read as dictionary arrays.

    Returns:
        The table.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the file is not a readable table or lacks a column.
    """
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in PARQUET_SUFFIXES:
        frame = read_table(path, columns, parameter)
        return pa.Table.from_pandas(frame, preserve_index=False)
    try:
        require_columns(pq.read_schema(path).names, columns, str(path))
        return pq.read_table(
            path,
            columns=list(columns),
            read_dictionary=[c for c in dictionary if c in columns],
            use_threads=False,
        ).replace_schema_metadata(None)
    except (OSError, pa.ArrowException) as err:
        raise ValueError(
            f"{parameter} {str(path)!r} is not a readable table ({err})"
        ) from err


def dictionary_column(values: pa.ChunkedArray | pa.Array) -> pa.DictionaryArray:
    """A text column as one dictionary array (a pandas categorical once converted).

    Args:
        values: Text (or already dictionary-encoded) values.

    Returns:
        The dictionary array, its values as text.
    """
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(values.cast(pa.large_string()))
    if isinstance(values, pa.ChunkedArray):
        values = values.unify_dictionaries().combine_chunks()
    array: pa.DictionaryArray = values
    if not pa.types.is_large_string(array.dictionary.type):
        array = pa.DictionaryArray.from_arrays(
            array.indices, array.dictionary.cast(pa.large_string())
        )
    return array


def float_column(values: pa.ChunkedArray | pa.Array, column: str) -> pa.Array:
    """A column of numbers as float64.

    Args:
        values: The column.
        column: Its name, for the message.

    Returns:
        The values as float64 (nulls stay null).

    Raises:
        ValueError: If the column does not hold numbers.
    """
    try:
        out = values.cast(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ValueError(
            f"metadata column {column!r} must hold numbers, got {values.type} ({err})"
        ) from err
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def join_text(parts: Sequence[pa.ChunkedArray | pa.Array], separator: str) -> pa.Array:
    """Join text columns row by row (e.g. ``grid_cell`` + "/" + ``product_id``).

    Args:
        parts: Columns of equal length (text, numbers or dictionary arrays).
        separator: Text between the parts.

    Returns:
        A large_string array.
    """
    text = [_as_text(p) for p in parts]
    joined = pc.binary_join_element_wise(*text, pa.scalar(separator, pa.large_string()))
    if isinstance(joined, pa.ChunkedArray):
        joined = joined.combine_chunks()
    return joined


def _as_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    return values.cast(pa.large_string())


def table_columns(path: str | os.PathLike[str]) -> list[str]:
    """Return the column names of a Parquet or CSV table without reading its rows.

    Args:
        path: The table's file.

    Returns:
        Its column names; empty if the file does not exist or has a suffix that
        is neither Parquet nor CSV (:func:`read_table` then says which).

    Raises:
        ValueError: If the file is not a readable table.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in (*PARQUET_SUFFIXES, *CSV_SUFFIXES):
        return []
    try:
        if suffix in CSV_SUFFIXES:
            return list(pd.read_csv(path, nrows=0).columns)
        return list(pq.read_schema(path).names)
    except (
        OSError,
        pa.ArrowException,
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
    ) as err:
        raise ValueError(
            f"table {str(path)!r} is not a readable table ({err})"
        ) from err


def table_crs(path: str | os.PathLike[str], column: str) -> CRS | None:
    """Return the CRS of a GeoParquet geometry column, or ``None`` if not GeoParquet.

    Args:
        path: A Parquet file.
        column: The geometry column.

    Returns:
        The column's CRS (GeoParquet's default, OGC:CRS84, when the metadata names
        the column without a CRS), or ``None`` for plain Parquet and CSV files.
    """
    if Path(path).suffix.lower() not in PARQUET_SUFFIXES:
        return None
    meta = pq.read_schema(path).metadata or {}
    geo = meta.get(b"geo")
    if geo is None:
        return None
    info = json.loads(geo).get("columns", {}).get(column)
    if info is None:
        return None
    crs = info.get("crs", "OGC:CRS84")
    return CRS.from_user_input("OGC:CRS84" if crs is None else crs)


def geometry_centres(
    values: pd.Series, crs: CRS | str | int | None, source: str, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return the centre (of the bounds) of each geometry in longitude and latitude.

    Args:
        values: Geometries as WKB bytes or WKT text.
        crs: Their CRS; ``None`` = longitude/latitude (EPSG:4326).
        source: The table's file, for messages.
        column: The geometry column, for messages.

    Returns:
        Longitudes and latitudes (float64, degrees).

    Raises:
        ValueError: If a value is missing or not a geometry (naming the row).
    """
    raw = values.to_numpy(dtype=object)
    is_text = len(raw) > 0 and isinstance(raw[0], str)
    decode = shapely.from_wkt if is_text else shapely.from_wkb
    try:
        geoms = decode(raw, on_invalid="ignore")
    except (TypeError, shapely.errors.ShapelyError) as err:
        raise ValueError(
            f"column {column!r} of {source!r} does not hold geometries as WKB or "
            f"WKT ({err})"
        ) from err
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"column {column!r} of {source!r} has {int(bad.sum())} missing, empty or "
            f"invalid geometries (first: row {row}, value {raw[row]!r:.80})"
        )
    bounds = shapely.bounds(geoms)
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    if crs is None:
        return x, y
    crs = CRS.from_user_input(crs)
    if crs.equals(CRS.from_epsg(4326)) or crs.equals(CRS("OGC:CRS84")):
        return x, y
    transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = transformer.transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
