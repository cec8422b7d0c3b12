"""Pools indexed from a metadata table: checks, missing files, caching, base class.

The archives that pretraining sets are cut from (SSL4EO-S12 v1.1, Major TOM,
FMoW-Sentinel, TerraMesh, a user's own table) all publish each sample's location
in a metadata table (read with :mod:`.metatables`). The helpers here check the
sample centres, check that the files the rows point to exist, and cache the
built index; :class:`MetadataPool` is the base class of the pools built on them.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .indexing import cached_index, signature
from .pool import INDEX_COLUMNS, PoolDataset

__all__ = [
    "MISSING_POLICIES",
    "MetadataPool",
    "MissingPolicy",
    "absolute_paths",
    "cached_metadata_index",
    "check_centres",
    "drop_missing_files",
]

#: What a pool does with metadata rows whose file is missing: ``"error"`` refuses
#: the pool naming the files, ``"skip"`` drops the rows with a warning naming them,
#: ``"ignore"`` does not look (e.g. files read remotely).
MissingPolicy = Literal["error", "skip", "ignore"]
MISSING_POLICIES: tuple[str, ...] = ("error", "skip", "ignore")

#: Files named in an error or warning before "and N more".
_SHOWN = 5


def check_centres(index: pd.DataFrame, source: str) -> None:
    """Raise if a sample's centre is NaN or not a valid longitude/latitude.

    Args:
        index: Pool index with ``sample_id``, ``lon`` and ``lat``.
        source: The metadata table, for the message.

    Raises:
        ValueError: Naming the table, how many rows are bad and the first one.
    """
    lon = index["lon"].to_numpy(dtype=np.float64, na_value=np.nan)
    lat = index["lat"].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    bad |= (np.abs(lon) > 180) | (np.abs(lat) > 90)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"metadata table {source!r} gives {int(bad.sum())} sample(s) a centre "
            f"that is NaN or outside lon [-180, 180] / lat [-90, 90] (first: "
            f"sample_id={index['sample_id'].iat[i]!r}, lon={lon[i]}, lat={lat[i]})"
        )


def drop_missing_files(
    index: pd.DataFrame,
    root: Path,
    policy: str,
    source: str,
    column: str = "path",
) -> pd.DataFrame:
    """Apply the missing-file policy to the rows of an index.

    Only the existence of each distinct file is checked (no file is opened).

    Args:
        index: Pool index whose ``column`` holds file paths relative to ``root``.
        root: The pool root.
        policy: ``"error"``, ``"skip"`` or ``"ignore"`` (see :data:`MissingPolicy`).
        source: The metadata table, for messages.
        column: The column of file paths.

    Returns:
        The index (without the rows of missing files when skipping).

    Raises:
        ValueError: If ``policy`` is unknown.
        FileNotFoundError: With ``"error"``, naming how many files are missing and
            the first of them.
    """
    if policy not in MISSING_POLICIES:
        raise ValueError(
            f"on_missing {policy!r} is not valid; valid choices are "
            f"{list(MISSING_POLICIES)}"
        )
    if policy == "ignore" or len(index) == 0:
        return index
    files = pd.unique(index[column])
    missing = [f for f in files if not (root / str(f)).is_file()]
    if not missing:
        return index
    rows = index[column].isin(missing)
    shown = ", ".join(repr(str(root / str(f))) for f in missing[:_SHOWN])
    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    what = (
        f"{len(missing)} file(s) named by {int(rows.sum())} row(s) of {source!r} "
        f"are missing: {shown}{more}"
    )
    if policy == "error":
        raise FileNotFoundError(
            f"{what}; download them, or set on_missing='skip' to leave their "
            "samples out"
        )
    warnings.warn(
        f"{what}; their samples are left out (on_missing='skip')", stacklevel=3
    )
    return index.loc[~rows].reset_index(drop=True)


def absolute_paths(root: Path, paths: pd.Series) -> list[str]:
    """Join file paths to a root folder, in bulk (absolute paths stay as they are).

    Args:
        root: The pool root.
        paths: Paths relative to ``root`` (or absolute).

    Returns:
        One path per row, as text.
    """
    paths = paths.astype(str)
    joined = str(root).rstrip("/\\") + os.sep + paths
    absolute = paths.str.match(r"^(?:/|\\\\|[A-Za-z]:)")  # POSIX, UNC, drive
    return joined.where(~absolute, paths).tolist()


def cached_metadata_index(
    root: Path,
    name: str,
    tables: Sequence[Path],
    options: str,
    build: Callable[[], pd.DataFrame],
) -> pd.DataFrame:
    """Build a pool index from metadata tables, or load it from the cache.

    The index is cached atomically in ``<root>/.tgc_index.<name>.<hash>.parquet``
    (``hash`` of ``options``) and rebuilt when a table's size or modification time
    or the options change; on read-only storage it is built in memory every time.

    Args:
        root: Folder of the cache file.
        name: Short name of the pool kind.
        tables: The metadata tables the index is built from.
        options: Text naming every option that changes the index.
        build: Function building the index.

    Returns:
        The index.
    """
    entries = []
    for table in tables:
        if not Path(table).is_file():
            raise FileNotFoundError(
                f"metadata table {str(table)!r} does not exist; the pool is indexed "
                "from it (download it with the archive)"
            )
        st = os.stat(table)
        entries.append((str(Path(table).resolve()), st.st_size, st.st_mtime_ns))
    key = hashlib.sha256(options.encode()).hexdigest()[:12]
    sig = signature(entries, extra=f"{name}|{options}")
    return cached_index(root / f".tgc_index.{name}.{key}.parquet", sig, build)


class MetadataPool(PoolDataset):
    """Base class of pools whose index comes from a metadata table.

    Subclasses build the index (the :data:`INDEX_COLUMNS` plus any metadata
    columns, which stay available as strata and filters) and pass it to
    :meth:`_set_index`, and implement :meth:`read` to return one sample's pixels;
    this class turns them into the sample dict. Pixels that are NaN or infinite
    are set to ``fill_value``.
    """

    root: Path
    fill_value: float = 0.0
    transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None

    def _set_index(self, index: pd.DataFrame, source: str) -> None:
        """Check and keep the index.

        Args:
            index: The pool index, in dataset order.
            source: The metadata table, for messages.

        Raises:
            ValueError: If the index is empty or a centre is invalid.
        """
        if len(index) == 0:
            raise ValueError(
                f"metadata table {source!r} gives no sample for {self._describe()}; "
                "the pool would be empty"
            )
        check_centres(index, source)
        self._index = index.reset_index(drop=True)
        self._centre_lon = index["lon"].to_numpy(dtype=np.float32)
        self._centre_lat = index["lat"].to_numpy(dtype=np.float32)

    def _describe(self) -> str:
        """Return the pool's options for messages."""
        return repr(self)

    def index(self) -> pd.DataFrame:
        """Return the pool index.

        Returns:
            Columns ``sample_id``, ``path``, ``lon``, ``lat`` and the metadata
            columns of the pool (usable as strata and filters).
        """
        columns = [*INDEX_COLUMNS, *(c for c in self._index if c not in INDEX_COLUMNS)]
        return self._index.loc[:, columns]

    def __len__(self) -> int:
        """Return the number of samples.

        Returns:
            The number of rows of the index.
        """
        return len(self._index)

    def read(self, index: int) -> np.ndarray:
        """Return the pixels of one sample.

        Args:
            index: Position of the sample.

        Returns:
            Array of shape (len(bands), H, W), channels in the order of ``bands``.
        """
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the sample in :meth:`index`.

        Returns:
            ``image`` (C, H, W) float32 with non-finite pixels set to
            ``fill_value``, ``lon`` and ``lat`` (float32, degrees).
        """
        image = np.asarray(self.read(index), dtype=np.float32)
        if image.dtype.kind == "f" and not np.isfinite(image.sum()):
            image = np.where(np.isfinite(image), image, np.float32(self.fill_value))
        sample = {
            "image": torch.from_numpy(np.ascontiguousarray(image)),
            "lon": torch.scalar_tensor(float(self._centre_lon[index])),
            "lat": torch.scalar_tensor(float(self._centre_lat[index])),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __repr__(self) -> str:
        n = len(self._index) if hasattr(self, "_index") else "?"
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, "
            f"bands={list(self.bands)}, len={n})"
        )
