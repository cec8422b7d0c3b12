"""Layer-wise learning-rate decay for fine-tuning (as in SatMAE/BEiT fine-tuning).

Parameters are grouped by depth with :func:`timm.optim.param_groups_layer_decay`:
each backbone's stem (patch and position embeddings, tokens) is layer 0, block
``i`` (``blocks.i``, ``layers.i`` or ``stages.i``) is layer ``i + 1``, and the final
norms, fusion layers, decoder and head form the top layer. Blocks of the same
depth in several backbones share a layer. The learning rate of layer ``l`` of
``L`` is ``lr * layer_decay ** (L - 1 - l)``. Weight decay skips 1-d parameters
and every name a backbone lists in ``no_weight_decay()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from timm.optim import param_groups_layer_decay  # type: ignore[attr-defined]
from torch import nn

__all__ = ["check_layer_decay", "layer_decay_param_groups"]

_BLOCK = re.compile(r"^model\.backbones\.\d+\..*?\b(?:blocks|layers|stages)\.(\d+)\.")
_TOP = re.compile(r"^model\.backbones\.\d+\.(?:model\.)?(?:fc_norm|norm|head)\b")


def _depth(name: str) -> tuple[float, ...]:
    """Ordinal (as timm groups) of a parameter name: stem 0, block i -> i + 1, top last."""
    block = _BLOCK.match(name)
    if block:
        return (1.0 + int(block.group(1)),)
    if name.startswith("model.backbones.") and not _TOP.match(name):
        return (0.0,)
    return (float("inf"),)


def check_layer_decay(layer_decay: float | None) -> float | None:
    """Validate ``layer_decay``: ``None`` or a value in (0, 1].

    Args:
        layer_decay: The value given.

    Returns:
        ``layer_decay``.

    Raises:
        ValueError: If it is outside (0, 1].
    """
    if layer_decay is not None and not 0 < layer_decay <= 1:
        raise ValueError(
            f"layer_decay={layer_decay!r} is invalid; give a value in (0, 1] "
            "(e.g. 0.75 as SatMAE's fine-tuning) or null for none"
        )
    return layer_decay


class _DepthGroups(nn.Module):
    """A view of a fusion model with timm's ``group_matcher`` by block depth."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def group_matcher(self, coarse: bool = False) -> Callable[[str], tuple[float, ...]]:
        del coarse
        return _depth


def layer_decay_param_groups(
    model: nn.Module, lr: float, weight_decay: float, layer_decay: float
) -> list[dict[str, Any]]:
    """Optimizer parameter groups with layer-wise learning-rate decay.

    Args:
        model: A :class:`~torchgeo_composition.models.FeatureFusion` (any module
            with ``backbones`` works).
        lr: Learning rate of the top layer (head).
        weight_decay: Weight decay of the weights (not of 1-d parameters or
            names in a backbone's ``no_weight_decay()``).
        layer_decay: Decay per layer, in (0, 1].

    Returns:
        Groups for a torch optimizer, each with its ``lr``.

    Raises:
        ValueError: If ``layer_decay`` is outside (0, 1].
    """
    check_layer_decay(layer_decay)
    skip: set[str] = set()
    for prefix, module in model.named_modules():
        names = getattr(module, "no_weight_decay", None)
        if callable(names):
            skip |= {f"model.{prefix}.{n}" if prefix else f"model.{n}" for n in names()}
    groups = param_groups_layer_decay(
        _DepthGroups(model),
        weight_decay=weight_decay,
        no_weight_decay_list=sorted(skip),
        layer_decay=layer_decay,
    )
    for group in groups:
        group["lr"] = lr * float(group.pop("lr_scale"))
    return groups
