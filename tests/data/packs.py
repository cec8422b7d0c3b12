"""Tiny manifests and packs for the packing, streaming and pack-command tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.data.pools import tiny_pool
from torchgeo_composition.datasets import SyntheticSentinel2Pool
from torchgeo_composition.packing import pack
from torchgeo_composition.sampling import build_manifest

#: Arguments of the tiny synthetic pool on the command line.
POOL_ARGS = (
    "--pool=torchgeo_composition.datasets.SyntheticSentinel2Pool",
    "--pool.num_chips=60",
    "--pool.size=8",
)


def make_manifest(
    root: Path,
    composition: str | dict[str, float] = "proportional",
    num_samples: int = 24,
    name: str = "set.parquet",
) -> tuple[SyntheticSentinel2Pool, Path]:
    """A 60-chip pool under ``root/pool`` and a manifest drawn from it."""
    pool = tiny_pool(root / "pool")
    manifest = root / name
    build_manifest(
        pool, composition=composition, num_samples=num_samples, seed=0,
        manifest_path=str(manifest),
    )  # fmt: skip
    return pool, manifest


def make_pack(
    root: Path,
    composition: str | dict[str, float] = "proportional",
    num_samples: int = 24,
    output: str | None = None,
    **kwargs: Any,
) -> str:
    """Write a pack of a tiny manifest; return its location."""
    pool, manifest = make_manifest(root, composition, num_samples)
    location = output or str(root / "pack")
    kwargs.setdefault("chunk_bytes", "16KB")
    pack(pool, str(manifest), location, progress=False, **kwargs)
    return location


class KillingPool(SyntheticSentinel2Pool):
    """The tiny pool, whose process group is killed when it reads one sample.

    Run it in a process of its own session (``start_new_session=True``): reading
    ``kill_id`` kills that session's process group, as a crash or a preempted
    job would, at a known point.
    """

    def __init__(self, root: str, kill_id: str, num_chips: int = 60, size: int = 8):
        super().__init__(root, num_chips=num_chips, size=size, seed=0)
        self.kill_id = kill_id
        self._ids = self.index()["sample_id"].tolist()

    def __getitem__(self, index: int) -> Any:
        if self._ids[index] == self.kill_id:
            os.killpg(os.getpgid(0), signal.SIGKILL)
        return super().__getitem__(index)


def stratum_samples(location: str, folder: str) -> list[dict[str, Any]]:
    """Every sample of one stratum of a pack, in stored order."""
    from litdata import StreamingDataset

    dataset = StreamingDataset(f"{location.rstrip('/')}/{folder}")
    return [dataset[i] for i in range(len(dataset))]
