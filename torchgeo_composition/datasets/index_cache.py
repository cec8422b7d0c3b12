"""The on-disk cache of a pool index: a Parquet file checked on every load.

The cache records the signature of the files it describes and a SHA-256 of its
own rows, computed on the Arrow table written and on the one read back; it is
written atomically under a lock. See :func:`cached_index`.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..files import FileLockedError, atomic_path, file_lock, remove_stale_temps
from ..sampling.pool import hash_bytes

__all__ = ["INDEX_LOCK_TIMEOUT_S", "cached_index"]

#: Seconds a pool waits for another process indexing the same folder before it
#: indexes the folder itself, in memory.
INDEX_LOCK_TIMEOUT_S = 3600.0

#: Version of the content hash; bump when :func:`_digest` changes.
_CACHE_VERSION = "1"


def _digest(table: pa.Table) -> str:
    """SHA-256 of a table's schema and values (exact bits of numbers).

    Computed on the Arrow table that is written and on the one that is read, so
    it does not depend on how pandas converts either. Text is hashed from the
    Arrow buffers (lengths, then bytes); a dictionary column (a categorical) by
    its dictionary and its indices, so a column that repeats a few long values
    (a part URL per row) costs little.
    """
    head = f"v{_CACHE_VERSION}|{table.num_rows}|{table.schema.names}"
    digest = hashlib.sha256(head.encode())
    for column in table.columns:
        _hash_array(digest, column.combine_chunks())
    return digest.hexdigest()


def _hash_array(digest: hashlib._Hash, array: pa.Array) -> None:
    """Feed one column: its null bitmap, then its values."""
    nulls = array.is_null().to_numpy(zero_copy_only=False)
    digest.update(np.packbits(nulls).tobytes())
    kind = array.type
    if pa.types.is_dictionary(kind):
        digest.update(b"dictionary")
        indices = array.indices.cast(pa.int64()).fill_null(-1)
        digest.update(np.ascontiguousarray(indices.to_numpy(), "<i8").tobytes())
        _hash_array(digest, array.dictionary)
    elif (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    ):
        hash_bytes(digest, array)
    elif (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_temporal(kind)
    ):
        values = array.to_numpy(zero_copy_only=False)
        digest.update(np.ascontiguousarray(values).tobytes())
    else:
        digest.update(repr(array.to_pylist()).encode())


def _load(cache_path: Path, sig: str, warn: bool = True) -> pd.DataFrame | None:
    """The cached index if it is current and intact; None to rebuild it.

    A cache of other files (another signature) is silently outdated; one that
    cannot be read or whose content hash does not match is corrupt: a warning
    says so (when ``warn``).
    """
    if not cache_path.exists():
        return None
    problem = ""
    try:
        table = pq.read_table(cache_path)
        meta = table.schema.metadata or {}
        if meta.get(b"tgc_signature") != sig.encode():
            return None
        if meta.get(b"tgc_sha256") == _digest(table).encode():
            return table.to_pandas()
        problem = "its content hash does not match its rows (the file is damaged)"
    except (OSError, ValueError, pa.ArrowException) as err:
        problem = f"it cannot be read ({err})"
    if not warn:
        return None
    warnings.warn(
        f"pool index cache {str(cache_path)!r} is not usable: {problem}; "
        "rebuilding it from the files",
        stacklevel=3,
    )
    return None


def _write_atomic(table: pa.Table, path: Path) -> bool:
    """Write a Parquet table atomically; return False if the folder is read-only."""
    try:
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    except OSError:
        return False
    return True


def cached_index(
    cache_path: Path, sig: str, build: Callable[[], pd.DataFrame]
) -> pd.DataFrame:
    """Return the index stored at ``cache_path`` if its signature matches, else build it.

    The cache records the signature of the files it describes and a SHA-256 of
    its own rows; both are checked on every load. A cache of other files is
    rebuilt; a damaged one (unreadable, or rows that do not match the hash, e.g.
    a flipped bit) is rebuilt with a warning, never trusted. A current cache is
    loaded without a lock (it is replaced atomically, so it is always whole); a
    rebuilt index is written atomically (temporary file, then rename) under the
    cache's lock (``<cache>.lock``): a second process indexing the same folder
    waits for the first and loads its result (after :data:`INDEX_LOCK_TIMEOUT_S` seconds it
    indexes the folder in memory itself). Temporary files of a killed indexer
    are removed. A pool on read-only storage is indexed in memory every time.

    Args:
        cache_path: Parquet file holding the cached index.
        sig: Signature of the current folder contents (:func:`signature`).
        build: Function building the index.

    Returns:
        The index.
    """
    frame = _load(cache_path, sig, warn=False)
    if frame is not None:
        return frame
    try:
        with file_lock(cache_path, "pool index", INDEX_LOCK_TIMEOUT_S) as holder:
            frame = _load(cache_path, sig)
            if frame is not None:
                return frame
            if holder is not None:
                remove_stale_temps(cache_path, before=holder.acquired)
            frame = build()
            _write_atomic(_table(frame, sig), cache_path)
            return frame
    except FileLockedError as err:
        warnings.warn(f"{err}; indexing the folder in memory", stacklevel=2)
        frame = _load(cache_path, sig)
        return frame if frame is not None else build()


def _table(frame: pd.DataFrame, sig: str) -> pa.Table:
    """The index as a table carrying its signature and content hash."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata(
        {
            **(table.schema.metadata or {}),
            b"tgc_signature": sig.encode(),
            b"tgc_sha256": _digest(table).encode(),
        }
    )
