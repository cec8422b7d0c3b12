"""A tiny datamodule, a fault-injection callback and configs for CLI tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import torch
import yaml
from lightning.pytorch import Callback, LightningModule, Trainer
from torch.utils.data import DataLoader, Dataset
from torchgeo.datamodules import BaseDataModule

from tests.trainers.satmae_tiny import TINY_TASK
from torchgeo_composition.bands import SATMAE_BANDS


class _Images(Dataset[dict[str, Any]]):
    def __init__(self, images: torch.Tensor) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.images[index]}


class TinyImagesDataModule(BaseDataModule):
    """Seeded random 16 px images; ``val=False`` gives no validation data."""

    def __init__(
        self,
        num_samples: int = 8,
        batch_size: int = 4,
        val: bool = True,
        test: bool = False,
        nan_rows: list[int] | None = None,
    ) -> None:
        super().__init__(_Images, batch_size=batch_size, num_workers=0)
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(num_samples, len(SATMAE_BANDS), 16, 16, generator=gen)
        for row in nan_rows or []:
            self.images[row, 0, 0, 0] = float("nan")
        self.aug = torch.nn.Identity()
        self.val = val
        self.test = test

    def _loader(self, images: torch.Tensor) -> DataLoader[dict[str, Any]]:
        return DataLoader(_Images(images), batch_size=self.batch_size)

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        return self._loader(self.images)

    def val_dataloader(self) -> DataLoader[dict[str, Any]]:
        return self._loader(self.images[: self.batch_size if self.val else 0])

    def test_dataloader(self) -> DataLoader[dict[str, Any]]:
        return self._loader(self.images[: self.batch_size if self.test else 0])


class SigtermAt(Callback):
    """Send SIGTERM to this process at the end of training step ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def tiny_config(path: Path, root: Path, **trainer: Any) -> Path:
    """Write a fit config of a tiny SatMAE on :class:`TinyImagesDataModule`."""
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 3,
            "log_every_n_steps": 1,
            "default_root_dir": str(root),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(root)},
            },
            **trainer,
        },
        "model": {
            "class_path": "torchgeo_composition.trainers.SatMAETask",
            "init_args": {
                **TINY_TASK,
                "blr": 0.256,
                "warmup_epochs": 1,
                "plot_every_n_epochs": 0,
            },
        },
        "data": {"class_path": "tests.cli.tiny.TinyImagesDataModule"},
    }
    path.write_text(yaml.safe_dump(config))
    return path
