"""Kill ``fit`` with SIGTERM, resume with ``--ckpt_path last``: the run goes on as if
it had never stopped (step, learning rate, loss, logged rows)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tests.cli.tiny import tiny_config
from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import SyntheticSentinel2Pool

ROOT = Path(__file__).resolve().parents[2]
CSV = Path("lightning_logs/version_0/metrics.csv")


def _fit_killed_at(
    config: Path, step: int, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run fit in a subprocess that sends itself SIGTERM after step ``step``."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    argv = ["fit", "--config", str(config)]
    argv += ["--trainer.callbacks+=tests.cli.tiny.SigtermAt"]
    argv += [f"--trainer.callbacks.step={step}"]
    return subprocess.run(
        [sys.executable, "-m", "torchgeo_composition.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("uninterrupted")
    config = tiny_config(root / "fit.yaml", root / "run")
    assert main(["fit", "--config", str(config)]) == 0
    return pd.read_csv(root / "run" / CSV)


def test_sigterm_then_resume_continues_the_run(
    uninterrupted: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 2 batches per epoch: step 4 ends epoch 1, killed there, 2 more steps to go.
    config = tiny_config(tmp_path / "fit.yaml", tmp_path / "run")
    killed = _fit_killed_at(config, 4, tmp_path)
    assert killed.returncode == 143, killed.stderr[-3000:]
    assert "--ckpt_path last" in killed.stderr
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 4
    before = pd.read_csv(tmp_path / "run" / CSV)
    assert before["step"].max() == 3  # steps 0-3 logged, then stopped

    assert main(["fit", "--config", str(config), "--ckpt_path", "last"]) == 0
    resumed = pd.read_csv(tmp_path / "run" / CSV)
    # same rows: the earlier ones kept, the later ones continue the curve exactly
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=False, rtol=1e-6)
    assert resumed["step"].max() == 5 and resumed["train_loss"].notna().sum() == 6
    assert not (tmp_path / "run" / "lightning_logs" / "version_1").exists()
    assert torch.load(last, weights_only=True)["global_step"] == 6


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    SyntheticSentinel2Pool(root, num_chips=48, size=16, seed=0)
    return root


def _stratified_config(path: Path, root: Path, pool: Path) -> Path:
    """The tiny fit config on a ContinentStratifiedDataModule over ``pool``."""
    tiny_config(path, root, max_epochs=2)
    config = yaml.safe_load(path.read_text())
    config["data"] = {
        "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule",
        "init_args": {
            "pool": {
                "class_path": "torchgeo_composition.datasets.SyntheticSentinel2Pool",
                "init_args": {"root": str(pool), "num_chips": 48, "size": 16},
            },
            "composition": "proportional",
            "num_samples": 24,
            "val_fraction": 0.25,
            "batch_size": 4,
            "crop_size": 16,
            "bands": list(SATMAE_BANDS),
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_sigterm_mid_epoch_continues_the_loss_curve(pool: Path, tmp_path: Path) -> None:
    # 18 training chips in 5 batches per epoch, 2 epochs: killed after the third
    # batch of epoch 1 (step 8), last.ckpt is written at that batch.
    base = _stratified_config(tmp_path / "base.yaml", tmp_path / "base", pool)
    assert main(["fit", "--config", str(base)]) == 0
    expected = pd.read_csv(tmp_path / "base" / CSV)
    assert expected["train_loss"].notna().sum() == 10

    config = _stratified_config(tmp_path / "fit.yaml", tmp_path / "run", pool)
    killed = _fit_killed_at(config, 8, tmp_path)
    assert killed.returncode == 143, killed.stderr[-3000:]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 8
    assert main(["fit", "--config", str(config), "--ckpt_path", "last"]) == 0
    resumed = pd.read_csv(tmp_path / "run" / CSV)
    # every row (step, epoch, lr, train and validation losses) as if never stopped
    pd.testing.assert_frame_equal(resumed, expected, check_exact=False, rtol=1e-6)
    train = resumed.dropna(subset=["train_loss"])
    assert list(train["step"]) == list(range(10))
