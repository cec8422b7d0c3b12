"""Named SatMAE architectures.

Presets are :class:`SatMAEConfig` instances, so configs and the backbone registry
can refer to an architecture by name and override any field with
:meth:`SatMAEConfig.replace`. All take 96 px Sentinel-2 chips cut into 8 px
patches, 10 bands in SatMAE's order and its three default groups; they differ in
width and depth. The factories that build models from them live in
:mod:`~torchgeo_composition.models.satmae.factory`.
"""

from __future__ import annotations

from .config import SatMAEConfig

#: Preset name -> architecture.
SATMAE_PRESETS: dict[str, SatMAEConfig] = {
    "satmae_vit_tiny_patch8_96": SatMAEConfig(
        embed_dim=192,
        depth=4,
        num_heads=3,
        channel_embed=64,
        decoder_embed_dim=128,
        decoder_depth=2,
        decoder_num_heads=4,
        decoder_channel_embed=32,
    ),
    "satmae_vit_small_patch8_96": SatMAEConfig(
        embed_dim=384, depth=12, num_heads=6, channel_embed=128
    ),
    "satmae_vit_base_patch8_96": SatMAEConfig(),
    "satmae_vit_large_patch8_96": SatMAEConfig(
        embed_dim=1024, depth=24, num_heads=16, channel_embed=256
    ),
}


def satmae_preset(name: str) -> SatMAEConfig:
    """Return a preset's architecture.

    Args:
        name: A key of :data:`SATMAE_PRESETS`.

    Returns:
        The configuration (derive variants with :meth:`SatMAEConfig.replace`).

    Raises:
        ValueError: If ``name`` is not a preset.
    """
    if name not in SATMAE_PRESETS:
        raise ValueError(
            f"unknown SatMAE preset {name!r}; valid choices are {sorted(SATMAE_PRESETS)}"
        )
    return SATMAE_PRESETS[name]
