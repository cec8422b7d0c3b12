from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torchgeo.datasets import RasterDataset

from tests.data.chips import write_chip
from torchgeo_composition.datamodules import StratifiedRasterDataModule


@pytest.fixture
def rasters(tmp_path: Path) -> RasterDataset:
    for name, (lon, lat) in {"eu": (10.0, 50.0), "af": (20.0, 10.0)}.items():
        data = np.full((3, 64, 64), 500 if name == "eu" else 3000, dtype=np.uint16)
        write_chip(tmp_path / f"{name}.tif", lon, lat, crs="EPSG:4326", data=data)
    return RasterDataset(paths=tmp_path)


def test_batches_follow_composition(rasters: RasterDataset) -> None:
    dm = StratifiedRasterDataModule(
        rasters,
        composition={"europe": 3, "africa": 1},
        patch_size=8,
        length=16,
        val_length=4,
        batch_size=16,
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (16, 3, 8, 8)
    europe = int((batch["image"][:, 0, 0, 0] == 500).sum())
    assert europe == 12  # exact quota: 3/4 of 16
    assert len(dm.val_dataloader()) == 1


def test_bad_arguments(rasters: RasterDataset) -> None:
    with pytest.raises(ValueError, match="needs a mean per band"):
        StratifiedRasterDataModule(rasters, normalization="satmae")
    with pytest.raises(ValueError, match="normalization"):
        StratifiedRasterDataModule(rasters, normalization="zscore")  # type: ignore[arg-type]
    dm = StratifiedRasterDataModule(rasters, composition="oceania", patch_size=8)
    with pytest.raises(ValueError, match="oceania"):
        dm.setup("fit")


class _Values(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.values: dict[str, set[float]] = {"train": set(), "val": set()}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        self.values["train"] |= set(batch["image"][:, 0, 0, 0].tolist())
        return self.layer(batch["image"].mean().view(1, 1)).sum()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.values["val"] |= set(batch["image"][:, 0, 0, 0].tolist())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("normalization", ["standard", "none"])
def test_trainer_normalises_batches_on_the_device(
    rasters: RasterDataset, tmp_path: Path, normalization: str
) -> None:
    dm = StratifiedRasterDataModule(
        rasters,
        composition={"europe": 1, "africa": 1},
        patch_size=8,
        length=8,
        val_length=4,
        batch_size=4,
        normalization=normalization,  # type: ignore[arg-type]
        mean=[500.0, 0.0, 0.0],
        std=[2500.0, 1.0, 1.0],
    )
    probe = _Values()
    trainer = Trainer(
        fast_dev_run=1,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(probe, datamodule=dm)
    expected = {0.0, 1.0} if normalization == "standard" else {500.0, 3000.0}
    assert probe.values["train"] | probe.values["val"] <= expected
    assert probe.values["val"]
