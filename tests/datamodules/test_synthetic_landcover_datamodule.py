"""The datamodule of the synthetic land-cover task (demo study downstream)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Subset

from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.datamodules import SyntheticLandCoverDataModule


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
    out = dm.aug(dict(batch))  # what TorchGeo's on_after_batch_transfer applies
    assert out["image"].shape == (4, 10, 8, 8)
    assert 0.0 <= float(out["image"].min()) and float(out["image"].max()) <= 1.0
    assert torch.equal(out["label"], batch["label"])


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
