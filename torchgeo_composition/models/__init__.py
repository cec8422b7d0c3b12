"""Networks in three wings: ``satmae``, ``backbones`` and ``fusion``.

Every public name of the wings is re-exported here, so configs and user code can
keep importing from ``torchgeo_composition.models``.
"""

from .backbones import (
    Backbone,
    BandAdapter,
    create_backbone,
    list_backbones,
    register_backbone,
)
from .fusion import FUSIONS, FeatureCache, FeatureFusion, linear_cka
from .satmae import (
    MASKING_MODES,
    SATMAE_PRESETS,
    GroupChannelMAE,
    GroupChannelViT,
    LoadReport,
    SatMAEConfig,
    create_satmae,
    create_satmae_encoder,
    export_encoder,
    extract_state_dict,
    load_satmae_checkpoint,
    load_satmae_encoder,
    satmae_preset,
)

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
    "SatMAEConfig",
    "create_backbone",
    "create_satmae",
    "create_satmae_encoder",
    "export_encoder",
    "extract_state_dict",
    "linear_cka",
    "list_backbones",
    "load_satmae_checkpoint",
    "load_satmae_encoder",
    "register_backbone",
    "satmae_preset",
]
