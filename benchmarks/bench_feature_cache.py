"""Benchmark: head-training epoch with the frozen-feature cache vs recomputing features.

Three frozen backbones ({SatMAE encoder, Hiera tiny, DOFA small}, random init) feed a
concat fusion with a linear head, on an in-memory set of 13-band images. One epoch
of head training (forward, loss, backward, AdamW step over all batches) is timed

* recomputing the backbone features for every batch (no cache), and
* reading them from the memory-mapped cache (sample digest + lookup), after the
  cache was built once (its build time is reported separately).

Both epochs run in the same process, each ``--repeats`` times (best counts).
Target: ratio (recompute epoch time / cached epoch time) >= 20.

Usage::

    python benchmarks/bench_feature_cache.py            # 128 images, real sizes
    python benchmarks/bench_feature_cache.py --quick    # 64 images, tiny models
    python benchmarks/bench_feature_cache.py --json results/feature_cache.json
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from typing import Any

import torch
from bench_fusion_forward import FULL, QUICK  # the same three backbones
from torch import nn

from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.models import FeatureCache, FeatureFusion
from torchgeo_composition.models.fusion.cache import (
    dataset_fingerprint,
    sample_digests,
)

TARGET_RATIO = 20.0


def run(quick: bool, repeats: int) -> dict[str, Any]:
    torch.manual_seed(0)
    n, size, batch = (32, 32, 16) if quick else (128, 64, 32)
    images = torch.rand(n, len(S2_BANDS), size, size)
    labels = torch.randint(0, 10, (n,))
    model = FeatureFusion(QUICK if quick else FULL, S2_BANDS, num_classes=10).train()
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(model.head.parameters(), lr=1e-3)

    def epoch(features_of: Any) -> float:
        start = time.perf_counter()
        for i in range(0, n, batch):
            x, y = images[i : i + batch], labels[i : i + batch]
            loss = loss_fn(model.head_from_features(features_of(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(tmp)
        start = time.perf_counter()
        digests = sample_digests(images)
        key = cache.key(
            model.backbone_fingerprint(), "train", dataset_fingerprint(digests)
        )
        with torch.no_grad():
            parts = [
                model.backbone_features(images[i : i + batch])
                for i in range(0, n, batch)
            ]
        entry = cache.write(
            key, digests, [torch.cat(c) for c in zip(*parts, strict=True)], {}
        )
        build = time.perf_counter() - start

        def cached(x: torch.Tensor) -> list[torch.Tensor]:
            feats, found = entry.lookup(sample_digests(x))
            assert all(found)
            return feats

        recompute = min(epoch(model.backbone_features) for _ in range(repeats))
        read = min(epoch(cached) for _ in range(repeats))
    return {
        "samples": n,
        "image_size": size,
        "batch_size": batch,
        "backbones": [b["name"] for b in (QUICK if quick else FULL)],
        "recompute_epoch_s": recompute,
        "cached_epoch_s": read,
        "cache_build_s": build,
        "ratio": recompute / read,
        "target_ratio": TARGET_RATIO,
        "passed": recompute / read >= TARGET_RATIO,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, < 20 s")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    r = run(args.quick, args.repeats)
    print("| measure | value |\n|---|---|")
    print(f"| recompute features, one epoch | {r['recompute_epoch_s']:.3f} s |")
    print(f"| cached features, one epoch | {r['cached_epoch_s']:.4f} s |")
    print(f"| one-time cache build | {r['cache_build_s']:.3f} s |")
    print(f"| **ratio** (target >= {TARGET_RATIO:g}) | **{r['ratio']:.1f}x** |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
