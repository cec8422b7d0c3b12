"""Named SatMAE architectures and their factories.

Presets are plain keyword dictionaries of :class:`GroupChannelMAE`, so configs and
the fusion backbone registry can refer to an architecture by name and override any
argument. All take 96 px Sentinel-2 chips cut into 8 px patches, 10 bands in
SatMAE's order and its three default groups.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .model import GroupChannelMAE, GroupChannelViT

_COMMON: dict[str, Any] = {
    "img_size": 96,
    "patch_size": 8,
    "in_chans": 10,
    "mlp_ratio": 4.0,
}

#: Preset name -> keyword arguments of :class:`GroupChannelMAE`.
SATMAE_PRESETS: dict[str, dict[str, Any]] = {
    "satmae_vit_tiny_patch8_96": _COMMON
    | {
        "embed_dim": 192,
        "depth": 4,
        "num_heads": 3,
        "channel_embed": 64,
        "decoder_embed_dim": 128,
        "decoder_depth": 2,
        "decoder_num_heads": 4,
        "decoder_channel_embed": 32,
    },
    "satmae_vit_small_patch8_96": _COMMON
    | {
        "embed_dim": 384,
        "depth": 12,
        "num_heads": 6,
        "channel_embed": 128,
        "decoder_embed_dim": 512,
        "decoder_depth": 8,
        "decoder_num_heads": 16,
        "decoder_channel_embed": 128,
    },
    "satmae_vit_base_patch8_96": _COMMON
    | {
        "embed_dim": 768,
        "depth": 12,
        "num_heads": 12,
        "channel_embed": 256,
        "decoder_embed_dim": 512,
        "decoder_depth": 8,
        "decoder_num_heads": 16,
        "decoder_channel_embed": 128,
    },
    "satmae_vit_large_patch8_96": _COMMON
    | {
        "embed_dim": 1024,
        "depth": 24,
        "num_heads": 16,
        "channel_embed": 256,
        "decoder_embed_dim": 512,
        "decoder_depth": 8,
        "decoder_num_heads": 16,
        "decoder_channel_embed": 128,
    },
}

#: Keyword arguments of :class:`GroupChannelMAE` that the encoder does not take.
MAE_ONLY_ARGS = frozenset(
    {
        "decoder_embed_dim",
        "decoder_depth",
        "decoder_num_heads",
        "decoder_channel_embed",
        "norm_pix_loss",
        "mask_ratio",
        "masking",
    }
)


def preset_config(name: str, **overrides: Any) -> dict[str, Any]:
    """Return a preset's keyword arguments with overrides applied.

    Args:
        name: A key of :data:`SATMAE_PRESETS`.
        **overrides: Arguments replacing the preset's.

    Returns:
        The merged keyword arguments.

    Raises:
        ValueError: If ``name`` is not a preset.
    """
    if name not in SATMAE_PRESETS:
        raise ValueError(
            f"unknown SatMAE preset {name!r}; valid choices are {sorted(SATMAE_PRESETS)}"
        )
    return SATMAE_PRESETS[name] | overrides


def create_satmae(name: str, **overrides: Any) -> GroupChannelMAE:
    """Build a SatMAE masked autoencoder from a preset.

    Args:
        name: A key of :data:`SATMAE_PRESETS`.
        **overrides: :class:`GroupChannelMAE` arguments replacing the preset's.

    Returns:
        The model, randomly initialised.

    Raises:
        ValueError: If ``name`` is unknown or an argument is invalid.
    """
    return GroupChannelMAE(**preset_config(name, **overrides))


def encoder_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the arguments of a MAE configuration that the encoder takes.

    Args:
        config: :class:`GroupChannelMAE` keyword arguments.

    Returns:
        :class:`GroupChannelViT` keyword arguments.
    """
    return {k: v for k, v in config.items() if k not in MAE_ONLY_ARGS}


def create_satmae_encoder(
    name: str,
    checkpoint: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> GroupChannelViT:
    """Build a SatMAE encoder from a preset, optionally loading weights.

    Args:
        name: A key of :data:`SATMAE_PRESETS`.
        checkpoint: A SatMAE pretraining or fine-tuning checkpoint, a
            :class:`~torchgeo_composition.trainers.SatMAETask` checkpoint, an
            exported encoder, or a state dict; loaded strictly with
            :func:`~torchgeo_composition.models.load_satmae_checkpoint`.
        **overrides: :class:`GroupChannelViT` arguments replacing the preset's
            (decoder arguments are accepted and ignored).

    Returns:
        The encoder.

    Raises:
        ValueError: If ``name`` is unknown, an argument is invalid or the
            checkpoint does not fit.
        FileNotFoundError: If ``checkpoint`` is a path that does not exist.
    """
    from .checkpoint import load_satmae_checkpoint

    model = GroupChannelViT(**encoder_kwargs(preset_config(name, **overrides)))
    if checkpoint is not None:
        load_satmae_checkpoint(model, checkpoint, strict=True)
    return model
