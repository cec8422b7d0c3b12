"""A tiny task and an in-memory datamodule for the callback tests (seeded data)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from lightning.pytorch import LightningDataModule
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from torchgeo.trainers import BaseTask

STRATA = ("europe", "africa")


class TinyEntropyTask(BaseTask):
    """Mean-pooled linear regression to zero: a training step that runs anywhere."""

    def __init__(self, in_channels: int = 10, lr: float = 1e-3) -> None:
        super().__init__()

    def configure_models(self) -> None:
        self.model = nn.Linear(self.hparams["in_channels"], 1)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"])

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        out = self.model(batch["image"].mean(dim=(2, 3)))
        loss = out.square().mean()
        self.log("train_loss", loss, batch_size=out.shape[0])
        return loss


def make_images(n: int, channels: int = 3, size: int = 8, seed: int = 0) -> Tensor:
    """Images whose spread (and so entropy) differs from sample to sample."""
    g = torch.Generator().manual_seed(seed)
    spread = torch.linspace(0.05, 1.0, n).view(n, 1, 1, 1)
    return (torch.rand(n, channels, size, size, generator=g) * spread).float()


class DictDataset(Dataset[dict[str, Any]]):
    def __init__(self, images: Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": self.images[i], "continent": STRATA[i % 3 == 0]}


class DictDataModule(LightningDataModule):
    def __init__(
        self, n: int = 12, batch_size: int = 3, channels: int = 3, shard: bool = False
    ) -> None:
        super().__init__()
        self.shard = shard
        self.images = make_images(n, channels)
        self.batch_size = batch_size
        self.manifest = pd.DataFrame(
            {
                "sample_id": [f"s{i}" for i in range(n)],
                "lon": [20.0 if i % 3 == 0 else 10.0 for i in range(n)],
                "lat": [10.0 if i % 3 == 0 else 50.0 for i in range(n)],
                "stratum": [STRATA[i % 3 == 0] for i in range(n)],
            }
        )
        self.summary = {
            "composition": {"name": "custom"},
            "counts": {"europe": 8, "africa": 4},
            "num_samples": n,
            "stratum_entropy_nats": 0.6365,
            "continent_entropy_nats": 0.6365,
        }

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        dataset: Dataset[dict[str, Any]] = DictDataset(self.images)
        if self.shard:  # rank r reads the r-th contiguous block, in order
            size = len(self.images) // self.trainer.world_size
            start = self.trainer.global_rank * size
            dataset = Subset(dataset, range(start, start + size))
        return DataLoader(dataset, batch_size=self.batch_size)
