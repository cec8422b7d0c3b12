"""Benchmark: compose a 700,000-sample manifest from a 1,000,000-sample pool index.

Times :func:`torchgeo_composition.sampling.select` (quotas, draws, fingerprint,
summary) and :func:`~torchgeo_composition.sampling.write_manifest` (Parquet +
JSON, atomic) on a synthetic pool whose strata are pre-assigned, and compares
them with a naive baseline measured in the same run: a per-sample Python loop
that groups rows by stratum, ``random.sample`` per stratum, and
``DataFrame.to_parquet`` with default settings. Prints a Markdown table.

Usage::

    python benchmarks/bench_compose.py            # 1,000,000 -> 700,000
    python benchmarks/bench_compose.py --quick    # 50,000 -> 35,000
    python benchmarks/bench_compose.py --json results/compose.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from torchgeo_composition.geography import INHABITED
from torchgeo_composition.sampling import (
    Composition,
    largest_remainder,
    select,
    write_manifest,
)

TARGET_S = 5.0


def make_pool(size: int, seed: int = 0) -> pd.DataFrame:
    """A synthetic pool index with pre-assigned continent strata."""
    rng = np.random.default_rng(seed)
    ids = pd.Series(np.arange(size)).map("{:08d}".format)
    strata = np.asarray([*INHABITED, "antarctica"], dtype=object)
    return pd.DataFrame(
        {
            "sample_id": ids,
            "path": "pool/chips/" + ids + ".tif",
            "lon": rng.uniform(-180, 180, size),
            "lat": rng.uniform(-90, 90, size),
            "stratum": strata[rng.integers(0, len(strata), size)],
        }
    )


def naive_compose(pool: pd.DataFrame, num_samples: int, seed: int, out: Path) -> None:
    """Baseline: per-sample Python loop, random.sample, default to_parquet."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in pool.to_dict("records"):
        groups.setdefault(row["stratum"], []).append(row)
    quotas = largest_remainder(Composition("global").weights(), num_samples)
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for name in sorted(quotas):
        rows.extend(rng.sample(groups[name], quotas[name]))
    pd.DataFrame(rows).to_parquet(out)


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (< 20 s)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats")
    args = parser.parse_args(argv)
    pool_size = 50_000 if args.quick else 1_000_000
    num_samples = pool_size * 7 // 10
    repeats = args.repeats or (1 if args.quick else 3)

    pool = make_pool(pool_size)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        select_s, selection = timed(
            lambda: select(pool, "global", num_samples, seed=0), repeats
        )
        write_s, _ = timed(
            lambda: write_manifest(selection, out / "manifest.parquet"), repeats
        )
        baseline_s, _ = timed(
            lambda: naive_compose(pool, num_samples, 0, out / "naive.parquet"), 1
        )
    total_s = select_s + write_s
    figures: dict[str, Any] = {
        "pool_size": pool_size,
        "num_samples": num_samples,
        "repeats": repeats,
        "select_s": round(select_s, 3),
        "write_s": round(write_s, 3),
        "total_s": round(total_s, 3),
        "baseline_s": round(baseline_s, 3),
        "speedup_vs_baseline": round(baseline_s / total_s, 1),
        "target_s": TARGET_S,
        "meets_target": bool(args.quick or total_s < TARGET_S),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    print(f"Compose {num_samples:,} of {pool_size:,} (global, median of {repeats})\n")
    print("| step | seconds | ratio |")
    print("|---|---:|---:|")
    print(f"| select (quotas, draws, fingerprint) | {select_s:.3f} | |")
    print(f"| write manifest (Parquet + JSON) | {write_s:.3f} | |")
    print(f"| total | {total_s:.3f} | {total_s / TARGET_S:.2f} of the 5 s target |")
    print(
        f"| naive baseline (Python loop) | {baseline_s:.3f} | "
        f"{baseline_s / total_s:.1f}x slower |"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return figures


if __name__ == "__main__":
    main()
