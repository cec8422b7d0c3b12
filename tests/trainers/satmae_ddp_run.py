"""A callback that reports a two-process CPU DDP run for ``test_satmae_ddp.py``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from torchgeo_composition.trainers import SatMAETask


class DdpReport(Callback):
    """At the end of training, write what every rank ended with to ``out`` (rank 0)."""

    def __init__(self, out: str) -> None:
        self.out = out

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        assert isinstance(pl_module, SatMAETask)
        flat = torch.cat([p.detach().flatten() for p in pl_module.model.parameters()])
        checksum = torch.tensor([float(flat.sum())])
        gathered = trainer.strategy.all_gather(checksum)
        if trainer.is_global_zero:
            result = {
                "world_size": trainer.world_size,
                "peak_lr": pl_module.peak_lr,
                "finite": bool(torch.isfinite(flat).all()),
                "checksums": gathered.flatten().tolist(),
                "steps": trainer.global_step,
            }
            Path(self.out).write_text(json.dumps(result))
