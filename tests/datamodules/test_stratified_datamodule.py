from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DistributedSampler

from tests.data.pools import tiny_pool
from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.datamodules import ContinentStratifiedDataModule
from torchgeo_composition.datasets import SyntheticSentinel2Pool
from torchgeo_composition.geography import INHABITED


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSentinel2Pool:
    return tiny_pool(tmp_path_factory.mktemp("pool"))


def _dm(pool: SyntheticSentinel2Pool, **kwargs: Any) -> ContinentStratifiedDataModule:
    args: dict[str, Any] = {
        "composition": "global",
        "num_samples": 30,
        "val_fraction": 0.2,
        "batch_size": 8,
        "bands": list(SATMAE_BANDS),
        "crop_size": 6,
    }
    return ContinentStratifiedDataModule(pool, **(args | kwargs))


def test_setup_split_and_batches(pool: SyntheticSentinel2Pool) -> None:
    dm = _dm(pool)
    dm.setup("fit")
    assert dm.bands == SATMAE_BANDS
    assert dm.manifest is not None and len(dm.manifest) == 30
    assert dm.summary is not None and dm.summary["num_samples"] == 30
    assert len(dm.train_dataset) == 24 and len(dm.val_dataset) == 6  # type: ignore[arg-type]
    assert sorted(dm.val_dataset.strata) == sorted(INHABITED)  # type: ignore[union-attr]
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, DistributedSampler)  # Lightning keeps it
    batch = next(iter(loader))
    assert batch["image"].shape == (8, 10, 8, 8)
    assert batch["lon"].shape == batch["lat"].shape == (8,)
    assert set(batch["continent"]) <= set(INHABITED)
    torch.manual_seed(0)
    train = dm.transform(batch, train=True)
    assert train["image"].shape == (8, 10, 6, 6)
    assert torch.isfinite(train["image"]).all()  # bicubic may overshoot [0, 1] a bit
    assert train["continent"] == batch["continent"]
    evaluation = dm.transform(batch)["image"]
    assert evaluation.shape == (8, 10, 6, 6)
    assert 0 <= float(evaluation.min()) and float(evaluation.max()) <= 1
    # deterministic
    dm2 = _dm(pool)
    dm2.setup("fit")
    assert dm2.val_dataset.positions == dm.val_dataset.positions  # type: ignore[union-attr]


def test_normalisations(pool: SyntheticSentinel2Pool) -> None:
    image = torch.full((2, 2, 4, 4), 1000.0)
    batch = {"image": image}
    std = _dm(
        pool, bands=["B2", "B3"], normalization="standard", mean=[1000, 0], std=[1, 10]
    )
    out = std.transform(batch)["image"]
    assert out.shape == (2, 2, 6, 6)
    assert out[:, 0].abs().max() < 1e-5 and out[:, 1].mean() == pytest.approx(100)
    none = _dm(pool, bands=["B2", "B3"], normalization="none", crop_size=None)
    assert torch.equal(none.transform(batch)["image"], image)


def test_bad_arguments(pool: SyntheticSentinel2Pool) -> None:
    with pytest.raises(ValueError, match=r"normalization 'minmax'.*satmae"):
        _dm(pool, normalization="minmax")
    with pytest.raises(ValueError, match=r"mean has 1 values.*10"):
        _dm(pool, mean=[1.0])
    with pytest.raises(ValueError, match=r"'B13'.*valid choices"):
        _dm(pool, bands=["B2", "B13"])
    with pytest.raises(ValueError, match="num_samples must be > 0, got 0"):
        _dm(pool, num_samples=0)
    with pytest.raises(ValueError, match="val_fraction"):
        _dm(pool, val_fraction=1.0)
    dm = _dm(pool, composition="europe", num_samples=50)
    with pytest.raises(ValueError, match="europe"):
        dm.setup("fit")


class _Probe(LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen: list[tuple[int, ...]] = []

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        assert isinstance(batch["continent"], list)  # passed through the pipeline
        assert batch["lon"].shape == batch["lat"].shape == (len(batch["continent"]),)
        self.seen.append(tuple(batch["image"].shape))
        return self.layer(batch["image"].mean().view(1, 1)).sum()

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self.seen.append(tuple(batch["image"].shape))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_applies_device_pipeline(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    dm = _dm(pool, manifest_path=str(tmp_path / "m.parquet"))
    probe = _Probe()
    trainer = Trainer(
        fast_dev_run=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(probe, datamodule=dm)
    assert probe.seen == [(8, 10, 6, 6), (6, 10, 6, 6)]
    assert (tmp_path / "m.parquet").exists()


def test_hyperparameters_are_logged(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    trainer = Trainer(
        max_steps=1,
        limit_val_batches=0,
        accelerator="cpu",
        logger=CSVLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(_Probe(), datamodule=_dm(pool, composition="europe", num_samples=8))
    assert trainer.log_dir is not None
    logged = yaml.safe_load((Path(trainer.log_dir) / "hparams.yaml").read_text())
    assert logged["composition"] == "europe"
    assert logged["num_samples"] == 8 and logged["normalization"] == "satmae"
