"""Benchmark: GEO-Bench v1 reader throughput against a bare h5py read of the same files.

Writes a GEO-Bench v1 task in the real layout (m-eurosat: 13 int16 bands of
64 x 64 px per sample; m-cashew-plant for a segmentation task with its mask),
then reads every training sample of it

* through ``DataLoader(GeoBenchDataset(...), batch_size=32)`` (one process),
  which gives ``image`` float32, ``label`` or ``mask``, ``lon``, ``lat`` and
  ``continent`` per sample, and
* with a bare h5py loop in the same run: open each file, read every dataset
  (the bands, and the mask of a segmentation task), stack the bands as float32
  into a tensor and stack batches of the same size (what a model needs,
  nothing else: no metadata, no location).

Target: ratio (dataset samples per CPU second over bare samples per CPU second)
>= 0.8. Both are warmed up once (files in the OS cache) and timed in turn
``--repeats`` times; the best time of each counts. The ratio uses the process's
CPU time (robust on a shared machine); wall-clock figures are printed too. The
dataset reads every sample's metadata pickle once when it is built; that time
(per sample) is reported separately.

Usage::

    python benchmarks/bench_geobench.py            # 2,000 samples per task
    python benchmarks/bench_geobench.py --quick    # 200 samples
    python benchmarks/bench_geobench.py --samples 500
    python benchmarks/bench_geobench.py --json results/geobench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import DataLoader

from torchgeo_composition.datasets import GeoBenchDataset
from torchgeo_composition.datasets.geobench_fixture import make_geobench

TARGET_RATIO = 0.8


def bare_loop(paths: list[str], batch_size: int) -> int:
    """Baseline: open each file, read every dataset, stack float32 batches."""
    n = 0
    for start in range(0, len(paths), batch_size):
        images, masks = [], []
        for path in paths[start : start + batch_size]:
            with h5py.File(path, "r") as f:
                data = {k: f[k][()] for k in f}
            if "label" in data:
                masks.append(torch.from_numpy(data.pop("label").astype(np.int64)))
            bands = np.stack(list(data.values())).astype(np.float32)
            images.append(torch.from_numpy(bands))
        n += torch.stack(images).shape[0]
        if masks:
            torch.stack(masks)
    return n


def dataset_loop(dataset: GeoBenchDataset, batch_size: int) -> int:
    """GeoBenchDataset through a single-process DataLoader."""
    n = 0
    for batch in DataLoader(dataset, batch_size=batch_size, num_workers=0):
        n += batch["image"].shape[0]
    return n


def best_times(fns: list[Callable[[], Any]], repeats: int) -> list[tuple[float, float]]:
    """Warm each function up, then time them in turn; best (wall, CPU) of each."""
    for fn in fns:
        fn()
    times: list[list[tuple[float, float]]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, out in zip(fns, times, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [(min(w for w, _ in t), min(c for _, c in t)) for t in times]


def measure(root: Path, task: str, repeats: int, batch_size: int) -> dict[str, Any]:
    """Figures of one task."""
    start = time.perf_counter()
    dataset = GeoBenchDataset(root, task, split="train")
    t_index = time.perf_counter() - start
    paths = dataset.paths
    t_bare, t_ds = best_times(
        [
            lambda: bare_loop(paths, batch_size),
            lambda: dataset_loop(dataset, batch_size),
        ],
        repeats,
    )
    n = len(paths)
    return {
        "name": task,
        "samples": n,
        "image_shape": list(dataset[0]["image"].shape),
        "bare_h5py_samples_per_cpu_s": n / t_bare[1],
        "dataset_samples_per_cpu_s": n / t_ds[1],
        "bare_h5py_samples_per_s": n / t_bare[0],
        "dataset_samples_per_s": n / t_ds[0],
        "throughput_ratio": t_bare[1] / t_ds[1],
        "throughput_ratio_wall": t_bare[0] / t_ds[0],
        "throughput_ok": bool(t_bare[1] / t_ds[1] >= TARGET_RATIO),
        "metadata_read_ms_per_sample": 1000 * t_index / n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (< 30 s)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, help="training samples per task")
    args = parser.parse_args()
    torch.set_num_threads(1)
    samples = args.samples or (200 if args.quick else 2_000)
    tasks = ["m-eurosat", "m-cashew-plant"]
    with tempfile.TemporaryDirectory() as tmp:
        # half of the samples are in the training split
        make_geobench(tmp, tasks, num_samples=2 * samples, size=64)
        results = [measure(Path(tmp), t, args.repeats, 32) for t in tasks]
    figures = {
        "tasks": results,
        "throughput_target_ratio": TARGET_RATIO,
        "throughput_ok": all(r["throughput_ok"] for r in results),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "machine": platform.platform(),
    }
    print(
        "| task | bare h5py (samples/CPU s) | GeoBenchDataset | ratio (CPU) | "
        "ratio (wall) | metadata (ms/sample) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['name']} {r['image_shape']} | {r['bare_h5py_samples_per_cpu_s']:,.0f} "
            f"| {r['dataset_samples_per_cpu_s']:,.0f} | **{r['throughput_ratio']:.2f}** "
            f"| {r['throughput_ratio_wall']:.2f} | {r['metadata_read_ms_per_sample']:.2f} |"
        )
    print(
        f"target ratio >= {TARGET_RATIO}; load average {figures['load_average_1min']:.1f}"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
