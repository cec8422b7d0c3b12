"""A tiny in-memory datamodule and SatMAE settings for the trainer tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from torchgeo_composition.bands import SATMAE_BANDS

#: SatMAETask arguments of a tiny model (16 px, one block each).
TINY_TASK: dict[str, Any] = {
    "model": "satmae_vit_tiny_patch8_96",
    "img_size": 16,
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "channel_embed": 8,
    "decoder_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
    "decoder_channel_embed": 8,
}


class _Images(Dataset[dict[str, Any]]):
    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "image": self.images[index],
            "lon": torch.tensor(0.0),
            "lat": torch.tensor(0.0),
        }


class TinyImages(LightningDataModule):
    """Random images as contract batches; ``nan_rows`` get a NaN pixel."""

    def __init__(
        self,
        num_samples: int = 8,
        bands: Sequence[str] = SATMAE_BANDS,
        size: int = 16,
        batch_size: int = 4,
        nan_rows: Sequence[int] = (),
        val: bool = True,
    ) -> None:
        super().__init__()
        self.bands = tuple(bands)
        self.batch_size = batch_size
        gen = torch.Generator().manual_seed(0)
        images = torch.rand(num_samples, len(self.bands), size, size, generator=gen)
        for row in nan_rows:
            images[row, 0, 0, 0] = float("nan")
        self.images = images
        self.val = val

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        return DataLoader(_Images(self.images), batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader[dict[str, Any]]:
        return DataLoader(
            _Images(self.images[: self.batch_size]), batch_size=self.batch_size
        )
