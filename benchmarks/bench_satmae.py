"""Benchmark: SatMAE pretraining step throughput on the CPU (fp32).

Times one training step (forward, backward, AdamW step) of
:class:`~torchgeo_composition.models.GroupChannelMAE` (ViT-B, 96 px, patch 8,
10 bands in 3 groups = 432 tokens, mask ratio 0.75, batch 8) against baselines
measured in the same run. The headline row is the step ``SatMAETask`` takes (its
optimizer is :func:`~torchgeo_composition.trainers.optim.satmae_optimizer`, fused
AdamW); the second row is the same model with torch's default AdamW, the optimizer
every baseline (and the reference's training script) uses, so the model alone can
be compared too:

* ``timm MAE``: a plain MAE of the same token count built here from timm blocks
  (one patch embedding tiled over 3 token groups, added position embedding,
  fused attention): what a straightforward timm implementation costs.
* ``timm MAE, explicit attention``: the same with timm's non-fused attention
  (softmax of an explicit attention matrix), as in timm 0.3.2, which the
  SatMAE reference code is pinned to: a stand-in for the reference.
* ``reference`` (only with ``--reference PATH``): a local copy of the SatMAE
  reference code (``models_mae_group_channels.py``; never part of this project),
  loaded with a shim for the timm 0.3.2 block signature and explicit attention.

Also reports the model FLOPs of a step (``torch.utils.flop_counter``), the achieved
GFLOP/s and their fraction of a dense fp32 matmul measured in the same run. Steps
are few (the CPU is slow): ``--warmup`` untimed per model, then ``--steps`` rounds
in which every model takes one step in turn; the best step counts, and the ratio
uses process CPU time (less disturbed by other load than wall time).

Usage::

    python benchmarks/bench_satmae.py                 # ViT-B, batch 8
    python benchmarks/bench_satmae.py --quick         # tiny model (< 20 s)
    python benchmarks/bench_satmae.py --reference ~/src/SatMAE --json satmae.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import timm.models.vision_transformer as tv
import torch
from timm.layers.patch_embed import PatchEmbed
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from torchgeo_composition.models import GroupChannelMAE, create_satmae
from torchgeo_composition.trainers.optim import satmae_optimizer

TARGET = 1.3
GROUPS = ((0, 1, 2, 6), (3, 4, 5, 7), (8, 9))
FULL = {"img_size": 96, "patch_size": 8, "in_chans": 10}
QUICK = FULL | {
    "img_size": 32,
    "embed_dim": 64,
    "depth": 2,
    "num_heads": 4,
    "channel_embed": 16,
    "decoder_embed_dim": 64,
    "decoder_depth": 1,
    "decoder_num_heads": 4,
    "decoder_channel_embed": 16,
}


class PlainMAE(nn.Module):
    """A plain timm-block MAE with ``groups * L`` tokens (the baseline)."""

    def __init__(self, cfg: dict[str, Any], groups: int, fused: bool) -> None:
        super().__init__()
        d, dd, p = cfg["embed_dim"], cfg["decoder_embed_dim"], cfg["patch_size"]
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.groups, self.p = groups, p
        self.patch_embed = PatchEmbed(cfg["img_size"], p, cfg["in_chans"], d)
        tokens = groups * self.patch_embed.num_patches
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, d))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.blocks = nn.ModuleList(
            tv.Block(d, cfg["num_heads"], 4.0, qkv_bias=True, norm_layer=norm)
            for _ in range(cfg["depth"])
        )
        self.norm = norm(d)
        self.decoder_embed = nn.Linear(d, dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dd))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dd))
        self.decoder_blocks = nn.ModuleList(
            tv.Block(dd, cfg["decoder_num_heads"], 4.0, qkv_bias=True, norm_layer=norm)
            for _ in range(cfg["decoder_depth"])
        )
        self.decoder_norm = norm(dd)
        self.decoder_pred = nn.Linear(dd, p * p * cfg["in_chans"] // groups + 1)
        for module in self.modules():
            if hasattr(module, "fused_attn"):
                module.fused_attn = fused

    def forward(self, x: Tensor) -> Tensor:
        """Return the masked-token loss (against a dummy target)."""
        n = x.shape[0]
        t = self.patch_embed(x).repeat(1, self.groups, 1) + self.pos_embed
        total = t.shape[1]
        keep = int(total * 0.25)
        ids_shuffle = torch.argsort(torch.rand(n, total), dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        index = ids_shuffle[:, :keep, None].expand(-1, -1, t.shape[2])
        h = torch.cat([self.cls_token.expand(n, -1, -1), torch.gather(t, 1, index)], 1)
        for block in self.blocks:
            h = block(h)
        y = self.decoder_embed(self.norm(h))
        filler = self.mask_token.expand(n, total - keep, -1)
        full = torch.cat([y[:, 1:], filler], 1)
        full = torch.gather(full, 1, ids_restore[:, :, None].expand(-1, -1, y.shape[2]))
        h = torch.cat([y[:, :1], full], 1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            h = block(h)
        pred = self.decoder_pred(self.decoder_norm(h[:, 1:]))
        mask = torch.ones(n, total)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, ids_restore)
        return (((pred - pred.detach().mean()) ** 2).mean(-1) * mask).sum() / mask.sum()


def load_reference(path: str, cfg: dict[str, Any]) -> nn.Module:
    """Build the reference model from a local SatMAE checkout (not part of this project)."""
    import numpy as np

    vars(np)["float"] = float  # removed alias that the reference's pos-embed code uses
    original = tv.Block

    class Block032(original):  # type: ignore[misc, valid-type]
        def __init__(
            self,
            dim: int,
            num_heads: int,
            mlp_ratio: float = 4.0,
            qkv_bias: bool = False,
            qk_scale: Any = None,
            norm_layer: Any = None,
            **kw: Any,
        ) -> None:
            super().__init__(
                dim,
                num_heads,
                mlp_ratio,
                qkv_bias=qkv_bias,
                norm_layer=norm_layer,
                **kw,
            )
            self.attn.fused_attn = False

    sys.path.insert(0, path)
    tv.Block = Block032
    try:
        module = importlib.import_module("models_mae_group_channels")
    finally:
        tv.Block = original
    kwargs = {k: v for k, v in cfg.items() if k not in ("bands", "channel_groups")}
    return module.MaskedAutoencoderGroupChannelViT(
        channel_groups=GROUPS, norm_layer=partial(nn.LayerNorm, eps=1e-6), **kwargs
    )


def step_fn(
    model: nn.Module, x: Tensor, task_optimizer: bool = False
) -> Callable[[], None]:
    """One training step: forward, backward, AdamW step.

    ``task_optimizer`` uses the optimizer :class:`SatMAETask` trains with
    (:func:`satmae_optimizer`: fused AdamW); otherwise torch's default AdamW, as
    the reference's training script uses.
    """
    if task_optimizer:
        opt = satmae_optimizer(model, lr=1e-4)
    else:
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95))

    def step() -> None:
        out = model(x)
        loss = out[0] if isinstance(out, tuple) else out
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def time_interleaved(
    steps: dict[str, Callable[[], None]], warmup: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Time the steps round-robin (robust to load changes); best of ``repeats``."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            w, c = time.perf_counter(), time.process_time()
            step()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    return {
        name: {
            "wall_s_best": min(wall[name]),
            "wall_s_median": statistics.median(wall[name]),
            "cpu_s_best": min(cpu[name]),
        }
        for name in steps
    }


def step_flops(model: nn.Module, x: Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        loss = model(x)[0]
        loss.backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def matmul_gflops(n: int, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny model, < 20 s")
    parser.add_argument("--json", metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--reference", metavar="PATH", help="local SatMAE checkout")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=None, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    steps = args.steps or 3
    torch.manual_seed(0)
    if args.quick:
        cfg = GroupChannelMAE(**QUICK).config
    else:
        cfg = create_satmae("satmae_vit_base_patch8_96").config
    cfg = {
        k: v
        for k, v in cfg.items()
        if k not in ("bands", "norm_pix_loss", "mask_ratio", "masking")
    }
    cfg["channel_groups"] = GROUPS
    x = torch.rand(args.batch, cfg["in_chans"], cfg["img_size"], cfg["img_size"])

    ours = GroupChannelMAE(**cfg)
    flops = step_flops(ours, x)
    models: dict[str, nn.Module] = {
        "torchgeo-composition SatMAETask step (fused AdamW)": ours,
        "torchgeo-composition GroupChannelMAE, default AdamW": ours,
        "timm MAE (fused attention)": PlainMAE(cfg, 3, fused=True),
        "timm MAE, explicit attention (reference stand-in)": PlainMAE(
            cfg, 3, fused=False
        ),
    }
    if args.reference:
        models["SatMAE reference (local copy)"] = load_reference(args.reference, cfg)
    timings = time_interleaved(
        {
            name: step_fn(m, x, task_optimizer=i == 0)
            for i, (name, m) in enumerate(models.items())
        },
        args.warmup,
        steps,
    )
    rows = [{"name": name} | t for name, t in timings.items()]
    dense = matmul_gflops(1024 if args.quick else 2048)
    ours_cpu, ours_wall = rows[0]["cpu_s_best"], rows[0]["wall_s_best"]
    for row in rows:
        row["images_per_s"] = args.batch / row["wall_s_best"]
        row["speedup_of_ours"] = row["cpu_s_best"] / ours_cpu
        row["speedup_of_ours_wall"] = row["wall_s_best"] / ours_wall
    achieved = flops / ours_wall / 1e9
    baseline = rows[-1]
    result = {
        "config": {
            "quick": args.quick,
            "batch": args.batch,
            "steps": steps,
            "tokens": 3 * (cfg["img_size"] // 8) ** 2,
            "embed_dim": cfg["embed_dim"],
            "depth": cfg["depth"],
        },
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "rows": rows,
        "ratio_vs_reference": baseline["speedup_of_ours"],
        "model_only_ratio_vs_reference": baseline["cpu_s_best"] / rows[1]["cpu_s_best"],
        "reference_is": baseline["name"],
        "target": TARGET,
        "step_gflop": flops / 1e9,
        "achieved_gflops": achieved,
        "dense_matmul_gflops": dense,
        "fraction_of_dense_matmul": achieved / dense,
    }
    print(
        "| model | step wall (s) | step CPU (s) | images/s | ours x faster (CPU) "
        "| ours x faster (wall) |\n|---|---|---|---|---|---|"
    )
    for row in rows:
        print(
            f"| {row['name']} | {row['wall_s_best']:.3f} | {row['cpu_s_best']:.3f} "
            f"| {row['images_per_s']:.2f} | {row['speedup_of_ours']:.2f} "
            f"| {row['speedup_of_ours_wall']:.2f} |"
        )
    print(
        f"\nratio (CPU time) vs {baseline['name']}: {result['ratio_vs_reference']:.2f} "
        f"(target >= {TARGET}); same optimizer (model only): "
        f"{result['model_only_ratio_vs_reference']:.2f}"
        f"\nstep: {flops / 1e9:.1f} GFLOP, achieved {achieved:.1f} GFLOP/s = "
        f"{achieved / dense:.0%} of a dense fp32 matmul ({dense:.1f} GFLOP/s), "
        f"{torch.get_num_threads()} threads"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
