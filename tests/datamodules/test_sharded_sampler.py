import json
import math
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer

from tests.data.ddp_shards import run_two_ranks
from tests.data.pools import tiny_pool
from torchgeo_composition.datamodules import (
    ContinentStratifiedDataModule,
    ShardedManifestSampler,
    shard_sizes,
)


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_exactly_once_equal_batches(world: int) -> None:
    for n in range(1, 40):
        for batch in range(1, 6):
            samplers = [
                ShardedManifestSampler(range(n), batch, world, r, shuffle=True, seed=5)
                for r in range(world)
            ]
            shards = [list(s) for s in samplers]
            assert len({math.ceil(len(s) / batch) for s in shards}) == 1
            counts = Counter(i for s in shards for i in s)
            assert set(counts) == set(range(n))
            assert sum(counts.values()) - n == samplers[0].num_padded
            rest = n % (world * batch)
            assert (samplers[0].num_padded == 0) == (rest == 0 or rest >= world)
            assert sum(shard_sizes(n, world, batch)) == n


def test_epoch_reshuffles() -> None:
    s = ShardedManifestSampler(range(20), 4, 2, 0, seed=0)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        ShardedManifestSampler(range(3), 0, 1, 0)
    with pytest.raises(ValueError, match="rank"):
        ShardedManifestSampler(range(3), 1, 2, 2)


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_ddp_two_processes_cover_manifest_once(tmp_path: Path) -> None:
    pool = tiny_pool(tmp_path / "pool")
    dm = ContinentStratifiedDataModule(
        pool, "proportional", num_samples=27, val_fraction=0.0, batch_size=4
    )
    dm.setup("fit")
    n = len(dm.train_dataset)  # type: ignore[arg-type]
    assert n == 27
    ranks = run_two_ranks(dm, tmp_path, _free_port())
    for epoch in range(2):
        per_rank = [r[epoch] for r in ranks]
        assert per_rank[0]["batches"] == per_rank[1]["batches"] == 4
        positions = per_rank[0]["positions"] + per_rank[1]["positions"]
        assert sorted(positions) == list(range(n))  # disjoint, exactly once
        assert len(per_rank[0]["seen"]) + len(per_rank[1]["seen"]) == n
    assert ranks[0][0]["positions"] != ranks[0][1]["positions"]  # reshuffled


class _RecordPositions(LightningModule):
    def __init__(self, out: Path) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.out = out
        self.seen: list[list[float]] = []

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        self.seen += [
            [float(a), float(b)]
            for a, b in zip(batch["lon"], batch["lat"], strict=True)
        ]
        return self.layer(batch["image"].mean().view(1, 1)).sum()

    def on_train_epoch_end(self) -> None:
        (self.out / f"rank{self.global_rank}.json").write_text(json.dumps(self.seen))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_under_ddp_reads_each_sample_once(tmp_path: Path) -> None:
    # Lightning keeps the datamodule's sampler (its own would pad 27 to 28).
    dm = ContinentStratifiedDataModule(
        tiny_pool(tmp_path / "pool"),
        "proportional",
        num_samples=27,
        val_fraction=0.0,
        batch_size=4,
        crop_size=None,
    )
    trainer = Trainer(
        strategy="ddp_fork",
        accelerator="cpu",
        devices=2,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_RecordPositions(tmp_path), datamodule=dm)
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert sorted(map(len, seen)) == [13, 14]
    dm.setup("fit")
    assert dm.manifest is not None
    expected = dm.manifest[["lon", "lat"]].to_numpy(dtype="float32").tolist()
    assert sorted(seen[0] + seen[1]) == sorted(expected)  # each sample once
