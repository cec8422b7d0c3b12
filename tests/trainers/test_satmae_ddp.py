"""Two-process CPU DDP pretraining (gloo) through the ``fit`` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.tiny import tiny_config

ROOT = Path(__file__).resolve().parents[2]


def test_two_process_cpu_ddp(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    # Rank 1 reads samples 1, 3, 5, 7 first: all NaN, so it skips them while rank 0
    # trains; neither may wait for the other.
    config = tiny_config(
        tmp_path / "ddp.yaml",
        tmp_path / "run",
        devices=2,
        strategy="ddp",
        max_epochs=1,
        callbacks=[
            {
                "class_path": "tests.trainers.satmae_ddp_run.DdpReport",
                "init_args": {"out": str(out)},
            }
        ],
    )
    env = os.environ | {
        "PL_DISABLE_FORK": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    argv = ["fit", "--config", str(config), "--model.init_args.warmup_epochs=0"]
    argv += [
        "--data.init_args.num_samples=16",
        "--data.init_args.nan_rows=[1, 3, 5, 7]",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "torchgeo_composition.cli", *argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["world_size"] == 2
    # 4 per process x 2 processes = 8 -> 0.256 * 8 / 256
    assert result["peak_lr"] == pytest.approx(0.008)
    assert result["finite"] and result["steps"] == 2
    first, second = result["checksums"]
    assert first == pytest.approx(second)
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
