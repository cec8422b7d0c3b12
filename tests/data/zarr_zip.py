"""Write Zarr (format 2) stores packed as zip files, the way xarray + zarr 2 lay them out."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import zarr
from zarr.storage import LocalStore

#: name -> (dimension names, values, extra attributes)
Variables = Mapping[str, tuple[list[str], np.ndarray, dict[str, Any]]]


def zarr_zip_bytes(
    variables: Variables, chunks: Mapping[str, tuple[int, ...]] | None = None
) -> bytes:
    """Return the bytes of a zip holding a consolidated Zarr format-2 group.

    Every variable gets xarray's ``_ARRAY_DIMENSIONS`` attribute; numeric arrays
    are Blosc-compressed (zarr 2's default), string arrays stored as fixed-width
    unicode.
    """
    chunks = chunks or {}
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        group = zarr.open_group(store, mode="w", zarr_format=2)
        for name, (dims, values, attrs) in variables.items():
            values = np.asarray(values)
            compressor = (
                None
                if values.dtype.kind == "U"
                else numcodecs.Blosc(cname="lz4", clevel=5)
            )
            array = group.create_array(
                name,
                shape=values.shape,
                chunks=chunks.get(name, values.shape),
                dtype=values.dtype,
                compressors=compressor,
                attributes={"_ARRAY_DIMENSIONS": dims, **attrs},
            )
            array[...] = values
        zarr.consolidate_metadata(store, zarr_format=2)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for folder, _, files in os.walk(tmp):
                for file in sorted(files):
                    full = os.path.join(folder, file)
                    archive.write(full, os.path.relpath(full, tmp))
        return buffer.getvalue()


def write_zarr_zip(
    path: str | Path,
    variables: Variables,
    chunks: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Write a ``.zarr.zip`` file (see :func:`zarr_zip_bytes`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zarr_zip_bytes(variables, chunks))
    return path


def cf_seconds(times: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Encode datetimes as xarray does: int64 seconds plus CF ``units``."""
    seconds = (
        np.asarray(times, dtype="datetime64[s]")
        - np.datetime64("1970-01-01T00:00:00", "s")
    ).astype(np.int64)
    return seconds, {
        "units": "seconds since 1970-01-01",
        "calendar": "proleptic_gregorian",
    }
