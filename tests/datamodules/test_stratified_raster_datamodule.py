from pathlib import Path

import numpy as np
import pytest
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
    with pytest.raises(ValueError, match="mean and std are required"):
        StratifiedRasterDataModule(rasters, normalization="satmae")
    with pytest.raises(ValueError, match="normalization"):
        StratifiedRasterDataModule(rasters, normalization="zscore")  # type: ignore[arg-type]
    dm = StratifiedRasterDataModule(rasters, composition="oceania", patch_size=8)
    with pytest.raises(ValueError, match="oceania"):
        dm.setup("fit")
