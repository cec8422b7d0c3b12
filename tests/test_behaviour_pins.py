"""Pinned outputs: refactoring must not change what the package computes.

The values below were recorded before the package was reorganised; the SatMAE
loss and the manifests must stay bit-identical for the same seed, and a short
SatMAE training run must follow the same loss and learning-rate curve.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from lightning.pytorch import Callback, LightningModule, Trainer, seed_everything

from tests.trainers.satmae_tiny import TINY_TASK, TinyImages
from torchgeo_composition.cli import main as cli_main
from torchgeo_composition.models import GroupChannelMAE
from torchgeo_composition.trainers import SatMAETask

TINY_MAE: dict[str, Any] = {
    "img_size": 16,
    "patch_size": 8,
    "in_chans": 5,
    "channel_groups": ((0, 3), (1, 2, 4)),
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "channel_embed": 8,
    "decoder_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
    "decoder_channel_embed": 8,
}

SATMAE_LOSS = {
    "independent": "0x1.5571c80000000p-1",
    "consistent": "0x1.5abcf80000000p-1",
}

MANIFEST_ROWS_SHA256 = {
    (
        "europe",
        40,
        3,
    ): "e67dba36e4c5608a96650e5f0f26387dc8cafc27f2b7c7f66d64bebdff44dc02",
    (
        "global",
        120,
        7,
    ): "faba4ab7a322ccfb72aec5dffb8c3b9ac6b7ca16281a829c47407b031bac6806",
}

TRAIN_LOSSES = [
    0.6145570874214172,
    0.6269304752349854,
    0.4184136688709259,
    0.27284085750579834,
    0.17642560601234436,
    0.12894904613494873,
]
TRAIN_LRS = [
    0.015625,
    0.03125,
    0.026673543456039804,
    0.015625,
    0.004576456543960196,
    0.0,
]


@pytest.mark.parametrize("masking", sorted(SATMAE_LOSS))
def test_satmae_loss_is_bit_identical(masking: str) -> None:
    torch.manual_seed(0)
    model = GroupChannelMAE(**TINY_MAE, masking=masking)
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(3, 5, 16, 16, generator=gen)
    torch.manual_seed(2)
    loss = model(images)[0]
    assert float(loss).hex() == SATMAE_LOSS[masking]


def _rows_sha256(path: Path) -> str:
    frame = pd.read_parquet(path)
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


@pytest.fixture(scope="module")
def demo_pool_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pool")


@pytest.mark.parametrize("case", sorted(MANIFEST_ROWS_SHA256))
def test_manifest_is_bit_identical(
    case: tuple[str, int, int], tmp_path: Path, demo_pool_root: Path
) -> None:
    composition, num_samples, seed = case
    out = tmp_path / "m.parquet"
    code = cli_main(
        [
            "compose",
            "--pool",
            "SyntheticSentinel2Pool",
            "--pool.root",
            str(demo_pool_root),
            "--pool.num_chips",
            "300",
            "--pool.size",
            "8",
            "--composition",
            composition,
            "--num_samples",
            str(num_samples),
            "--seed",
            str(seed),
            "--manifest_path",
            str(out),
        ]
    )
    assert code == 0
    assert _rows_sha256(out) == MANIFEST_ROWS_SHA256[case]


class _Record(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []
        self.lrs: list[float] = []

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        self.losses.append(float(outputs["loss"]))
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_satmae_training_curve_is_unchanged(tmp_path: Path) -> None:
    seed_everything(0)
    task = SatMAETask(
        **TINY_TASK, warmup_epochs=1, plot_every_n_epochs=0, blr=2.0, weight_decay=0.5
    )
    record = _Record()
    trainer = Trainer(
        max_epochs=3,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
        default_root_dir=tmp_path,
    )
    trainer.fit(task, TinyImages(num_samples=8, batch_size=4))
    assert record.lrs == pytest.approx(TRAIN_LRS, rel=1e-9, abs=1e-15)
    assert record.losses == pytest.approx(TRAIN_LOSSES, rel=1e-6)
