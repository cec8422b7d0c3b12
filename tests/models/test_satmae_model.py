from __future__ import annotations

from typing import Any

import pytest
import torch

from torchgeo_composition.bands import SATMAE_BANDS, SATMAE_GROUPS
from torchgeo_composition.models import (
    SATMAE_PRESETS,
    GroupChannelMAE,
    GroupChannelViT,
    create_satmae,
    create_satmae_encoder,
)

TINY: dict[str, Any] = {
    "img_size": 16,
    "patch_size": 8,
    "in_chans": 5,
    "channel_groups": ((0, 3), (1, 2, 4)),
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "channel_embed": 8,
    "decoder_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
    "decoder_channel_embed": 8,
}


def tiny(**kwargs: Any) -> GroupChannelMAE:
    torch.manual_seed(0)
    return GroupChannelMAE(**(TINY | kwargs))


@pytest.mark.parametrize("name", sorted(SATMAE_PRESETS))
def test_preset_shapes(name: str) -> None:
    cfg = SATMAE_PRESETS[name]
    d, cd = cfg.embed_dim, cfg.channel_embed
    dd, dcd = cfg.decoder_embed_dim, cfg.decoder_channel_embed
    with torch.device("meta"):
        model = create_satmae(name)
        encoder = create_satmae_encoder(name)
    sd = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sd["pos_embed"] == (1, 145, d - cd)
    assert sd["channel_embed"] == (1, 3, cd)
    assert sd["decoder_pos_embed"] == (1, 145, dd - dcd)
    assert sd["decoder_channel_embed"] == (1, 4, dcd)
    assert sd["patch_embed.2.proj.weight"] == (d, 2, 8, 8)
    assert sd["decoder_pred.0.weight"] == (4 * 64, dd)
    assert sd["decoder_pred.2.weight"] == (2 * 64, dd)
    assert (
        sum(k.endswith("attn.qkv.weight") for k in sd) == cfg.depth + cfg.decoder_depth
    )
    enc = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    assert enc["channel_cls_embed"] == (1, 1, cd)
    assert enc["fc_norm.weight"] == (d,)
    assert not any(k.startswith(("decoder", "mask_token", "norm.")) for k in enc)
    if name == "satmae_vit_base_patch8_96":
        assert sum(v.numel() for v in model.parameters()) == pytest.approx(
            111.6e6, rel=1e-3
        )


def test_forward_shapes_and_encoder() -> None:
    model = tiny()
    x = torch.randn(3, 5, 16, 16)
    loss, pred, mask = model(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert pred.shape == (3, 5, 4, 64)
    assert mask.shape == (3, 2, 4)
    kwargs = {k: v for k, v in TINY.items() if not k.startswith("decoder")}
    encoder = GroupChannelViT(**kwargs)
    assert encoder.forward_features(x).shape == (3, 32)
    maps = encoder.forward_intermediates(x, [0, -1])
    assert [m.shape for m in maps] == [(3, 32, 2, 2)] * 2
    assert encoder.embed_dim == 32 and encoder.patch_size == 8
    assert encoder.img_size == 16 and encoder.in_chans == 5
    assert encoder.channel_groups == ((0, 3), (1, 2, 4))
    cls_encoder = GroupChannelViT(**kwargs, global_pool=False)
    assert "norm.weight" in cls_encoder.state_dict()
    assert cls_encoder(x).shape == (3, 32)


def test_groups_by_name_equal_groups_by_index() -> None:
    by_name = GroupChannelMAE(
        img_size=16,
        embed_dim=32,
        depth=1,
        num_heads=2,
        channel_embed=8,
        decoder_embed_dim=32,
        decoder_depth=1,
        decoder_num_heads=2,
        decoder_channel_embed=8,
        bands=list(SATMAE_BANDS),
        channel_groups=[list(g) for g in SATMAE_GROUPS],
    )
    assert by_name.channel_groups == ((0, 1, 2, 6), (3, 4, 5, 7), (8, 9))
    # Band aliases resolve too.
    model = tiny(
        bands=["B02", "B3", "B4", "B8", "B11"],
        channel_groups=[["B2", "B08"], ["B3", "B4", "B11"]],
    )
    assert model.channel_groups == ((0, 3), (1, 2, 4))


@pytest.mark.parametrize("ratio", [0.5, 0.75, 0.9])
def test_independent_masking_ratio_and_noise_rule(ratio: float) -> None:
    model = tiny(img_size=32)  # G * L = 2 * 16 = 32 tokens
    x = torch.randn(2, 5, 32, 32)
    noise = torch.rand(2, 32)
    latent, mask, _ = model.forward_encoder(x, ratio, noise=noise)
    keep = int(32 * (1 - ratio))
    assert latent.shape == (2, 1 + keep, 32)
    assert mask.shape == (2, 2, 16)
    assert (mask.flatten(1).sum(1) == 32 - keep).all()
    # The visible tokens are exactly those with the smallest noise.
    for n in range(2):
        visible = set(torch.argsort(noise[n])[:keep].tolist())
        assert visible == set(torch.nonzero(mask[n].flatten() == 0).flatten().tolist())


def test_consistent_masking_same_positions_in_every_group() -> None:
    model = tiny(img_size=32, masking="consistent")
    x = torch.randn(2, 5, 32, 32)
    noise = torch.rand(2, 16)
    latent, mask, _ = model.forward_encoder(x, 0.75, noise=noise)
    assert latent.shape == (2, 1 + 2 * 4, 32)
    assert torch.equal(mask[:, 0], mask[:, 1])
    assert (mask[:, 0].sum(1) == 12).all()
    for n in range(2):
        visible = set(torch.argsort(noise[n])[:4].tolist())
        assert visible == set(torch.nonzero(mask[n, 0] == 0).flatten().tolist())
    with pytest.raises(ValueError, match=r"noise must have shape \(N, 16\)"):
        model.forward_encoder(x, 0.75, noise=torch.rand(2, 32))
    # Independent masking differs between groups (with this seed).
    indep = tiny(img_size=32)
    _, mask_i, _ = indep.forward_encoder(x, 0.75, noise=torch.rand(2, 32))
    assert not torch.equal(mask_i[:, 0], mask_i[:, 1])


def _hand_loss(
    images: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor, groups: Any, p: int
) -> float:
    """SatMAE's loss written out with loops (contiguous groups)."""
    n, h = images.shape[0], images.shape[2]
    side = h // p
    total, count = 0.0, 0.0
    for i in range(n):
        for g, group in enumerate(groups):
            for row in range(side):
                for col in range(side):
                    l_idx = row * side + col
                    if mask[i, g, l_idx] == 0:
                        continue
                    per_band = []
                    for b in group:
                        patch = images[
                            i, b, row * p : (row + 1) * p, col * p : (col + 1) * p
                        ]
                        guess = pred[i, b, l_idx].reshape(p, p)
                        per_band.append(((guess - patch) ** 2).mean().item())
                    total += sum(per_band) / len(per_band)
                    count += 1
    return total / count


def test_loss_equals_hand_formula_for_contiguous_groups() -> None:
    groups = ((0, 1), (2, 3, 4))
    model = tiny(channel_groups=groups)
    x = torch.randn(2, 5, 16, 16)
    noise = torch.rand(2, 8)
    loss, pred, mask = model(x, 0.75, noise=noise)
    expected = _hand_loss(x, pred.detach(), mask, groups, 8)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_each_group_head_reconstructs_its_own_bands() -> None:
    model = tiny()  # non-contiguous groups ((0, 3), (1, 2, 4))
    with torch.no_grad():
        model.decoder_pred[0].weight.zero_()
        model.decoder_pred[0].bias.fill_(7.0)
    _, pred, _ = model(torch.randn(2, 5, 16, 16))
    assert torch.all(pred[:, [0, 3]] == 7.0)
    assert not torch.any(pred[:, [1, 2, 4]] == 7.0)


def test_norm_pix_target() -> None:
    model = tiny(norm_pix_loss=True)
    target = model.target(torch.rand(2, 5, 16, 16) * 100)
    flat = target.transpose(1, 2).reshape(2, 4, -1)
    assert torch.allclose(flat.mean(-1), torch.zeros(2, 4), atol=1e-5)
    assert torch.allclose(flat.var(-1), torch.ones(2, 4), atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channel_groups": ((0, 1), (2, 3))}, r"left out \[4\]"),
        ({"channel_groups": ((0, 1, 3), (1, 2, 4))}, r"repeated \[1\]"),
        ({"channel_groups": ((0, 7), (1, 2, 3, 4))}, "band index 7"),
        ({"channel_groups": (("B2", "B3"), ("B4",))}, "unknown band 'B2'"),
        (
            {
                "bands": ["B2", "B3", "B4", "B8", "B11"],
                "channel_groups": [["B2", "B9"], ["B3", "B4", "B8", "B11"]],
            },
            "unknown band 'B9'",
        ),
        ({"bands": ["B2", "B3"]}, "bands has 2 names"),
        ({"img_size": 20}, "img_size=20 must be divisible by patch_size=8"),
        ({"num_heads": 3}, "embed_dim=32 must be divisible by num_heads=3"),
        ({"channel_embed": 32}, "embed_dim=32 must be larger than channel_embed=32"),
        ({"decoder_channel_embed": 40}, "decoder_embed_dim=32 must be larger"),
        ({"decoder_num_heads": 5}, "decoder_num_heads=5"),
        ({"mask_ratio": 1.0}, r"mask_ratio must be in \(0, 1\)"),
        ({"mask_ratio": 0.0}, r"mask_ratio must be in \(0, 1\)"),
        ({"mask_ratio": 0.95}, "leaves no visible token"),
        ({"mask_ratio": 0.8, "masking": "consistent"}, "leaves no visible token"),
        ({"masking": "random"}, "valid choices are"),
    ],
)
def test_bad_construction(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_bad_call_arguments() -> None:
    model = tiny()
    with pytest.raises(ValueError, match=r"input must have shape \(N, 5, 16, 16\)"):
        model(torch.randn(1, 4, 16, 16))
    with pytest.raises(ValueError, match="leaves no visible token"):
        model(torch.randn(1, 5, 16, 16), mask_ratio=0.95)
    with pytest.raises(ValueError, match="unknown SatMAE preset"):
        create_satmae("satmae_vit_huge")
