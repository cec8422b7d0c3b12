"""Fit a recording module on a pack (for the streaming DDP and resume tests).

Run as a script: ``python tests/data/streaming_fit.py INPUT_DIR OUT [options]``.
Every rank appends the (lon, lat, stratum) of each training sample it sees to
``OUT/rank<r>.json`` after every step, so a killed run leaves what it saw.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from torchgeo_composition.datamodules import StreamingStratifiedDataModule


class Record(LightningModule):
    """Records the samples of every training step; learns nothing useful."""

    def __init__(self, out: str) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.out = Path(out)
        self.seen: list[list[Any]] = []
        self.batches = 0

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        self.seen += [
            [round(float(a), 5), round(float(b), 5), c]
            for a, b, c in zip(
                batch["lon"], batch["lat"], batch["continent"], strict=True
            )
        ]
        self.batches += 1
        path = self.out / f"rank{self.global_rank}.json"
        path.write_text(json.dumps({"seen": self.seen, "batches": self.batches}))
        return self.layer(batch["image"].float().mean().view(1, 1)).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class KillAt(Callback):
    """SIGKILL this process when training batch ``step`` is about to run."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer: Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("input_dir")
    parser.add_argument("out")
    parser.add_argument("--batch_size", type=int, default=2)
    parser.add_argument("--num_workers", type=int, default=0)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--num_nodes", type=int, default=1)
    parser.add_argument("--strategy", default="auto")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--kill_at", type=int, default=-1)
    parser.add_argument("--ckpt_path", default=None)
    parser.add_argument("--composition", default=None)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    composition = args.composition
    if composition is not None and composition.startswith("{"):
        composition = json.loads(composition)
    dm = StreamingStratifiedDataModule(
        args.input_dir, composition=composition, batch_size=args.batch_size,
        num_workers=args.num_workers, crop_size=None, normalization="none",
    )  # fmt: skip
    callbacks: list[Callback] = [
        ModelCheckpoint(dirpath=out / "ckpt", every_n_train_steps=1, save_last=True)
    ]
    if args.kill_at >= 0:
        callbacks.append(KillAt(args.kill_at))
    trainer = Trainer(
        accelerator="cpu", devices=args.devices, num_nodes=args.num_nodes,
        strategy=args.strategy, max_epochs=args.epochs, logger=False,
        callbacks=callbacks, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=out, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(Record(str(out)), datamodule=dm, ckpt_path=args.ckpt_path)


if __name__ == "__main__":
    main()
