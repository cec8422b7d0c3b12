"""Benchmark: k-NN probe on features vs the blocked matrix multiply it rests on.

A k-NN probe classifies ``--test`` features by their ``--k`` most cosine-similar
``--train`` features (``--dim``-d, random, 10 classes) with
:func:`torchgeo_composition.evaluation.knn_predict`: per block of test rows one
matrix multiply against all training features, then ``torch.topk`` and the
weighted vote. The baseline is the bare blocked matrix multiply of the same
(already normalised) features with the same block size, with no top-k and no
vote. Both run in the same process, each ``--repeats`` times (best counts);
throughput is test rows per second.
Target: ratio (k-NN throughput / matrix-multiply throughput) >= 0.5.

Usage::

    python benchmarks/bench_knn.py                 # 100,000 x 20,000, 768-d
    python benchmarks/bench_knn.py --quick         # 10,000 x 1,000, 768-d
    python benchmarks/bench_knn.py --json results/knn.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import torch

from torchgeo_composition.evaluation import knn_predict

TARGET_RATIO = 0.5


def run(
    train: int, test: int, dim: int, k: int, block_size: int, repeats: int
) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(0)
    train_x = torch.randn(train, dim, generator=gen)
    test_x = torch.randn(test, dim, generator=gen)
    labels = torch.randint(0, 10, (train,), generator=gen)
    train_n = torch.nn.functional.normalize(train_x, dim=1).T.contiguous()
    test_n = torch.nn.functional.normalize(test_x, dim=1)

    def matmul() -> float:
        start = time.perf_counter()
        for i in range(0, test, block_size):
            block = test_n[i : i + block_size] @ train_n
            del block
        return time.perf_counter() - start

    def knn() -> float:
        start = time.perf_counter()
        knn_predict(train_x, labels, test_x, k=k, num_classes=10, block_size=block_size)
        return time.perf_counter() - start

    base = min(matmul() for _ in range(repeats))
    probe = min(knn() for _ in range(repeats))
    ratio = base / probe  # throughput ratio: same number of test rows
    return {
        "train": train,
        "test": test,
        "dim": dim,
        "k": k,
        "block_size": block_size,
        "matmul_s": base,
        "knn_s": probe,
        "matmul_rows_per_s": test / base,
        "knn_rows_per_s": test / probe,
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "passed": ratio >= TARGET_RATIO,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 x 1,000")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--train", type=int, default=100_000)
    parser.add_argument("--test", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--block_size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    train, test = (10_000, 1_000) if args.quick else (args.train, args.test)
    r = run(train, test, args.dim, args.k, args.block_size, args.repeats)
    print("| measure | value |\n|---|---|")
    print(f"| features | {r['train']:,} train x {r['test']:,} test, {r['dim']}-d |")
    print(f"| blocked matmul | {r['matmul_rows_per_s']:,.0f} test rows/s |")
    print(f"| k-NN (k={r['k']}) | {r['knn_rows_per_s']:,.0f} test rows/s |")
    print(f"| **ratio** (target >= {TARGET_RATIO:g}) | **{r['ratio']:.2f}x** |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
