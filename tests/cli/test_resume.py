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

from tests.cli.tiny import tiny_config
from torchgeo_composition.cli import main

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


@pytest.mark.slow
def test_sigterm_mid_epoch_keeps_step_and_schedule(
    uninterrupted: pd.DataFrame, tmp_path: Path
) -> None:
    # Killed after the first batch of epoch 1: last.ckpt is written at that batch.
    config = tiny_config(tmp_path / "fit.yaml", tmp_path / "run")
    killed = _fit_killed_at(config, 3, tmp_path)
    assert killed.returncode == 143, killed.stderr[-3000:]
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 3
    assert main(["fit", "--config", str(config), "--ckpt_path", "last"]) == 0
    resumed = pd.read_csv(tmp_path / "run" / CSV)
    train = resumed.dropna(subset=["train_loss"]).set_index("step")
    expected = uninterrupted.dropna(subset=["train_loss"]).set_index("step")
    assert list(train.index) == list(expected.index) == [0, 1, 2, 3, 4, 5]
    pd.testing.assert_series_equal(train["lr"], expected["lr"], rtol=1e-6)
    pd.testing.assert_series_equal(
        train["train_loss"].loc[:2], expected["train_loss"].loc[:2], rtol=1e-6
    )
