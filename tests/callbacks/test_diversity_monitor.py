from pathlib import Path

import pytest
import torch
import yaml
from entropy_tiny_task import STRATA, DictDataModule, TinyEntropyTask
from jsonargparse import ArgumentParser
from lightning.pytorch import Callback, Trainer
from torch import Tensor

from torchgeo_composition.callbacks import DiversityMonitor
from torchgeo_composition.diversity import (
    DiversityMeasure,
    SpectralEntropy,
    spectral_entropy,
)

ROOT = Path(__file__).parents[2]


class Brightness(DiversityMeasure):
    """A toy measure: the mean value of each sample."""

    name = "brightness"

    def per_sample(self, images: Tensor) -> Tensor:
        return images.double().mean(dim=(1, 2, 3))


def test_logs_every_measure(tmp_path: Path) -> None:
    dm = DictDataModule(n=12, batch_size=4)
    monitor = DiversityMonitor(measures=[SpectralEntropy(bins=16), Brightness()])
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[monitor],
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyEntropyTask(in_channels=3), dm)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    entropy = spectral_entropy(dm.images, bins=16).double()
    brightness = dm.images.double().mean(dim=(1, 2, 3))
    for name, values in (("spectral_entropy", entropy), ("brightness", brightness)):
        prefix = f"train_{name}"
        assert metrics[f"{prefix}/epoch_mean"] == pytest.approx(float(values.mean()))
        assert metrics[f"{prefix}/epoch_std"] == pytest.approx(float(values.std()))
        assert metrics[f"{prefix}/mean"] == pytest.approx(float(values[8:].mean()))
        assert metrics[f"{prefix}/epoch_empty"] == 0
        for stratum in STRATA:
            rows = [i for i in range(12) if STRATA[i % 3 == 0] == stratum]
            assert metrics[f"{prefix}/epoch_{stratum}"] == pytest.approx(
                float(values[rows].mean())
            )
    assert monitor.state_dict()["measures"] == {
        "spectral_entropy": {"bins": 16, "value_range": [0.0, 1.0]},
        "brightness": {},
    }


def test_refuses_duplicate_measures() -> None:
    with pytest.raises(ValueError, match="distinct names"):
        DiversityMonitor(measures=[SpectralEntropy(), SpectralEntropy(bins=8)])


def test_config_file_builds_the_measures() -> None:
    parser = ArgumentParser()
    parser.add_argument("--callbacks", type=list[Callback])
    config = yaml.safe_load((ROOT / "configs/callbacks/diversity.yaml").read_text())
    cfg = parser.parse_object({"callbacks": config["trainer"]["callbacks"]})
    instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
    monitor = instantiate(cfg).callbacks[0]
    assert isinstance(monitor, DiversityMonitor)
    (measure,) = monitor.measures
    assert isinstance(measure, SpectralEntropy)
    assert measure.settings == {"bins": 32, "value_range": [0.0, 1.0]}
    measure.update(torch.zeros(2, 1, 4, 4))
    assert float(measure.compute()["mean"]) == 0.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_run_logs_the_cpu_values(tmp_path: Path) -> None:
    dm = DictDataModule(n=12, batch_size=4)
    trainer = Trainer(
        accelerator="gpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[DiversityMonitor(measures=[SpectralEntropy(bins=16)])],
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyEntropyTask(in_channels=3), dm)
    values = spectral_entropy(dm.images, bins=16).double()
    mean = float(trainer.callback_metrics["train_spectral_entropy/epoch_mean"])
    assert mean == pytest.approx(float(values.mean()), rel=1e-6)


def test_logs_its_settings_and_the_recipe(tmp_path: Path) -> None:
    from lightning.pytorch.loggers import CSVLogger

    dm = DictDataModule(n=6, batch_size=3)
    monitor = DiversityMonitor(measures=[SpectralEntropy(bins=16)], every_n_steps=2)
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        logger=CSVLogger(tmp_path),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[monitor],
        default_root_dir=tmp_path,
    )
    trainer.fit(TinyEntropyTask(in_channels=3), dm)
    (hparams,) = tmp_path.glob("**/hparams.yaml")
    logged = yaml.safe_load(hparams.read_text())["diversity_monitor"]
    measure = logged["measures"]["spectral_entropy"]
    assert (measure["bins"], measure["value_range"]) == (16, [0.0, 1.0])
    assert logged["every_n_steps"] == 2
    assert logged["recipe"] == {"composition": "custom", "num_samples": 6}
    assert monitor.state_dict()["recipe"] == logged["recipe"]


def test_entropy_recipe_names_the_default_measure() -> None:
    monitor = DiversityMonitor(entropy_recipe="olmoearth")
    (measure,) = monitor.measures
    assert isinstance(measure, SpectralEntropy)
    assert (measure.bins, measure.value_range) == (100, (0.0, 10000.0))
    assert monitor.settings["entropy_recipe"] == "olmoearth"
    assert monitor.state_dict()["measures"]["spectral_entropy"]["recipe"] == "olmoearth"
    with pytest.raises(ValueError, match="applies to the default measure only"):
        DiversityMonitor(measures=[Brightness()], entropy_recipe="default")
    with pytest.raises(ValueError, match="entropy_recipe must be one of"):
        DiversityMonitor(entropy_recipe="nope")
