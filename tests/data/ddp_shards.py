"""Two-process (gloo, CPU) run of a datamodule's train loader, for sharding tests."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, dm: Any, out: str, port: str, epochs: int) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = port
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        loader = dm.train_dataloader()  # the sampler reads rank/world from the group
        report = []
        for epoch in range(epochs):
            loader.sampler.set_epoch(epoch)
            seen: list[list[float]] = []
            batches = 0
            for batch in loader:
                batches += 1
                seen += [
                    [float(a), float(b)]
                    for a, b in zip(batch["lon"], batch["lat"], strict=True)
                ]
            report.append(
                {"positions": list(loader.sampler), "batches": batches, "seen": seen}
            )
        dist.barrier()
        Path(out, f"rank{rank}.json").write_text(json.dumps(report))
    finally:
        dist.destroy_process_group()


def run_two_ranks(dm: Any, out: str | Path, port: str, epochs: int = 2) -> list[Any]:
    """Fork two ranks that iterate ``dm.train_dataloader()``; return their reports.

    ``dm`` must already be set up (``dm.setup("fit")``); forking reuses the
    imported modules, so the test stays fast.
    """
    mp.start_processes(
        _worker,
        args=(2, dm, str(out), port, epochs),
        nprocs=2,
        join=True,
        start_method="fork",
    )
    return [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(2)]
