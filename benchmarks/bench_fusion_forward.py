"""Benchmark: fused forward of three frozen backbones in inference mode.

Runs :class:`FeatureFusion` over {SatMAE encoder, Hiera tiny, DOFA small} (frozen,
random init) under ``torch.inference_mode()`` on 13-band images and reports

* the time of the fused forward (adapters + backbones + fusion + head),
* each backbone's share of that time (its forward, timed inside the
  fused forward), and the share left to adapters/fusion/head,
* how many adapted input tensors were materialised: backbones that take the input
  as it is (same bands, same size) share it without a copy.

Usage::

    python benchmarks/bench_fusion_forward.py            # batch 16, real sizes
    python benchmarks/bench_fusion_forward.py --quick    # batch 8, tiny models
    python benchmarks/bench_fusion_forward.py --json results/fusion_forward.json
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import torch

from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.models import FeatureFusion

FULL = [
    {"name": "satmae:satmae_vit_base_patch8_96"},
    {"name": "timm:hiera_tiny_224"},
    {"name": "torchgeo:dofa_small_patch16_224"},
]
QUICK = [
    {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 32, "depth": 2},
    {"name": "timm:hiera_tiny_224", "input_size": 32},
    {"name": "torchgeo:dofa_small_patch16_224", "input_size": 32, "depth": 4},
]


def run(quick: bool, repeats: int) -> dict[str, Any]:
    torch.manual_seed(0)
    batch, size = (8, 32) if quick else (16, 96)
    specs = QUICK if quick else FULL
    model = FeatureFusion(specs, S2_BANDS, num_classes=10).eval()
    x = torch.rand(batch, len(S2_BANDS), size, size)
    spent = [0.0] * len(specs)
    copies: set[int] = set()

    def timed(i: int, fn: Any) -> Any:
        def wrapper(inp: torch.Tensor) -> torch.Tensor:
            start = time.perf_counter()
            out = fn(inp)
            spent[i] += time.perf_counter() - start
            return out

        return wrapper

    for i, backbone in enumerate(model.backbones):
        backbone.forward_features = timed(i, backbone.forward_features)  # type: ignore[method-assign]
    with torch.inference_mode():
        model(x)  # warm-up
        for inp in model._inputs(x):
            if inp.data_ptr() != x.data_ptr():
                copies.add(inp.data_ptr())
        spent[:] = [0.0] * len(specs)
        best = float("inf")
        for _ in range(repeats):
            before = list(spent)
            start = time.perf_counter()
            model(x)
            total = time.perf_counter() - start
            if total < best:
                best = total
                per = [s - b for s, b in zip(spent, before, strict=True)]
    shares = {s["name"]: t / best for s, t in zip(specs, per, strict=True)}
    return {
        "batch_size": batch,
        "image_size": size,
        "fused_forward_s": best,
        "images_per_s": batch / best,
        "share": shares,
        "share_other": 1.0 - sum(shares.values()),
        "adapted_inputs_materialised": len(copies),
        "backbones": len(specs),
        "inference_mode": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, < 20 s")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    r = run(args.quick, args.repeats)
    print("| part | share of fused forward |\n|---|---|")
    for name, share in r["share"].items():
        print(f"| {name} | {share:.1%} |")
    print(f"| adapters, fusion, head | {r['share_other']:.1%} |")
    print(
        f"\nfused forward: {r['fused_forward_s']:.3f} s for {r['batch_size']} images "
        f"({r['images_per_s']:.1f} img/s); adapted inputs materialised: "
        f"{r['adapted_inputs_materialised']} for {r['backbones']} backbones"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
