"""Benchmark: the SatMAE ViT-B training step on a GPU, and the streamed feed into it.

On a CUDA device, measures one pretraining step of SatMAE ViT-B (96 px, patch 8,
10 bands in 3 groups, mask ratio 0.75) in bf16 autocast with fused attention
(PyTorch's scaled-dot-product attention, used by timm's blocks), optionally
with ``torch.compile``:

* step time (median of ``--steps`` after ``--warmup``), images/s;
* model FLOPs per step (forward + backward, counted by
  ``torch.utils.flop_counter.FlopCounterMode``) and MFU against the device's
  dense bf16 peak (a table of known devices, or ``--peak_tflops``);
* the streamed feed rate: images/s that ``StreamingStratifiedDataModule``
  delivers onto the device from a pack on local disk (``--pack``, or a synthetic
  pack written first), with ``--feed_workers`` loader workers, normalised on the
  device. The step is fed when the feed rate exceeds the step's images/s.

Prints the figures and writes them as JSON (``--json``). Without a CUDA device
it says so, writes ``{"skipped": ...}`` and exits 0.

Usage::

    python benchmarks/bench_gpu.py --json gpu.json                # ViT-B, batch 256
    python benchmarks/bench_gpu.py --compile --feed_workers 16
    python benchmarks/bench_gpu.py --quick                        # tiny model, smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Dense bf16 peak (TFLOP/s) by a substring of the device name.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A10G": 70.0,
    "L40S": 362.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
}

TINY = {"embed_dim": 64, "depth": 2, "num_heads": 2, "decoder_embed_dim": 64,
        "decoder_depth": 1, "decoder_num_heads": 2, "channel_embed": 16,
        "decoder_channel_embed": 16}  # fmt: skip


def _peak(name: str, given: float | None) -> float | None:
    if given is not None:
        return given
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in name:
            return value
    return None


def _train_step(model: Any, optimizer: Any, x: torch.Tensor) -> None:
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = model(x)[0]
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _time_steps(
    model: Any, optimizer: Any, x: torch.Tensor, warmup: int, steps: int
) -> float:
    for _ in range(warmup):
        _train_step(model, optimizer, x)
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _train_step(model, optimizer, x)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _flops(model: Any, optimizer: Any, x: torch.Tensor) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        _train_step(model, optimizer, x)
    return int(counter.get_total_flops())


def _write_pack(root: Path, chips: int, size: int) -> str:
    """A synthetic single-stratum pack of 10-band uint16 chips (via a ChipFolder)."""
    import rasterio
    from rasterio.transform import Affine

    from torchgeo_composition.bands import SATMAE_BANDS
    from torchgeo_composition.datasets import ChipFolder
    from torchgeo_composition.packing import pack
    from torchgeo_composition.sampling import build_manifest

    rng = np.random.default_rng(0)
    (root / "chips").mkdir(parents=True)
    for i in range(chips):
        x, y = 300_000 + 1000 * (i % 500), 5_500_000 + 1000 * (i // 500)
        with rasterio.open(
            root / "chips" / f"{i:06d}.tif", "w", driver="GTiff", width=size,
            height=size, count=10, dtype="uint16", crs="EPSG:32632",
            transform=Affine(10.0, 0.0, x, 0.0, -10.0, y),
        ) as dst:  # fmt: skip
            dst.write(rng.integers(0, 10_000, (10, size, size), dtype=np.uint16))
    pool = ChipFolder(root / "chips", all_bands=SATMAE_BANDS)
    manifest = str(root / "set.parquet")
    build_manifest(pool, "proportional", chips, seed=0, manifest_path=manifest)
    pack(pool, manifest, str(root / "pack"), num_workers=4, progress=False)
    return str(root / "pack")


def _feed_rate(location: str, batch: int, workers: int, batches: int) -> float:
    """Images/s delivered onto the device, normalised there."""
    from torchgeo_composition.datamodules import StreamingStratifiedDataModule

    dm = StreamingStratifiedDataModule(
        location, batch_size=batch, num_workers=workers, crop_size=96
    )
    dm.setup("fit")
    loader = dm.train_dataloader()
    n, start = 0, None
    for i, data in enumerate(loader):
        image = data["image"].pin_memory().to("cuda", non_blocking=True)
        out = dm.transform({**data, "image": image})
        if i == 1:  # workers started and first chunks read
            torch.cuda.synchronize()
            start, n = time.perf_counter(), 0
        elif start is not None:
            n += int(out["image"].shape[0])
        if i >= batches:
            break
    torch.cuda.synchronize()
    return n / (time.perf_counter() - start) if start and n else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model and pack")
    parser.add_argument("--batch", type=int, default=None, help="default 256 (8 quick)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--compile", action="store_true", help="also torch.compile")
    parser.add_argument("--pack", default=None, help="a pack of 96 px SatMAE chips")
    parser.add_argument("--chips", type=int, default=None, help="synthetic pack size")
    parser.add_argument("--feed_workers", type=int, default=8)
    parser.add_argument("--peak_tflops", type=float, default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        figures: dict[str, Any] = {"skipped": "no CUDA device"}
        print("bench_gpu: no CUDA device; nothing measured")
        if args.json:
            Path(args.json).write_text(json.dumps(figures))
        return

    from torchgeo_composition.models import create_satmae

    torch.backends.cuda.matmul.allow_tf32 = True
    batch = args.batch or (8 if args.quick else 256)
    steps, warmup = (3, 1) if args.quick else (args.steps, args.warmup)
    overrides = TINY if args.quick else {}
    name = torch.cuda.get_device_name()
    x = torch.rand(batch, 10, 96, 96, device="cuda")
    results: dict[str, Any] = {}
    flops = None
    for compiled in [False, True] if args.compile else [False]:
        model = create_satmae("satmae_vit_base_patch8_96", **overrides).cuda()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        if flops is None:
            flops = _flops(model, optimizer, x)
        step = model
        if compiled:
            step = torch.compile(model)
        seconds = _time_steps(step, optimizer, x, warmup, steps)
        results["compiled" if compiled else "eager"] = {
            "step_s": seconds,
            "images_per_s": batch / seconds,
            "tflops_per_s": flops / seconds / 1e12,
        }
        del model, optimizer, step
        torch.cuda.empty_cache()
    best = min(results.values(), key=lambda r: r["step_s"])
    peak = _peak(name, args.peak_tflops)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        chips = args.chips or (64 if args.quick else 4096)
        location = args.pack or _write_pack(Path(tmp), chips, 96)
        feed_batches = 4 if args.quick else 40
        feed = _feed_rate(location, batch, args.feed_workers, feed_batches)
    figures = {
        "device": name,
        "model": "SatMAE ViT-B/8 96 px, 10 bands, mask 0.75"
        + (" (tiny: --quick)" if args.quick else ""),
        "batch": batch,
        "flops_per_step": flops,
        "runs": results,
        "best": best,
        "peak_bf16_tflops": peak,
        "mfu": None if peak is None else best["tflops_per_s"] / peak,
        "feed_images_per_s": feed,
        "feed_workers": args.feed_workers,
        "fed": feed > best["images_per_s"],
        "targets": {"mfu": 0.4, "fed": True},
    }
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
