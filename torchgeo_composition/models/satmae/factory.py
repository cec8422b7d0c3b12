"""Build SatMAE models from presets, optionally with pretrained weights."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .checkpoint import load_satmae_checkpoint
from .config import encoder_kwargs
from .encoder import GroupChannelViT
from .model import GroupChannelMAE
from .presets import satmae_preset


def create_satmae(name: str, **overrides: Any) -> GroupChannelMAE:
    """Build a SatMAE masked autoencoder from a preset.

    Args:
        name: A key of :data:`~torchgeo_composition.models.SATMAE_PRESETS`.
        **overrides: :class:`~torchgeo_composition.models.SatMAEConfig` fields
            replacing the preset's.

    Returns:
        The model, randomly initialised.

    Raises:
        ValueError: If ``name`` is unknown or an argument is invalid.
    """
    return GroupChannelMAE(satmae_preset(name), **overrides)


def create_satmae_encoder(
    name: str,
    checkpoint: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> GroupChannelViT:
    """Build a SatMAE encoder from a preset, optionally loading weights.

    Args:
        name: A key of :data:`~torchgeo_composition.models.SATMAE_PRESETS`.
        checkpoint: A SatMAE pretraining or fine-tuning checkpoint, a
            :class:`~torchgeo_composition.trainers.SatMAETask` checkpoint, an
            exported encoder, or a state dict; loaded strictly with
            :func:`~torchgeo_composition.models.load_satmae_checkpoint`.
        **overrides: :class:`GroupChannelViT` arguments (``global_pool``,
            ``drop_path_rate``) and :class:`~torchgeo_composition.models.SatMAEConfig`
            fields replacing the preset's (decoder and masking fields are accepted
            and ignored).

    Returns:
        The encoder.

    Raises:
        ValueError: If ``name`` is unknown, an argument is invalid or the
            checkpoint does not fit.
        FileNotFoundError: If ``checkpoint`` is a path that does not exist.
    """
    model = GroupChannelViT(satmae_preset(name), **encoder_kwargs(overrides))
    if checkpoint is not None:
        load_satmae_checkpoint(model, checkpoint, strict=True)
    return model
