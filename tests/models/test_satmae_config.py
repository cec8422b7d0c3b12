from __future__ import annotations

import json

import pytest
import torch

from torchgeo_composition.models import (
    SATMAE_PRESETS,
    GroupChannelMAE,
    GroupChannelViT,
    SatMAEConfig,
    create_satmae,
    satmae_preset,
)

TINY = SatMAEConfig(
    img_size=16,
    in_chans=5,
    channel_groups=((0, 3), (1, 2, 4)),
    embed_dim=32,
    depth=1,
    num_heads=2,
    channel_embed=8,
    decoder_embed_dim=32,
    decoder_depth=1,
    decoder_num_heads=2,
    decoder_channel_embed=8,
)


def test_presets_are_configs_and_replace_overrides() -> None:
    base = satmae_preset("satmae_vit_base_patch8_96")
    assert base == SatMAEConfig() == SATMAE_PRESETS["satmae_vit_base_patch8_96"]
    small = satmae_preset("satmae_vit_small_patch8_96").replace(img_size=32)
    assert (small.embed_dim, small.depth, small.img_size) == (384, 12, 32)
    assert satmae_preset("satmae_vit_small_patch8_96").img_size == 96  # frozen
    with pytest.raises(ValueError, match="unknown SatMAE preset 'vit'"):
        satmae_preset("vit")
    with pytest.raises(ValueError, match=r"unknown SatMAE argument\(s\) \['width'\]"):
        base.replace(width=3)
    with pytest.raises(ValueError, match="img_size=20 must be divisible"):
        base.replace(img_size=20)


def test_models_build_from_config_or_keywords() -> None:
    torch.manual_seed(0)
    from_config = GroupChannelMAE(TINY)
    torch.manual_seed(0)
    from_keywords = GroupChannelMAE(**TINY.to_dict())
    assert from_config.cfg == from_keywords.cfg == TINY
    state = from_keywords.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in from_config.state_dict().items())
    encoder = GroupChannelViT(TINY, global_pool=False)
    assert encoder.cfg == TINY and "norm.weight" in encoder.state_dict()
    mae = create_satmae("satmae_vit_tiny_patch8_96", img_size=32, masking="consistent")
    assert (mae.cfg.embed_dim, mae.img_size, mae.masking) == (192, 32, "consistent")


def test_config_dict_is_plain_and_rebuilds() -> None:
    named = TINY.replace(
        bands=["B2", "B3", "B4", "B8", "B11"],
        channel_groups=[["B2", "B8"], ["B3", "B4", "B11"]],
    )
    assert named.groups == ((0, 3), (1, 2, 4))
    config = GroupChannelMAE(named).config
    assert json.loads(json.dumps(config)) == config
    assert config["channel_groups"] == [[0, 3], [1, 2, 4]]
    assert config["bands"] == ["B2", "B3", "B4", "B8", "B11"]
    assert GroupChannelMAE(**config).cfg == named.replace(
        channel_groups=((0, 3), (1, 2, 4))
    )


def test_no_weight_decay_names_exist() -> None:
    mae, encoder = GroupChannelMAE(TINY), GroupChannelViT(TINY)
    for model in (mae, encoder):
        names = dict(model.named_parameters())
        assert model.no_weight_decay() <= set(names)
        assert {"cls_token", "pos_embed", "channel_embed"} <= model.no_weight_decay()
    assert "mask_token" in mae.no_weight_decay()
    assert "channel_cls_embed" in encoder.no_weight_decay()
