"""Reading Zarr (format 2) stores packed in zip files, as SSL4EO-S12 v1.1 and TerraMesh ship them.

A zip on disk is opened with zarr's :class:`~zarr.storage.ZipStore`; a zip held
in memory (a member of a tar shard) is unpacked into a
:class:`~zarr.storage.MemoryStore`. Either way zarr decodes the arrays. Variables
carry their dimension names in the ``_ARRAY_DIMENSIONS`` attribute (the xarray
convention), which :func:`read_image` uses to cut one sample's (band, y, x) image
out of an array of any dimension order.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.buffer import default_buffer_prototype
from zarr.storage import MemoryStore, ZipStore

from ..bands import canonical_band

__all__ = [
    "band_positions",
    "dimensions",
    "open_zarr_zip",
    "open_zarr_zip_bytes",
    "read_image",
    "require_variables",
    "variable",
]


def _open_group(store: Any, source: str) -> zarr.Group:
    """Open a format-2 group, consolidated metadata first."""
    try:
        try:
            return zarr.open_consolidated(store, mode="r", zarr_format=2)
        except (KeyError, ValueError, FileNotFoundError):
            return zarr.open_group(store, mode="r", zarr_format=2)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"{source!r} is not a Zarr (format 2) store packed as a zip ({err})"
        ) from err


def open_zarr_zip(path: str | os.PathLike[str]) -> zarr.Group:
    """Open a ``.zarr.zip`` file on disk, read-only.

    Args:
        path: The zip file.

    Returns:
        The root group.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a zip holding a Zarr format-2 store.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Zarr zip {str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{str(path)!r} is not a readable zip file (truncated or another format)"
        )
    return _open_group(ZipStore(path, mode="r"), str(path))


def open_zarr_zip_bytes(data: bytes, source: str) -> zarr.Group:
    """Open a Zarr zip held in memory (e.g. a member of a tar shard).

    Args:
        data: The zip file's bytes.
        source: Where the bytes come from, for messages.

    Returns:
        The root group.

    Raises:
        ValueError: If the bytes are not a zip holding a Zarr format-2 store.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            prototype = default_buffer_prototype()
            entries = {
                name: prototype.buffer.from_bytes(archive.read(name))
                for name in archive.namelist()
                if not name.endswith("/")
            }
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{source!r} is not a readable zip file ({err})") from err
    return _open_group(MemoryStore(entries, read_only=True), source)


def require_variables(group: zarr.Group, names: Sequence[str], source: str) -> None:
    """Raise if a Zarr group lacks variables.

    Args:
        group: The group.
        names: Variables needed.
        source: The store's file, for the message.

    Raises:
        ValueError: Naming the file, the missing and the present variables.
    """
    present = sorted(group.array_keys())
    missing = [n for n in names if n not in present]
    if missing:
        raise ValueError(
            f"Zarr zip {source!r} lacks the variable(s) {missing}; it holds {present}"
        )


def dimensions(array: zarr.Array[Any], source: str) -> list[str]:
    """Return an array's dimension names (its ``_ARRAY_DIMENSIONS`` attribute).

    Args:
        array: A Zarr array written with xarray's convention.
        source: The store's file, for the message.

    Returns:
        One name per axis.

    Raises:
        ValueError: If the attribute is missing or does not match the array.
    """
    dims = array.attrs.get("_ARRAY_DIMENSIONS")
    if not isinstance(dims, list) or len(dims) != array.ndim:
        raise ValueError(
            f"array {array.basename!r} of {source!r} has no valid "
            f"_ARRAY_DIMENSIONS attribute (got {dims!r} for {array.ndim} axes)"
        )
    return [str(d) for d in dims]


def variable(group: zarr.Group, name: str, source: str) -> zarr.Array[Any]:
    """Return a variable (array) of a Zarr group.

    Args:
        group: The group.
        name: The variable.
        source: The store's file, for the message.

    Returns:
        The array.

    Raises:
        ValueError: If the group has no array of that name.
    """
    try:
        array = group[name]
    except KeyError:
        require_variables(group, [name], source)  # names what the store holds
        raise
    if not isinstance(array, zarr.Array):
        raise ValueError(f"{name!r} of Zarr zip {source!r} is not an array")
    return array


def band_positions(
    group: zarr.Group, wanted: Sequence[str], all_bands: Sequence[str], source: str
) -> list[int]:
    """Return the positions of the wanted bands in a store's ``band`` coordinate.

    Band names are compared in their canonical spelling (``B02`` = ``B2``). When
    the store's names do not include a wanted band but the store holds as many
    bands as ``all_bands``, positions follow ``all_bands`` (stores whose band
    names differ in spelling, e.g. ``red`` for ``R``).

    Args:
        group: The store.
        wanted: Bands to read, in order.
        all_bands: The bands the store is expected to hold, in order.
        source: The store's file, for messages.

    Returns:
        One position per wanted band.

    Raises:
        ValueError: If the store's bands differ from ``all_bands`` in number and a
            wanted band is not among them.
    """
    canon_wanted = [canonical_band(b) for b in wanted]
    names: list[str] = []
    if "band" in group.array_keys():
        values = np.asarray(variable(group, "band", source)[...])
        names = [canonical_band(str(b)) for b in values]
        if all(w in names for w in canon_wanted):
            return [names.index(w) for w in canon_wanted]
    count = len(names) if names else None
    if count is None or count == len(all_bands):
        expected = [canonical_band(b) for b in all_bands]
        return [expected.index(w) for w in canon_wanted]
    raise ValueError(
        f"Zarr zip {source!r} holds the bands {names}, not the requested "
        f"{list(wanted)}; expected {list(all_bands)}"
    )


def read_image(
    array: zarr.Array[Any],
    select: Mapping[str, int],
    bands: Sequence[int],
    source: str,
    dims: Sequence[str] | None = None,
) -> np.ndarray:
    """Read one (band, y, x) image out of an array of any dimension order.

    Args:
        array: Array with a ``band``, a ``y`` and an ``x`` dimension.
        select: Position along each other dimension (e.g. ``{"sample": 3,
            "time": 1}``); a dimension of length 1 not named here is taken at 0.
        bands: Positions along ``band`` to keep, in order.
        source: The store's file, for messages.
        dims: The array's dimension names, if already known (see
            :func:`dimensions`).

    Returns:
        Array of shape (len(bands), y, x) in the array's data type.

    Raises:
        ValueError: If a dimension is missing, a position is out of range, or a
            dimension longer than 1 is not selected.
    """
    dims = list(dims) if dims is not None else dimensions(array, source)
    for needed in ("band", "y", "x"):
        if needed not in dims:
            raise ValueError(
                f"array {array.basename!r} of {source!r} has dimensions {dims}; "
                "it needs 'band', 'y' and 'x'"
            )
    key: list[int | slice] = []
    for dim, length in zip(dims, array.shape, strict=True):
        if dim in ("band", "y", "x"):
            key.append(slice(None))
        elif dim in select:
            pos = select[dim]
            if not 0 <= pos < length:
                raise ValueError(
                    f"{dim} position {pos} is out of range for {source!r}, whose "
                    f"{array.basename!r} has {length} along {dim!r}"
                )
            key.append(pos)
        elif length == 1:
            key.append(0)
        else:
            raise ValueError(
                f"array {array.basename!r} of {source!r} has {length} entries along "
                f"{dim!r}; say which one to read"
            )
    data = np.asarray(array[tuple(key)])
    kept = [d for d in dims if d in ("band", "y", "x")]
    data = np.transpose(data, [kept.index(d) for d in ("band", "y", "x")])
    if list(bands) != list(range(data.shape[0])):
        data = data[list(bands)]
    return data
