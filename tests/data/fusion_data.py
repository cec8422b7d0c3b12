"""Tiny in-memory datamodules for the fusion tests (multilabel, segmentation)."""

from __future__ import annotations

from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchgeo.datamodules import NonGeoDataModule

BANDS = ("B2", "B3", "B4", "B8")


class _Synthetic(Dataset[dict[str, Tensor]]):
    def __init__(
        self, kind: str, length: int, size: int, num_classes: int, seed: int
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        self.images = torch.rand(length, len(BANDS), size, size, generator=g)
        if kind == "multilabel":
            self.targets = torch.randint(0, 2, (length, num_classes), generator=g)
        elif kind == "segmentation":
            self.targets = torch.randint(
                0, num_classes, (length, size, size), generator=g
            )
        else:
            self.targets = torch.randint(0, num_classes, (length,), generator=g)
        self.key = "mask" if kind == "segmentation" else "label"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"image": self.images[i], self.key: self.targets[i]}


class SyntheticFusionDataModule(NonGeoDataModule):
    """``kind``: "multiclass", "multilabel" or "segmentation"; 4 bands B2 B3 B4 B8.

    ``flip`` adds a random horizontal flip as ``train_aug`` (TorchGeo's way);
    ``augment`` sets the attribute our datamodules use to say whether they augment.
    """

    mean = torch.tensor(0.0)
    std = torch.tensor(1.0)

    def __init__(
        self,
        kind: str = "multiclass",
        length: int = 8,
        size: int = 32,
        num_classes: int = 3,
        batch_size: int = 4,
        num_workers: int = 0,
        flip: bool = False,
        augment: bool | None = None,
        **kwargs: Any,
    ) -> None:
        self.kind, self.length, self.size = kind, length, size
        self.num_classes = num_classes
        super().__init__(_Synthetic, batch_size, num_workers, **kwargs)  # type: ignore[arg-type]
        if flip:
            self.train_aug = K.AugmentationSequential(
                K.RandomHorizontalFlip(), data_keys=None, keepdim=True
            )
        if augment is not None:
            self.augment = augment

    def setup(self, stage: str) -> None:
        args = (self.kind, self.length, self.size, self.num_classes)
        self.train_dataset = _Synthetic(*args, seed=0)
        self.val_dataset = _Synthetic(*args, seed=1)
        self.test_dataset = _Synthetic(*args, seed=2)
