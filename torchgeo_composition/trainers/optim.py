"""SatMAE's optimizer (timm's parameter groups) and learning-rate schedule (torch's)."""

from __future__ import annotations

import math

from timm.optim import param_groups_weight_decay  # type: ignore[attr-defined]
from torch import nn
from torch.optim import AdamW, Optimizer
from torch.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
)

#: Where the linear warmup starts, relative to the peak. MAE and SatMAE warm up
#: from 0, but :class:`~torch.optim.lr_scheduler.LinearLR` needs a factor above 0;
#: at 1e-12 the first update is negligible and every later rate matches.
WARMUP_START_FACTOR = 1e-12


def satmae_optimizer(
    model: nn.Module,
    lr: float,
    weight_decay: float = 0.05,
    betas: tuple[float, float] = (0.9, 0.95),
) -> AdamW:
    """Build SatMAE's AdamW: no weight decay on biases, norms and tokens.

    The parameter groups are timm's
    (:func:`~timm.optim.param_groups_weight_decay`): 1-d parameters, biases and
    the names in the model's ``no_weight_decay()`` (if it has one) are not
    decayed. The fused implementation (one kernel over all parameters) is used
    when every parameter is a floating-point tensor on the CPU or a CUDA device;
    it computes the same update as the default implementation, several times
    faster.

    Args:
        model: The model to optimise.
        lr: Learning rate (the schedule scales it).
        weight_decay: Weight decay of the decayed group.
        betas: AdamW betas.

    Returns:
        The optimizer, with a non-decayed and a decayed parameter group.
    """
    no_decay = getattr(model, "no_weight_decay", None)
    groups = param_groups_weight_decay(
        model,
        weight_decay,
        no_weight_decay_list=no_decay() if callable(no_decay) else (),
    )
    params = [p for group in groups for p in group["params"]]
    fused = all(
        p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params
    )
    return AdamW(groups, lr=lr, betas=betas, fused=fused or None)


def warmup_cosine(
    optimizer: Optimizer,
    warmup_steps: int,
    total_steps: float,
    min_lr: float = 0.0,
) -> LRScheduler:
    """Linear warmup to the optimizer's rate, then a half-cycle cosine to ``min_lr``.

    Meant to be stepped once per optimizer step: ``SequentialLR(LinearLR,
    CosineAnnealingLR)``, or only one of them when there is no warmup or no
    decay. The peak is each parameter group's learning rate when the scheduler is
    created.

    Args:
        optimizer: The optimizer, its learning rate set to the peak.
        warmup_steps: Steps of linear warmup from (almost) 0 to the peak.
        total_steps: Steps of the whole run; the cosine spans the steps after the
            warmup. ``inf``, or a value not above ``warmup_steps``, keeps the peak
            after the warmup.
        min_lr: Final rate of the cosine (capped at the peak).

    Returns:
        The scheduler.

    Raises:
        ValueError: If ``warmup_steps`` or ``min_lr`` is negative.
    """
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if min_lr < 0:
        raise ValueError(f"min_lr must be >= 0, got {min_lr}")
    peak = min(group["lr"] for group in optimizer.param_groups)
    decay_steps = total_steps - warmup_steps if math.isfinite(total_steps) else 0
    schedulers: list[LRScheduler] = []
    if warmup_steps > 0:
        schedulers.append(
            LinearLR(optimizer, WARMUP_START_FACTOR, total_iters=warmup_steps)
        )
    if decay_steps >= 1:
        schedulers.append(
            CosineAnnealingLR(optimizer, int(decay_steps), eta_min=min(min_lr, peak))
        )
    if not schedulers:
        return ConstantLR(optimizer, factor=1.0, total_iters=0)
    if len(schedulers) == 1:
        return schedulers[0]
    return SequentialLR(optimizer, schedulers, milestones=[warmup_steps])
