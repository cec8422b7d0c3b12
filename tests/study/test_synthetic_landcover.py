"""The synthetic land-cover task used as the demo study's downstream evaluation."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Subset

from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.datamodules import SyntheticLandCoverDataModule
from torchgeo_composition.datasets import SyntheticLandCover


def test_dataset_is_reproducible_labelled_and_band_selectable() -> None:
    a = SyntheticLandCover(num_samples=24, size=8, seed=3)
    b = SyntheticLandCover(num_samples=24, size=8, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    sample = a[0]
    assert sample["image"].shape == (13, 8, 8)
    assert sample["image"].dtype == torch.float32
    assert sample["label"].dtype == torch.int64
    assert set(a.labels.tolist()) <= set(range(len(SyntheticLandCover.classes)))
    assert len(set(a.labels.tolist())) >= 4  # classes are (nearly) balanced
    c = SyntheticLandCover(num_samples=24, size=8, seed=3, bands=["B4", "B8"])
    assert torch.equal(c.images, a.images[:, [3, 7]])
    assert not torch.equal(SyntheticLandCover(24, 8, seed=4).images, a.images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 3}, "num_samples must be >= 6"),
        ({"size": 2}, "size must be >= 4"),
        ({"bands": ["B99"]}, "B99"),
    ],
)
def test_dataset_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticLandCover(**kwargs)  # type: ignore[arg-type]


def test_datamodule_splits_and_normalises() -> None:
    dm = SyntheticLandCoverDataModule(
        num_samples=30, size=8, val_fraction=0.2, test_fraction=0.2, batch_size=4
    )
    assert dm.bands == SATMAE_BANDS
    dm.setup("fit")
    splits = [dm.train_dataset, dm.val_dataset, dm.test_dataset]
    assert all(isinstance(d, Subset) for d in splits)
    train, val, test = (set(d.indices) for d in splits if isinstance(d, Subset))
    assert len(train) == 18 and len(val) == 6 and len(test) == 6
    assert not (train & val or train & test or val & test)
    batch = next(iter(dm.train_dataloader()))
    out = dm.aug({"image": batch["image"]})["image"]
    assert out.shape == (4, 10, 8, 8)
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "must be < 1"),
        ({"bands": ["X1"]}, "no FMoW-Sentinel statistics"),
    ],
)
def test_datamodule_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticLandCoverDataModule(**kwargs)  # type: ignore[arg-type]
