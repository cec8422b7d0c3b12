import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from entropy_tiny_task import STRATA, DictDataModule, TinyEntropyTask
from lightning.pytorch import Trainer
from lightning.pytorch.loggers import TensorBoardLogger

from torchgeo_composition.callbacks import (
    CompositionSummary,
    SpectralEntropyMonitor,
    read_checkpoint_composition,
)
from torchgeo_composition.diversity import spectral_entropy

HERE = Path(__file__).parent


def _expected(values: torch.Tensor, prefix: str, tag: str = "") -> dict[str, float]:
    v = values.double()
    out = {f"{prefix}/{tag}mean": float(v.mean()), f"{prefix}/{tag}std": float(v.std())}
    return out


def _stratum(i: int) -> str:
    return STRATA[i % 3 == 0]


def test_logs_batch_epoch_and_strata(tmp_path: Path) -> None:
    dm = DictDataModule(n=12, batch_size=4)
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        log_every_n_steps=1,
        logger=TensorBoardLogger(tmp_path, name="tb"),
        default_root_dir=tmp_path,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[SpectralEntropyMonitor(bins=16), CompositionSummary()],
    )
    trainer.fit(TinyEntropyTask(in_channels=3), dm)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    values = spectral_entropy(dm.images, bins=16)
    prefix = "train_spectral_entropy"
    # last step = samples 8..11, epoch = all samples
    for key, value in (
        _expected(values[8:], prefix) | _expected(values, prefix, "epoch_")
    ).items():
        assert metrics[key] == pytest.approx(value, rel=1e-6), key
    for name in STRATA:
        rows = [i for i in range(12) if _stratum(i) == name]
        assert metrics[f"{prefix}/epoch_{name}"] == pytest.approx(
            float(values[rows].double().mean()), rel=1e-6
        )
    assert f"{prefix}/epoch_other" not in metrics
    # histogram and composition went to TensorBoard
    events = list((tmp_path / "tb").rglob("events.out.tfevents*"))
    assert events
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events[0].parent), size_guidance={"histograms": 0})
    acc.Reload()
    assert f"{prefix}/per_sample" in acc.Tags()["histograms"]
    assert "composition/count/europe" in acc.Tags()["scalars"]
    assert "composition/map" in acc.Tags()["images"]
    assert next((tmp_path / "tb").rglob("composition_map.png")).stat().st_size > 0
    # the checkpoint knows its composition
    ckpt = next((tmp_path / "tb").rglob("*.ckpt"))
    assert read_checkpoint_composition(ckpt) == dm.summary


def test_every_n_steps_and_no_strata(tmp_path: Path) -> None:
    dm = DictDataModule(n=12, batch_size=2)
    monitor = SpectralEntropyMonitor(every_n_steps=3, per_stratum=False, bands=[0, 2])
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
    measured = [0, 1, 6, 7]  # batches 0 and 3 of size 2
    values = spectral_entropy(dm.images[measured][:, [0, 2]])
    assert metrics["train_spectral_entropy/epoch_mean"] == pytest.approx(
        float(values.double().mean()), rel=1e-6
    )
    assert not any(k.endswith(("/europe", "/africa")) for k in metrics)


def test_bad_arguments_and_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="every_n_steps"):
        SpectralEntropyMonitor(every_n_steps=0)
    with pytest.raises(ValueError, match="bins"):
        SpectralEntropyMonitor(bins=1)
    with pytest.raises(ValueError, match="inverted"):
        SpectralEntropyMonitor(value_range=(1.0, 0.0))
    with pytest.raises(FileNotFoundError, match="manifest_path"):
        CompositionSummary(manifest_path=str(tmp_path / "missing.parquet"))
    trainer = Trainer(
        accelerator="cpu",
        fast_dev_run=True,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[SpectralEntropyMonitor(key="rgb")],
        default_root_dir=tmp_path,
    )
    with pytest.raises(ValueError, match="'rgb'"):
        trainer.fit(TinyEntropyTask(in_channels=3), DictDataModule())


def test_ddp_values_equal_single_process(tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    subprocess.run(
        [sys.executable, str(HERE / "ddp_entropy_run.py"), str(tmp_path)],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        capture_output=True,
    )
    dm = DictDataModule(n=12, batch_size=3)
    values = spectral_entropy(dm.images, bins=16)
    # rank 0 reads samples 0..5, rank 1 samples 6..11, in batches of 3: the last
    # step of both ranks together covers samples 3, 4, 5, 9, 10, 11.
    prefix = "train_spectral_entropy"
    last = [3, 4, 5, 9, 10, 11]
    expected = _expected(values[last], prefix) | _expected(values, prefix, "epoch_")
    for name in STRATA:
        rows = [i for i in range(12) if _stratum(i) == name]
        expected[f"{prefix}/epoch_{name}"] = float(values[rows].double().mean())
    for rank in (0, 1):
        metrics = json.loads((tmp_path / f"rank{rank}.json").read_text())
        for key, value in expected.items():
            assert metrics[key] == pytest.approx(value, rel=1e-6), (rank, key)
    assert not math.isnan(expected[f"{prefix}/epoch_std"])


class _RawDataModule(DictDataModule):
    """Digital numbers (0..10000), and the normalization the datamodules record."""

    def __init__(self, normalization: str) -> None:
        super().__init__(n=6, batch_size=6)
        self.images = (self.images * 10_000).round()
        self.save_hyperparameters({"normalization": normalization})


def _fit(
    tmp_path: Path, monitor: SpectralEntropyMonitor, dm: DictDataModule
) -> Trainer:
    trainer = Trainer(
        accelerator="cpu", max_epochs=1, log_every_n_steps=1, logger=False,
        default_root_dir=tmp_path, enable_progress_bar=False,
        enable_model_summary=False, enable_checkpointing=False, callbacks=[monitor],
    )  # fmt: skip
    trainer.fit(TinyEntropyTask(in_channels=3), dm)
    return trainer


def test_entropy_recipe_by_name_is_measured_and_recorded(tmp_path: Path) -> None:
    monitor = SpectralEntropyMonitor(entropy_recipe="olmoearth")
    assert (monitor.bins, monitor.value_range) == (100, (0.0, 10000.0))
    assert monitor.state_dict()["entropy_recipe"] == "olmoearth"
    assert monitor.settings["measures"]["spectral_entropy"]["recipe"] == "olmoearth"
    dm = _RawDataModule("none")
    trainer = _fit(tmp_path, monitor, dm)
    expected = spectral_entropy(dm.images, recipe="olmoearth").double().mean()
    logged = float(trainer.callback_metrics["train_spectral_entropy/epoch_mean"])
    assert logged == pytest.approx(float(expected), rel=1e-6)
    assert SpectralEntropyMonitor().state_dict()["entropy_recipe"] is None


def test_entropy_recipe_refused_when_the_batches_do_not_fit_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"entropy_recipe must be one of \['default'"):
        SpectralEntropyMonitor(entropy_recipe="shannon")
    with pytest.raises(ValueError, match="sets bins and value_range"):
        SpectralEntropyMonitor(entropy_recipe="olmoearth", bins=16)
    with pytest.raises(ValueError, match=r"normalization is 'satmae'.*'none'"):
        _fit(tmp_path, SpectralEntropyMonitor(entropy_recipe="olmoearth"),
             _RawDataModule("satmae"))  # fmt: skip
