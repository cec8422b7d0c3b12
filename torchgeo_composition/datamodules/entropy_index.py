"""The pool entropy index: the spectral entropy of every sample of a pool.

Built once per pool and recipe by :func:`build_entropy_index` (the ``diversity
--pool ... --index`` command), stored beside the pool's own index as
``<pool root>/entropy_index.<recipe>.parquet`` and reused by every later run
(:func:`load_entropy_index`). The file records the pool fingerprint and the
recipe; one that belongs to another pool state or recipe is never used.

Columns: ``sample_id``, ``spectral_entropy`` (nats; NaN for a sample without
any valid pixel) and ``is_empty`` (True for such a sample: it is marked, not scored
0). Pixels that are NaN, infinite or equal to the pool's ``fill_value`` (the
value :class:`~torchgeo_composition.datasets.ChipFolder` gives missing pixels)
are left out of the histograms.

The work is done in chunks of samples, read by parallel DataLoader workers;
each finished chunk is written atomically to ``<index>.parts/``, so a build that
is killed resumes from the chunks it finished.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import Tensor
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..datasets import PoolDataset
from ..diversity import EntropyRecipe, get_recipe, spectral_entropy
from ..files import atomic_path, file_lock
from .pool_source import PoolSource

__all__ = [
    "ENTROPY_INDEX_COLUMNS",
    "EntropyPool",
    "build_entropy_index",
    "entropy_index_path",
    "load_entropy_index",
    "with_entropy",
]

#: Columns of a pool entropy index.
ENTROPY_INDEX_COLUMNS: tuple[str, ...] = ("sample_id", "spectral_entropy", "is_empty")

#: Test hook: the build exits (status 3) after writing this many chunks.
_STOP_AFTER_ENV = "TORCHGEO_COMPOSITION_ENTROPY_INDEX_STOP_AFTER"

_KEY = b"torchgeo_composition.entropy_index"


def entropy_index_path(
    pool: PoolDataset, recipe: str | EntropyRecipe = "default"
) -> Path:
    """Return where the entropy index of ``pool`` for ``recipe`` is stored.

    Args:
        pool: A pool with a ``root`` folder.
        recipe: Recipe name.

    Returns:
        ``<pool root>/entropy_index.<recipe>.parquet``.

    Raises:
        ValueError: If the pool has no ``root`` folder or the recipe is unknown.
    """
    chosen = get_recipe(recipe)
    root = getattr(pool, "root", None)
    if root is None:
        raise ValueError(
            f"pool {type(pool).__name__} has no root folder to store its entropy "
            "index beside; pass index_path"
        )
    return Path(root) / f"entropy_index.{chosen.name}.parquet"


def _key(pool: PoolDataset, recipe: EntropyRecipe) -> dict[str, Any]:
    return {
        "pool_fingerprint": pool.fingerprint(),
        "pool_size": len(pool),
        "recipe": recipe.to_dict(),
    }


def _collate(batch: Sequence[dict[str, Any]]) -> Tensor:
    """Stack the images of a batch (other keys are not needed)."""
    return torch.stack([torch.as_tensor(s["image"]) for s in batch])


def _measure(
    raw: Tensor, source: PoolSource, recipe: EntropyRecipe, nodata: float | None
) -> np.ndarray:
    """Spectral entropy (float64) of a batch of raw images; NaN when empty."""
    if source.channels is not None:
        # one selection per batch (per sample, indexing costs more than the entropy)
        raw = raw[:, list(source.channels)]
    raw = raw.float()
    # one sum tells whether any value is NaN or infinite (isfinite costs more)
    finite = bool(torch.isfinite(raw.sum()))
    missing = None if finite else ~torch.isfinite(raw)
    if nodata is not None:
        fill = raw == nodata
        missing = fill if missing is None else missing | fill
    images = source.aug({"image": raw if finite else raw.nan_to_num(0.0)})["image"]
    values = spectral_entropy(images, recipe=recipe.name, mask=missing)
    return values.double().numpy()


def _write_table(frame: pd.DataFrame, key: dict[str, Any], path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({_KEY: json.dumps(key).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_table(path: Path) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(_KEY)
    key = json.loads(raw) if raw is not None else None
    return table.to_pandas(), key


def load_entropy_index(
    pool: PoolDataset,
    recipe: str | EntropyRecipe = "default",
    index_path: str | os.PathLike[str] | None = None,
) -> pd.DataFrame | None:
    """Load the entropy index of ``pool`` for ``recipe``, if it was built.

    Args:
        pool: The pool.
        recipe: Recipe name.
        index_path: The index file; ``None`` = :func:`entropy_index_path`.

    Returns:
        The index (columns :data:`ENTROPY_INDEX_COLUMNS`, in the pool's order),
        or ``None`` when no index file exists.

    Raises:
        ValueError: If the file belongs to another pool state (the pool changed
            since) or another recipe; the message gives the command that
            rebuilds it.
    """
    chosen = get_recipe(recipe)
    path = Path(index_path) if index_path else entropy_index_path(pool, chosen)
    if not path.is_file():
        return None
    frame, key = _read_table(path)
    want = _key(pool, chosen)
    if key != want:
        what = (
            "another recipe"
            if key is not None and key.get("recipe") != want["recipe"]
            else "another state of the pool (it changed since)"
        )
        raise ValueError(
            f"entropy index {str(path)!r} was built for {what}; rebuild it with "
            f"`torchgeo-composition diversity --pool {type(pool).__name__} "
            f"--pool.root {getattr(pool, 'root', '...')} --index "
            f"--entropy_recipe {chosen.name}`"
        )
    return frame


def build_entropy_index(
    pool: PoolDataset,
    recipe: str | EntropyRecipe = "default",
    index_path: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    chunk_size: int = 4096,
    progress: bool = True,
    bands: list[str] | None = None,
) -> pd.DataFrame:
    """Compute (or reuse) the spectral entropy of every sample of ``pool``.

    An index file that matches the pool and the recipe is reused; one that does
    not (the pool changed) is rebuilt. Finished chunks of a killed build are
    reused when they match the pool, the recipe and ``chunk_size``.

    Args:
        pool: The pool.
        recipe: Recipe name (``default`` or ``olmoearth``).
        index_path: Where to store the index; ``None`` =
            :func:`entropy_index_path`.
        batch_size: Samples per batch.
        num_workers: DataLoader worker processes reading the samples.
        chunk_size: Samples per resumable chunk.
        progress: Show a progress bar on stderr.
        bands: Bands to measure (default: SatMAE's 10 when the pool has them).

    Returns:
        The index (columns :data:`ENTROPY_INDEX_COLUMNS`, in the pool's order).

    Raises:
        ValueError: If the recipe is unknown or an argument is invalid.
    """
    chosen = get_recipe(recipe)
    for name, value in (("batch_size", batch_size), ("chunk_size", chunk_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int):
        raise ValueError(f"num_workers must be an integer >= 0; got {num_workers!r}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be an integer >= 0; got {num_workers!r}")
    path = Path(index_path) if index_path else entropy_index_path(pool, chosen)
    with file_lock(path, "entropy index", timeout=None):
        try:
            ready = load_entropy_index(pool, chosen, path)
        except ValueError:
            ready = None
        if ready is not None:
            return ready
        frame = _build(
            pool, chosen, path, batch_size, num_workers, chunk_size, progress, bands
        )
        _write_table(frame, _key(pool, chosen), path)
        shutil.rmtree(_parts_dir(path), ignore_errors=True)
    return frame


def _parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def _build(
    pool: PoolDataset,
    recipe: EntropyRecipe,
    path: Path,
    batch_size: int,
    num_workers: int,
    chunk_size: int,
    progress: bool,
    bands: list[str] | None,
) -> pd.DataFrame:
    """Measure every sample, chunk by chunk, reusing finished chunks."""
    source = PoolSource(pool, None, None, bands, recipe.normalization)
    key = {**_key(pool, recipe), "chunk_size": chunk_size}
    parts = _parts_dir(path)
    key_file = parts / "key.json"
    if parts.is_dir() and (
        not key_file.is_file() or json.loads(key_file.read_text()) != key
    ):
        shutil.rmtree(parts)
    parts.mkdir(parents=True, exist_ok=True)
    if not key_file.is_file():
        with atomic_path(key_file) as tmp:
            tmp.write_text(json.dumps(key))
    ids = pool.index()["sample_id"].astype(str).tolist()
    fill = getattr(pool, "fill_value", None)
    nodata = float(fill) if fill is not None else None
    stop_after = int(os.environ.get(_STOP_AFTER_ENV, "0") or 0)
    num_chunks = -(-len(ids) // chunk_size)
    frames, written = [], 0
    bar = tqdm(
        total=len(ids),
        desc=f"entropy index ({recipe.name})",
        unit="sample",
        disable=not progress,
        file=sys.stderr,
    )
    with bar:
        for chunk in range(num_chunks):
            start, stop = chunk * chunk_size, min(len(ids), (chunk + 1) * chunk_size)
            part = parts / f"chunk-{chunk:06d}.parquet"
            if part.is_file():
                frames.append(pd.read_parquet(part))
                bar.update(stop - start)
                continue
            dataset = _Subset(source, range(start, stop))
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                num_workers=num_workers,
                collate_fn=_collate,
            )
            values = []
            for raw in loader:
                values.append(_measure(raw, source, recipe, nodata))
                bar.update(len(raw))
            entropy = np.concatenate(values) if values else np.empty(0)
            frame = pd.DataFrame(
                {
                    "sample_id": ids[start:stop],
                    "spectral_entropy": entropy,
                    "is_empty": np.isnan(entropy),
                }
            )
            _write_table(frame, key, part)
            frames.append(frame)
            written += 1
            if stop_after and written >= stop_after:
                os._exit(3)
    if not frames:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=t)
                for c, t in zip(ENTROPY_INDEX_COLUMNS, "Ofb", strict=True)
            }
        )
    return pd.concat(frames, ignore_index=True)


class _Subset(torch.utils.data.Dataset[dict[str, Any]]):
    """The images of pool positions ``positions`` (all channels)."""

    def __init__(self, source: PoolSource, positions: range) -> None:
        """Initialize a new _Subset instance.

        Args:
            source: The pool source.
            positions: Pool positions to serve.
        """
        self.source = source
        self.positions = positions

    def __len__(self) -> int:
        """Return the number of samples."""
        return len(self.positions)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return the image of one sample (channels are chosen per batch)."""
        return {"image": self.source.pool[self.positions[index]]["image"]}


class EntropyPool:
    """A pool whose index carries each sample's ``spectral_entropy``.

    Everything but :meth:`index` is the wrapped pool's; the entropy strategies of
    :func:`~torchgeo_composition.sampling.compose` read the column.
    """

    def __init__(self, pool: PoolDataset, entropy: pd.DataFrame) -> None:
        """Initialize a new EntropyPool instance.

        Args:
            pool: The pool.
            entropy: Its entropy index (pool order).
        """
        self.pool = pool
        self.entropy = entropy

    def index(self) -> pd.DataFrame:
        """Return the pool index with a ``spectral_entropy`` column."""
        values = self.entropy["spectral_entropy"].to_numpy(dtype=np.float64)
        return self.pool.index().assign(spectral_entropy=values)

    def __getattr__(self, name: str) -> Any:
        """Delegate to the wrapped pool."""
        return getattr(self.pool, name)


def with_entropy(
    pool: PoolDataset, recipe: str | None = None, progress: bool = True
) -> EntropyPool:
    """Return ``pool`` with its entropy index, building the index if needed.

    Args:
        pool: The pool.
        recipe: Recipe name; ``None`` = ``default``.
        progress: Show a progress bar while building.

    Returns:
        The pool, its index carrying ``spectral_entropy``.
    """
    frame = build_entropy_index(pool, recipe or "default", progress=progress)
    return EntropyPool(pool, frame)
