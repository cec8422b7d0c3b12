"""SatMAE: the group-channel masked autoencoder, its encoder, presets and checkpoints."""

from .checkpoint import (
    LoadReport,
    export_encoder,
    load_satmae_checkpoint,
    load_satmae_encoder,
)
from .encoder import GroupChannelViT
from .model import MASKING_MODES, GroupChannelMAE
from .presets import SATMAE_PRESETS, create_satmae, create_satmae_encoder

__all__ = [
    "MASKING_MODES",
    "SATMAE_PRESETS",
    "GroupChannelMAE",
    "GroupChannelViT",
    "LoadReport",
    "create_satmae",
    "create_satmae_encoder",
    "export_encoder",
    "load_satmae_checkpoint",
    "load_satmae_encoder",
]
