"""SatMAE: the group-channel MAE, its encoder, configuration, presets, checkpoints."""

from .checkpoint import (
    LoadReport,
    export_encoder,
    extract_state_dict,
    load_satmae_checkpoint,
    load_satmae_encoder,
    read_checkpoint,
)
from .config import MASKING_MODES, SatMAEConfig
from .encoder import GroupChannelViT
from .factory import create_satmae, create_satmae_encoder
from .model import GroupChannelMAE
from .presets import SATMAE_PRESETS, satmae_preset

__all__ = [
    "MASKING_MODES",
    "SATMAE_PRESETS",
    "GroupChannelMAE",
    "GroupChannelViT",
    "LoadReport",
    "SatMAEConfig",
    "create_satmae",
    "create_satmae_encoder",
    "export_encoder",
    "extract_state_dict",
    "load_satmae_checkpoint",
    "load_satmae_encoder",
    "read_checkpoint",
    "satmae_preset",
]
