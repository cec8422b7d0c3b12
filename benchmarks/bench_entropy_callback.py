"""Benchmark: overhead of ``SpectralEntropyMonitor`` on a SatMAE ViT-B training step.

One Lightning run of :class:`~torchgeo_composition.trainers.SatMAETask` (ViT-B
group-channel SatMAE, 10 bands, 96 px, batch 8, CPU) with the monitor measuring
every step. A timing callback listed before the monitor stamps the start of each
training batch, the monitor's ``on_train_batch_start`` is timed on its own, and the
end of the batch is stamped in ``on_train_batch_end``. Overhead = time in the
monitor / time of the rest of the step, over the steps after the first (warm-up).

Target: overhead <= 2%.

Usage::

    python benchmarks/bench_entropy_callback.py            # ViT-B, 5 timed steps
    python benchmarks/bench_entropy_callback.py --quick    # tiny model, < 20 s
    python benchmarks/bench_entropy_callback.py --json results/entropy_callback.json
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Callback, LightningDataModule, LightningModule, Trainer
from torch.utils.data import DataLoader, Dataset

from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.callbacks import SpectralEntropyMonitor
from torchgeo_composition.trainers import SatMAETask

TARGET_OVERHEAD = 0.02
CONTINENTS = ("africa", "asia", "europe", "north_america", "oceania", "south_america")


class RandomChips(Dataset[dict[str, Any]]):
    """Seeded random 10-band chips in [0, 1] with a continent label."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        gen = torch.Generator().manual_seed(i)
        image = torch.rand(len(SATMAE_BANDS), self.size, self.size, generator=gen)
        return {"image": image, "continent": CONTINENTS[i % len(CONTINENTS)]}


class RandomChipsDataModule(LightningDataModule):
    """Serves :class:`RandomChips` with a ``bands`` attribute, like our datamodules."""

    def __init__(self, n: int, size: int, batch_size: int) -> None:
        super().__init__()
        self.bands = SATMAE_BANDS
        self.batch_size = batch_size
        self.dataset = RandomChips(n, size)

    def train_dataloader(self) -> DataLoader[dict[str, Any]]:
        """Return the training loader."""
        return DataLoader(self.dataset, batch_size=self.batch_size)


class TimedMonitor(SpectralEntropyMonitor):
    """The monitor, recording the wall time of its batch hook."""

    times: list[float]

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Run and time the monitor's hook."""
        start = time.perf_counter()
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)
        self.times.append(time.perf_counter() - start)


class StepTimer(Callback):
    """Stamps the start and end of each training batch."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.times: list[float] = []

    def on_train_batch_start(self, *args: Any) -> None:
        """Stamp the start of the batch."""
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, *args: Any) -> None:
        """Record the duration of the batch."""
        self.times.append(time.perf_counter() - self.starts[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model (< 20 s)")
    parser.add_argument("--json", type=Path, default=None, help="write figures here")
    parser.add_argument("--steps", type=int, default=6, help="steps, the first untimed")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    size = 32 if args.quick else 96
    overrides: dict[str, Any] = {"img_size": size}
    if args.quick:
        overrides |= {
            "embed_dim": 64,
            "depth": 2,
            "num_heads": 4,
            "channel_embed": 16,
            "decoder_embed_dim": 32,
            "decoder_depth": 1,
            "decoder_num_heads": 4,
            "decoder_channel_embed": 8,
        }
    task = SatMAETask(
        model="satmae_vit_base_patch8_96", plot_every_n_epochs=0, **overrides
    )
    timer = StepTimer()
    monitor = TimedMonitor(bins=32, every_n_steps=1)
    monitor.times = []
    steps = 3 if args.quick else args.steps
    trainer = Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer, monitor],
    )
    data = RandomChipsDataModule(steps * args.batch_size, size, args.batch_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(task, data)
    step = sum(timer.times[1:]) / len(timer.times[1:])
    hook = sum(monitor.times[1:]) / len(monitor.times[1:])
    overhead = hook / (step - hook)
    res = {
        "model": "satmae_vit_base_patch8_96"
        + (" (tiny overrides)" if args.quick else ""),
        "image_size": size,
        "batch_size": args.batch_size,
        "timed_steps": len(timer.times) - 1,
        "torch_threads": torch.get_num_threads(),
        "step_without_monitor_s": step - hook,
        "monitor_s": hook,
        "overhead": overhead,
        "target_overhead": TARGET_OVERHEAD,
        "passed": overhead <= TARGET_OVERHEAD,
    }
    print(
        f"SatMAE {res['model']}, {size} px, batch {args.batch_size}, CPU, "
        f"{res['torch_threads']} threads, {res['timed_steps']} timed steps"
    )
    print()
    print("| part | time per step (ms) | ratio |")
    print("|---|---:|---:|")
    print(
        f"| training step (forward, backward, optimiser) | {1e3 * (step - hook):.1f} | 1.0 |"
    )
    print(f"| SpectralEntropyMonitor | {1e3 * hook:.2f} | {100 * overhead:.2f}% |")
    print()
    print(
        f"overhead {100 * overhead:.2f}% (target <= {100 * TARGET_OVERHEAD:.0f}%): "
        f"{'PASS' if res['passed'] else 'FAIL'}"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
