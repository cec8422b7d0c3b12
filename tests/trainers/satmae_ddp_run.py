"""Two-process CPU DDP pretraining run for ``test_satmae_ddp.py`` (gloo)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from lightning.pytorch import Trainer

sys.path.insert(0, str(Path(__file__).parent))
from satmae_tiny import TINY_TASK, TinyImages

from torchgeo_composition.trainers import SatMAETask


def main(out: str) -> None:
    torch.set_num_threads(1)
    task = SatMAETask(**TINY_TASK, blr=0.256, warmup_epochs=0, plot_every_n_epochs=0)
    # Rank 1 reads samples 1, 3, 5, 7 first (and 1, 3 in validation): all NaN, so it
    # skips them while rank 0 trains; neither may wait for the other.
    data = TinyImages(num_samples=16, batch_size=4, nan_rows=[1, 3, 5, 7])
    trainer = Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(Path(out).parent),
    )
    trainer.fit(task, data)
    flat = torch.cat([p.detach().flatten() for p in task.model.parameters()])
    checksum = torch.tensor([float(flat.sum())])
    gathered = trainer.strategy.all_gather(checksum)
    if trainer.is_global_zero:
        result = {
            "world_size": trainer.world_size,
            "peak_lr": task._peak_lr,
            "finite": bool(torch.isfinite(flat).all()),
            "checksums": gathered.flatten().tolist(),
            "steps": trainer.global_step,
        }
        Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
