from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from torchgeo_composition.models import (
    GroupChannelMAE,
    GroupChannelViT,
    create_satmae_encoder,
    export_encoder,
    load_satmae_checkpoint,
    load_satmae_encoder,
)

# A tiny SatMAE: 16 px, patch 8 (L = 4), bands 5 in groups (0, 3) and (1, 2, 4),
# D = 32 with 8 group dims, decoder 24 with 8 group dims, one block each.
D, CD, DD, DCD, L, P2 = 32, 8, 24, 8, 4, 64
GROUPS = ((0, 3), (1, 2, 4))
KWARGS = {
    "img_size": 16,
    "patch_size": 8,
    "in_chans": 5,
    "channel_groups": GROUPS,
    "embed_dim": D,
    "depth": 1,
    "num_heads": 2,
    "channel_embed": CD,
    "decoder_embed_dim": DD,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
    "decoder_channel_embed": DCD,
}
ENCODER_KWARGS = {k: v for k, v in KWARGS.items() if not k.startswith("decoder")}


def block_shapes(prefix: str, dim: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.norm1.weight": (dim,),
        f"{prefix}.norm1.bias": (dim,),
        f"{prefix}.attn.qkv.weight": (3 * dim, dim),
        f"{prefix}.attn.qkv.bias": (3 * dim,),
        f"{prefix}.attn.proj.weight": (dim, dim),
        f"{prefix}.attn.proj.bias": (dim,),
        f"{prefix}.norm2.weight": (dim,),
        f"{prefix}.norm2.bias": (dim,),
        f"{prefix}.mlp.fc1.weight": (4 * dim, dim),
        f"{prefix}.mlp.fc1.bias": (4 * dim,),
        f"{prefix}.mlp.fc2.weight": (dim, 4 * dim),
        f"{prefix}.mlp.fc2.bias": (dim,),
    }


# Written from the reference's parameter list, independently of the model code.
ENCODER_COMMON = {
    "cls_token": (1, 1, D),
    "pos_embed": (1, L + 1, D - CD),
    "channel_embed": (1, 2, CD),
    "patch_embed.0.proj.weight": (D, 2, 8, 8),
    "patch_embed.0.proj.bias": (D,),
    "patch_embed.1.proj.weight": (D, 3, 8, 8),
    "patch_embed.1.proj.bias": (D,),
    **block_shapes("blocks.0", D),
}
REFERENCE_MAE = {
    **ENCODER_COMMON,
    "norm.weight": (D,),
    "norm.bias": (D,),
    "mask_token": (1, 1, DD),
    "decoder_pos_embed": (1, L + 1, DD - DCD),
    "decoder_channel_embed": (1, 3, DCD),
    "decoder_embed.weight": (DD, D),
    "decoder_embed.bias": (DD,),
    **block_shapes("decoder_blocks.0", DD),
    "decoder_norm.weight": (DD,),
    "decoder_norm.bias": (DD,),
    "decoder_pred.0.weight": (2 * P2, DD),
    "decoder_pred.0.bias": (2 * P2,),
    "decoder_pred.1.weight": (3 * P2, DD),
    "decoder_pred.1.bias": (3 * P2,),
}
REFERENCE_FINETUNE = {
    **ENCODER_COMMON,
    "channel_cls_embed": (1, 1, CD),
    "fc_norm.weight": (D,),
    "fc_norm.bias": (D,),
    "head.weight": (7, D),
    "head.bias": (7,),
}


def synthetic(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {k: torch.randn(s, generator=gen) for k, s in shapes.items()}


def test_reference_mae_checkpoint_loads_strictly(tmp_path: Path) -> None:
    model = GroupChannelMAE(**KWARGS)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == REFERENCE_MAE
    state = synthetic(REFERENCE_MAE)
    model.load_state_dict(state, strict=True)
    path = tmp_path / "checkpoint-49.pth"
    torch.save({"model": state, "epoch": 49, "args": argparse.Namespace(lr=1e-4)}, path)
    report = load_satmae_checkpoint(GroupChannelMAE(**KWARGS), path)
    assert report.missing == () and report.ignored == ()
    fresh = GroupChannelMAE(**KWARGS)
    load_satmae_checkpoint(fresh, path)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())


def test_encoder_from_mae_reports_ignored_decoder() -> None:
    state = synthetic(REFERENCE_MAE)
    encoder = GroupChannelViT(**ENCODER_KWARGS)
    report = load_satmae_checkpoint(encoder, {"model": state})
    assert "mask_token" in report.ignored
    assert "decoder_pred.1.weight" in report.ignored
    assert report.missing == ("channel_cls_embed",)
    assert "norm.weight -> fc_norm.weight" in report.renamed
    assert torch.equal(encoder.fc_norm.weight, state["norm.weight"])
    assert torch.equal(
        encoder.blocks[0].attn.qkv.weight, state["blocks.0.attn.qkv.weight"]
    )


def test_finetune_checkpoint_loads_into_encoder() -> None:
    encoder = GroupChannelViT(**ENCODER_KWARGS)
    expected = {k: v for k, v in REFERENCE_FINETUNE.items() if not k.startswith("head")}
    assert {k: tuple(v.shape) for k, v in encoder.state_dict().items()} == expected
    report = load_satmae_checkpoint(encoder, {"model": synthetic(REFERENCE_FINETUNE)})
    assert report.missing == () and report.ignored == ("head.bias", "head.weight")


def test_lightning_and_bare_state_dicts() -> None:
    state = synthetic(REFERENCE_MAE)
    lightning = {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}
    for source in (lightning, state, {f"module.{k}": v for k, v in state.items()}):
        model = GroupChannelMAE(**KWARGS)
        load_satmae_checkpoint(model, source)
        assert torch.equal(model.cls_token, state["cls_token"])


def test_wrong_shapes_and_unknown_keys() -> None:
    state = synthetic(REFERENCE_MAE)
    state["pos_embed"] = torch.zeros(1, 10, D - CD)
    with pytest.raises(
        ValueError, match=r"pos_embed: checkpoint \(1, 10, 24\) vs model \(1, 5, 24\)"
    ):
        load_satmae_checkpoint(GroupChannelMAE(**KWARGS), {"model": state})
    state = synthetic(REFERENCE_MAE) | {"extra.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"unexpected \['extra.weight'\]"):
        load_satmae_checkpoint(GroupChannelMAE(**KWARGS), {"model": state})
    report = load_satmae_checkpoint(
        GroupChannelMAE(**KWARGS), {"model": state}, strict=False
    )
    assert report.ignored == ("extra.weight",)
    partial = {
        k: v for k, v in synthetic(REFERENCE_MAE).items() if not k.startswith("decoder")
    }
    with pytest.raises(ValueError, match="missing"):
        load_satmae_checkpoint(GroupChannelMAE(**KWARGS), {"model": partial})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_satmae_checkpoint(GroupChannelMAE(**KWARGS), "/nonexistent/ckpt.pth")
    with pytest.raises(ValueError, match="holds no state dict"):
        load_satmae_checkpoint(GroupChannelMAE(**KWARGS), {"epoch": 1})


def test_export_encoder(tmp_path: Path) -> None:
    model = GroupChannelMAE(**KWARGS)
    ckpt = tmp_path / "task.ckpt"
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "satmae_config": model.config,
        },
        ckpt,
    )
    out = export_encoder(ckpt, tmp_path / "out" / "encoder.pth")
    payload = torch.load(out, weights_only=True)
    expected = {k: v for k, v in REFERENCE_FINETUNE.items() if not k.startswith("head")}
    assert {k: tuple(v.shape) for k, v in payload["model"].items()} == expected
    encoder = GroupChannelViT(**ENCODER_KWARGS)
    encoder.load_state_dict(payload["model"], strict=True)
    rebuilt = load_satmae_encoder(out)
    assert torch.equal(
        rebuilt.patch_embed[1].proj.weight, model.patch_embed[1].proj.weight
    )
    assert [p.name for p in out.parent.iterdir()] == [
        "encoder.pth"
    ]  # no temp file left
    # Through the preset factory with overrides.
    enc = create_satmae_encoder(
        "satmae_vit_tiny_patch8_96", checkpoint=out, **ENCODER_KWARGS
    )
    x = torch.randn(2, 5, 16, 16)
    assert torch.allclose(enc(x), rebuilt(x))
    with pytest.raises(ValueError, match="not a SatMAE checkpoint"):
        torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "bad.pth")
        export_encoder(tmp_path / "bad.pth", tmp_path / "x.pth")
