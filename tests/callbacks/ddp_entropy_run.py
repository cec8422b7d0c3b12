"""Run the monitor under 2-process CPU DDP; each rank writes its metrics as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from entropy_tiny_task import DictDataModule, TinyEntropyTask
from lightning.pytorch import Trainer

from torchgeo_composition.callbacks import SpectralEntropyMonitor

if __name__ == "__main__":
    out = Path(sys.argv[1])
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        use_distributed_sampler=False,
        callbacks=[SpectralEntropyMonitor(bins=16)],
    )
    trainer.fit(
        TinyEntropyTask(in_channels=3), DictDataModule(n=12, batch_size=3, shard=True)
    )
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(metrics))
