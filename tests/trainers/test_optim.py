from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from torchgeo_composition.trainers.optim import satmae_optimizer, warmup_cosine


def rates(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    optimizer = scheduler.optimizer
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return satmae_optimizer(nn.Linear(2, 2), lr=lr)


def test_warmup_then_cosine_to_min_lr() -> None:
    got = rates(warmup_cosine(optimizer(), 2, 10, min_lr=0.1), 11)
    cosine = [0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(9)]
    assert got == pytest.approx([0.0, 0.5, *cosine], abs=1e-9)
    assert got[-1] == pytest.approx(0.1)


def test_no_warmup_or_no_decay() -> None:
    assert rates(warmup_cosine(optimizer(), 0, 2), 3) == pytest.approx([1.0, 0.5, 0.0])
    assert rates(warmup_cosine(optimizer(), 2, math.inf), 4) == pytest.approx(
        [0.0, 0.5, 1.0, 1.0], abs=1e-9
    )
    assert rates(warmup_cosine(optimizer(), 0, math.inf), 3) == [1.0] * 3
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        warmup_cosine(optimizer(), -1, 10)


def test_optimizer_groups() -> None:
    opt = satmae_optimizer(nn.Linear(2, 3), lr=0.5, weight_decay=0.2)
    decays = sorted(
        (g["weight_decay"], tuple(p.shape))
        for g in opt.param_groups
        for p in g["params"]
    )
    assert decays == [(0.0, (3,)), (0.2, (3, 2))]
    assert opt.defaults["betas"] == (0.9, 0.95)
