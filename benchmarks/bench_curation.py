"""Benchmark: the pool entropy index and selection by entropy strategies.

1. Pool entropy index: reads every chip of a demo pool once through a
   ``DataLoader`` with nothing else (the baseline), then builds the pool entropy
   index of the same chips (``build_entropy_index``: read, normalise, histogram)
   in the same run, one process, one torch thread. Target: index chips/s per
   core at least 0.8x of the baseline (the entropy costs little next to the
   reading). The ratio uses the CPU time of the process; the best of
   ``--repeats`` runs counts.
2. Selection: draws a 700,000-sample set (``proportional`` over six strata)
   from a synthetic 1,000,000-sample index with entropies by every strategy,
   with the library's selection code (``sampling.select``). Target: under 5 s
   each. Both the CPU time of the process (robust on a loaded machine: the
   selection is single-threaded) and the wall-clock time are reported, the
   best of ``--repeats`` draws each.

A table of the figures is printed after the JSON.

Usage::

    python benchmarks/bench_curation.py                 # 600 chips of 32 px; 1,000,000-sample index
    python benchmarks/bench_curation.py --quick         # 120 chips; 100,000-sample index
    python benchmarks/bench_curation.py --json results/curation.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from torchgeo_composition.datamodules.entropy_index import build_entropy_index
from torchgeo_composition.datasets import SyntheticSentinel2Pool
from torchgeo_composition.sampling import select

STRATA = ("africa", "asia", "europe", "north_america", "oceania", "south_america")


def _cpu() -> float:
    return time.process_time()


def _read_all(pool: SyntheticSentinel2Pool, batch_size: int) -> None:
    loader = DataLoader(
        pool, batch_size=batch_size, collate_fn=lambda b: [s["image"] for s in b]
    )
    for _ in loader:
        pass


def bench_index(chips: int, size: int, repeats: int) -> dict[str, Any]:
    """Chips/s of reading alone and of building the entropy index."""
    root = Path(tempfile.mkdtemp(prefix="bench_curation_"))
    try:
        pool = SyntheticSentinel2Pool(root / "pool", num_chips=chips, size=size)
        _read_all(pool, 64)  # warm the OS cache
        read, index = [], []
        for i in range(repeats):
            start = _cpu()
            _read_all(pool, 64)
            read.append(_cpu() - start)
            target = root / f"index{i}.parquet"
            start = _cpu()
            build_entropy_index(pool, index_path=target, progress=False)
            index.append(_cpu() - start)
        read_rate, index_rate = chips / min(read), chips / min(index)
        return {
            "chips": chips,
            "size": size,
            "read_chips_per_s": read_rate,
            "index_chips_per_s": index_rate,
            "ratio": index_rate / read_rate,
            "target_ratio": 0.8,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_select(pool_size: int, set_size: int, repeats: int) -> dict[str, Any]:
    """Seconds (CPU and wall clock) to draw ``set_size`` samples by every strategy."""
    rng = np.random.default_rng(0)
    ids = [f"s{i:07d}" for i in range(pool_size)]
    index = pd.DataFrame(
        {
            "sample_id": ids,
            "path": ids,
            "lon": rng.uniform(-180, 180, pool_size),
            "lat": rng.uniform(-60, 80, pool_size),
            "stratum": rng.choice(STRATA, pool_size),
            "spectral_entropy": rng.gamma(4.0, 0.4, pool_size),
        }
    )
    reference = rng.gamma(5.0, 0.4, 10_000)
    cases: dict[str, dict[str, Any]] = {
        "random": {},
        "entropy_top": {"selection": "entropy_top"},
        "entropy_range": {
            "selection": "entropy_range",
            "entropy_range": ["q0.1", "q1"],
        },
        "entropy_uniform": {"selection": "entropy_uniform"},
        "entropy_matched": {
            "selection": "entropy_matched",
            "reference_entropy": reference,
        },
    }
    cpu_seconds, wall_seconds = {}, {}
    for name, kwargs in cases.items():
        cpu, wall = [], []
        for _ in range(repeats):
            start, wall_start = _cpu(), time.perf_counter()
            selected = select(index, "proportional", set_size, seed=0, **kwargs)
            cpu.append(_cpu() - start)
            wall.append(time.perf_counter() - wall_start)
        if len(selected.manifest) != set_size:
            raise RuntimeError(f"{name} drew {len(selected.manifest)} samples")
        cpu_seconds[name], wall_seconds[name] = min(cpu), min(wall)
    return {
        "pool_size": pool_size,
        "set_size": set_size,
        "cpu_seconds": cpu_seconds,
        "wall_seconds": wall_seconds,
        "target_seconds": 5.0,
    }


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    index, chosen = results["index"], results["select"]
    rows = [
        "| figure | value | target |",
        "| --- | --- | --- |",
        f"| read the chips alone ({index['chips']} of {index['size']} px) | "
        f"{index['read_chips_per_s']:,.0f} chips/CPU-s | baseline |",
        f"| build the pool entropy index | {index['index_chips_per_s']:,.0f} "
        f"chips/CPU-s | |",
        f"| index / read | **{index['ratio']:.2f}x** | >= 0.8x |",
    ]
    for name, cpu in chosen["cpu_seconds"].items():
        rows.append(
            f"| select {chosen['set_size']:,} of {chosen['pool_size']:,}: `{name}` | "
            f"{cpu:.2f} s CPU ({chosen['wall_seconds'][name]:.2f} s wall) | < 5 s |"
        )
    return "\n".join(rows)


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs")
    parser.add_argument("--json", type=str, default=None, help="output file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    chips, size = (120, 32) if args.quick else (600, 32)
    pool_size = 100_000 if args.quick else 1_000_000
    results = {
        "index": bench_index(chips, size, args.repeats),
        "select": bench_select(pool_size, int(pool_size * 0.7), args.repeats),
    }
    print(json.dumps(results, indent=2))
    print(table(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
