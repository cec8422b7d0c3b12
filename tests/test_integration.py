"""Our tasks with our datamodules, through a real Trainer with a logger."""

from pathlib import Path

import pytest
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger

from tests.data.pools import tiny_pool
from tests.trainers.satmae_tiny import TINY_TASK
from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.datamodules import ContinentStratifiedDataModule
from torchgeo_composition.trainers import SatMAETask


def _datamodule(tmp_path: Path, val_fraction: float) -> ContinentStratifiedDataModule:
    return ContinentStratifiedDataModule(
        pool=tiny_pool(tmp_path / "pool", size=16),
        composition="global",
        num_samples=12,
        manifest_path=str(tmp_path / "manifest.parquet"),
        val_fraction=val_fraction,
        batch_size=4,
        bands=list(SATMAE_BANDS),
        crop_size=16,
    )


@pytest.mark.parametrize("val_fraction", [0.0, 0.01, 0.5])
def test_satmae_with_logger_and_any_val_split(
    tmp_path: Path, val_fraction: float
) -> None:
    # The task leaves bands at its default while the datamodule names them: the
    # logger must not see conflicting hyperparameters, and a validation split that
    # rounds to no sample must not break fit.
    task = SatMAETask(**TINY_TASK)
    trainer = Trainer(
        max_steps=2,
        limit_val_batches=1,
        logger=CSVLogger(tmp_path / "logs"),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(task, datamodule=_datamodule(tmp_path, val_fraction))
    assert trainer.global_step == 2
    hparams = (Path(trainer.logger.log_dir) / "hparams.yaml").read_text()
    assert "mask_ratio" in hparams
