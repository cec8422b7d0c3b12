"""models."""

from .adapters import BandAdapter
from .backbones import (
    Backbone,
    create_backbone,
    list_backbones,
    register_backbone,
)
from .cka import linear_cka
from .feature_cache import FeatureCache
from .fusion import FeatureFusion
from .fusion_layers import FUSIONS
from .satmae import MASKING_MODES, GroupChannelMAE, GroupChannelViT
from .satmae_checkpoint import (
    LoadReport,
    export_encoder,
    load_satmae_checkpoint,
    load_satmae_encoder,
)
from .satmae_presets import SATMAE_PRESETS, create_satmae, create_satmae_encoder

__all__ = [
    "FUSIONS",
    "MASKING_MODES",
    "SATMAE_PRESETS",
    "Backbone",
    "BandAdapter",
    "FeatureCache",
    "FeatureFusion",
    "GroupChannelMAE",
    "GroupChannelViT",
    "LoadReport",
    "create_backbone",
    "create_satmae",
    "create_satmae_encoder",
    "export_encoder",
    "linear_cka",
    "list_backbones",
    "load_satmae_checkpoint",
    "load_satmae_encoder",
    "register_backbone",
]
