"""Pool indexes: the pool interface, validation, canonical order and fingerprints."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "INDEX_COLUMNS",
    "UNASSIGNED",
    "CanonicalPool",
    "PoolLike",
    "canonical_pool",
    "hash_bytes",
    "manifest_digest",
    "pool_fingerprint",
    "strata_fingerprint",
]

#: Columns of a pool index, in order: what every pool's ``index()`` returns.
INDEX_COLUMNS: tuple[str, ...] = ("sample_id", "path", "lon", "lat")

#: Column of a stratified index (and of a manifest) naming each sample's stratum.
STRATUM = "stratum"

#: Label of the samples that fall in no stratum (counts, maps, batches).
UNASSIGNED = "unassigned"

_FINGERPRINT_VERSION = b"torchgeo-composition-pool-v1"
_STRATA_VERSION = b"torchgeo-composition-strata-v1"
_MANIFEST_VERSION = b"torchgeo-composition-manifest-rows-v1"
#: Coordinates are rounded to 1e-7 degrees (about 1 cm) before hashing, so that
#: last-bit differences of a reprojection do not change a fingerprint.
_COORD_DECIMALS = 7


class PoolLike(Protocol):
    """What sampling needs of a pool: an index of its samples' centres.

    Every :class:`~torchgeo_composition.datasets.PoolDataset` is one; so is any
    object with an ``index()`` method returning the :data:`INDEX_COLUMNS`.
    """

    def index(self) -> pd.DataFrame:
        """Return one row per sample with the :data:`INDEX_COLUMNS`."""
        ...


@dataclass(frozen=True)
class CanonicalPool:
    """A validated pool index in canonical order (sorted by sample id, then path).

    Attributes:
        sample_id: sample ids as an Arrow string array.
        path: paths as an Arrow string array.
        lon: longitudes (float64, degrees).
        lat: latitudes (float64, degrees).
        codes: stratum code per sample (-1 = unassigned).
        strata: stratum names, sorted; ``codes`` index into it.
    """

    sample_id: pa.Array
    path: pa.Array
    lon: np.ndarray
    lat: np.ndarray
    codes: np.ndarray
    strata: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.lon)

    def counts(self) -> dict[str, int]:
        """Number of samples per stratum (unassigned samples are not counted)."""
        bins = np.bincount(self.codes[self.codes >= 0], minlength=len(self.strata))
        return {name: int(n) for name, n in zip(self.strata, bins, strict=True)}

    def fingerprint(self) -> str:
        """SHA-256 of the sample ids, paths and rounded coordinates (hex)."""
        digest = hashlib.sha256(_FINGERPRINT_VERSION)
        digest.update(np.int64(len(self)).astype("<i8").tobytes())
        hash_bytes(digest, self.sample_id)
        hash_bytes(digest, self.path)
        for values in (self.lon, self.lat):
            rounded = np.round(values, _COORD_DECIMALS) + 0.0  # folds -0.0 into 0.0
            digest.update(np.ascontiguousarray(rounded, dtype="<f8").tobytes())
        return digest.hexdigest()

    def strata_fingerprint(self) -> str:
        """SHA-256 of the stratum assignment (hex)."""
        digest = hashlib.sha256(_STRATA_VERSION)
        digest.update("\x1f".join(self.strata).encode())
        digest.update(np.ascontiguousarray(self.codes, dtype="<i8").tobytes())
        return digest.hexdigest()


def _string_column(index: pd.DataFrame, name: str) -> pa.Array:
    """Return a non-null column as an Arrow large_string array.

    A categorical column (e.g. a part file repeated by thousands of rows) is
    decoded by Arrow from its codes, without a Python string per row.
    """
    column = index[name]
    if column.isna().any():
        first = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise ValueError(f"pool index column {name!r} has missing values (row {first})")
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = pa.array(column.cat.categories.astype(str), type=pa.large_string())
        codes = pa.array(column.cat.codes.to_numpy())
        return pa.DictionaryArray.from_arrays(codes, values).cast(pa.large_string())
    array = pa.array(column.astype(str), type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def _check_coordinates(index: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return lon/lat as float64 arrays; raise on NaN or out-of-range values."""
    coords = []
    for name, limit in (("lon", 180.0), ("lat", 90.0)):
        try:
            values = index[name].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as err:
            raise ValueError(f"pool index column {name!r} must be numeric") from err
        bad = ~np.isfinite(values) | (np.abs(values) > limit)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"pool index column {name!r} has {int(bad.sum())} value(s) that are "
                f"NaN or outside [-{limit:g}, {limit:g}] (first: row {row}, "
                f"sample_id={index['sample_id'].iloc[row]!r}, {name}={values[row]!r})"
            )
        coords.append(values)
    return coords[0], coords[1]


def canonical_pool(index: pd.DataFrame, require_stratum: bool = True) -> CanonicalPool:
    """Validate a pool index and bring it into canonical order.

    Selection works on the canonical order (sample id, then path), so the same
    pool gives the same manifest whatever order its index rows come in. An
    index already in that order is not sorted again.

    Args:
        index: DataFrame with columns ``sample_id``, ``path``, ``lon``, ``lat`` and
            ``stratum`` (str, None/NaN = unassigned).
        require_stratum: whether the ``stratum`` column must be present.

    Returns:
        The canonical pool.

    Raises:
        ValueError: if ``index`` is not a DataFrame, lacks columns, is empty, has
            duplicate sample ids, missing ids or paths, or NaN / out-of-range
            coordinates.
    """
    if not isinstance(index, pd.DataFrame):
        raise ValueError(
            "index must be a pandas DataFrame with columns "
            f"{[*INDEX_COLUMNS, STRATUM]}, got {type(index).__name__}"
        )
    required = (*INDEX_COLUMNS, STRATUM) if require_stratum else INDEX_COLUMNS
    missing = [c for c in required if c not in index.columns]
    if missing:
        raise ValueError(
            f"pool index lacks column(s) {missing}; required columns are "
            f"{list(required)}, got {list(index.columns)}"
        )
    if len(index) == 0:
        raise ValueError("pool index is empty: the pool holds no samples")
    index = index.reset_index(drop=True)
    lon, lat = _check_coordinates(index)
    ids = _string_column(index, "sample_id")
    paths = _string_column(index, "path")
    order = _sort_order(ids)
    if order is not None:
        ids = ids.take(order)
        paths = paths.take(order)
        order_np = order.to_numpy()
        lon, lat = lon[order_np], lat[order_np]
    if STRATUM in index.columns:
        stratum = index[STRATUM].astype("str")
        if order is not None:
            stratum = stratum.iloc[order_np]
        codes, uniques = pd.factorize(stratum, sort=True)
        strata = tuple(str(u) for u in uniques)
    else:
        codes = np.full(len(index), -1, dtype=np.int64)
        strata = ()
    return CanonicalPool(
        sample_id=ids,
        path=paths,
        lon=lon,
        lat=lat,
        codes=np.asarray(codes, dtype=np.int64),
        strata=strata,
    )


def _sort_order(ids: pa.Array) -> pa.Array | None:
    """Positions sorting the sample ids; None when they are sorted already.

    Sample ids are unique (a duplicate is refused here), so sorting by id alone
    gives the canonical order (sample id, then path). An index already in this
    order is recognised in one pass, without sorting.
    """
    if len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return None
    order = pc.sort_indices(ids)
    ordered = ids.take(order)
    dup = pc.equal(ordered[1:], ordered[:-1])
    if pc.any(dup).as_py():
        first = int(np.flatnonzero(dup.to_numpy(zero_copy_only=False))[0])
        raise ValueError(
            "pool index has duplicate sample_id values (e.g. "
            f"{ordered[first].as_py()!r}); sample ids must be unique"
        )
    return order


def hash_bytes(digest: hashlib._Hash, array: pa.Array) -> None:
    """Feed an Arrow string or binary array into a hash: lengths, then bytes.

    Nulls count as empty values. Strings and binary values with the same bytes
    hash alike, so the digest does not depend on the column's Arrow type.

    Args:
        digest: The running hash (e.g. :func:`hashlib.sha256`).
        array: A (large) string or binary array.
    """
    array = pc.fill_null(pc.cast(array, pa.large_binary()), b"")
    lengths = pc.binary_length(array).to_numpy(zero_copy_only=False)
    digest.update(np.ascontiguousarray(lengths, dtype="<i8").tobytes())
    offsets = np.frombuffer(array.buffers()[1], dtype="<i8")
    start = int(offsets[array.offset])
    stop = int(offsets[array.offset + len(array)])
    data = array.buffers()[2]
    if data is not None and stop > start:
        digest.update(memoryview(data)[start:stop])


def pool_fingerprint(index: pd.DataFrame) -> str:
    """Deterministic fingerprint of a pool index.

    SHA-256 over the sample ids, paths and coordinates (rounded to 1e-7 degrees)
    in canonical order (sorted by sample id, then path), so it does not depend on
    the order of the index rows, the machine, or the stratum assignment.

    Args:
        index: DataFrame with columns ``sample_id``, ``path``, ``lon``, ``lat``.

    Returns:
        64 hexadecimal characters.

    Raises:
        ValueError: if the index is invalid (see :func:`canonical_pool`).
    """
    return canonical_pool(index, require_stratum=False).fingerprint()


def strata_fingerprint(index: pd.DataFrame) -> str:
    """Deterministic fingerprint of a pool index's stratum assignment.

    Equal to the ``strata_fingerprint`` that :func:`select` records in a summary,
    so a saved manifest can be checked against a changed region layer.

    Args:
        index: DataFrame with columns ``sample_id``, ``path``, ``lon``, ``lat``,
            ``stratum``.

    Returns:
        64 hexadecimal characters.

    Raises:
        ValueError: if the index is invalid (see :func:`canonical_pool`).
    """
    return canonical_pool(index, require_stratum=True).strata_fingerprint()


def manifest_digest(manifest: pd.DataFrame) -> str:
    """SHA-256 of a manifest's rows, in their order, bit for bit.

    Hashes ``sample_id``, ``path`` and ``stratum`` (missing strata marked as
    such) and the exact float64 bits of ``lon`` and ``lat``; the same rows give
    the same digest whether they were read from Parquet or CSV. A summary
    records it as ``manifest_sha256``, so a manifest and a summary that do not
    belong together are recognised.

    Args:
        manifest: Data frame with the manifest columns ``sample_id``, ``path``,
            ``lon``, ``lat``, ``stratum``.

    Returns:
        64 hexadecimal characters.
    """
    digest = hashlib.sha256(_MANIFEST_VERSION)
    digest.update(len(manifest).to_bytes(8, "little"))
    for name in ("sample_id", "path", STRATUM):
        array = pa.array(manifest[name], type=pa.large_string(), from_pandas=True)
        nulls = array.is_null().to_numpy(zero_copy_only=False)
        digest.update(np.packbits(nulls).tobytes())
        hash_bytes(digest, array)
    for name in ("lon", "lat"):
        values = manifest[name].to_numpy(dtype=np.float64)
        digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()
