"""TerraTorch interop (the terratorch extra): ``prithvi:`` backbones, our SatMAE
encoders in TerraTorch's registry, and a TerraTorch config that uses one.

Nothing is downloaded: Prithvi starts at random or from a tiny checkpoint written
here in the released format (a ``PrithviMAE`` state dict saved with ``torch.save``).
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import pytest
import torch
import yaml

from torchgeo_composition.models import create_backbone
from torchgeo_composition.models.backbones.prithvi import PRITHVI_BANDS

pytestmark = [
    pytest.mark.terratorch,
    pytest.mark.skipif(
        importlib.util.find_spec("terratorch") is None,
        reason="terratorch is not installed (make test-terratorch installs the extra)",
    ),
]

REPO = Path(__file__).parents[3]
#: Prithvi-EO "tiny" architecture at a 32 px input (2 x 2 patches of 16 px).
TINY_PRITHVI = {
    "img_size": 32,
    "num_frames": 1,
    "in_chans": 6,
    "embed_dim": 256,
    "depth": 4,
    "num_heads": 4,
    "decoder_embed_dim": 128,
    "decoder_depth": 4,
    "decoder_num_heads": 4,
}


def test_prithvi_backbone_at_random() -> None:
    backbone = create_backbone(
        "prithvi:prithvi_eo_tiny", bands=PRITHVI_BANDS, input_size=32
    )
    x = torch.randn(2, 6, 32, 32)
    with torch.no_grad():
        tokens = backbone.forward_features(x)
        maps = backbone.forward_intermediates(x, [-1])
        pooled = backbone(x)
    assert tokens.shape == (2, 1 + 4, 256)
    assert [tuple(m.shape) for m in maps] == [(2, 256, 2, 2)]
    assert pooled.shape == (2, 256)
    assert backbone.bands == PRITHVI_BANDS


def test_prithvi_backbone_loads_a_released_format_checkpoint(tmp_path: Path) -> None:
    from terratorch.models.backbones.prithvi_mae import PrithviMAE

    torch.manual_seed(0)
    mae = PrithviMAE(**TINY_PRITHVI)
    path = tmp_path / "Prithvi_EO_tiny.pt"
    torch.save(mae.state_dict(), path)  # encoder.* and decoder.* keys, as released

    backbone = create_backbone(
        "prithvi:prithvi_eo_tiny", bands=PRITHVI_BANDS, weights=str(path), input_size=32
    )
    loaded = backbone.state_dict()
    expected = mae.encoder.state_dict()
    for key in ("blocks.0.attn.qkv.weight", "blocks.3.mlp.fc2.bias", "norm.weight"):
        assert torch.equal(loaded[f"model.{key}"], expected[key]), key


def test_prithvi_refuses_a_crafted_checkpoint(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (Path.touch, (str(marker),))  # type: ignore[return-value]

    path.write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(ValueError, match=r"evil\.pt"):
        create_backbone(
            "prithvi:prithvi_eo_tiny", bands=PRITHVI_BANDS, weights=str(path)
        )
    assert not marker.exists()


def test_satmae_encoders_are_in_terratorchs_registry() -> None:
    from terratorch.registry import BACKBONE_REGISTRY

    from torchgeo_composition.models.backbones import terratorch_registry as tr

    assert tr.register_terratorch_backbones() == tr.TERRATORCH_BACKBONES  # idempotent
    assert "tgc_satmae_vit_tiny_patch8_96" in BACKBONE_REGISTRY
    assert set(tr.TERRATORCH_BACKBONES) <= set(BACKBONE_REGISTRY)
    encoder = BACKBONE_REGISTRY.build(
        "tgc_satmae_vit_tiny_patch8_96", img_size=32, out_indices=[1, -1]
    )
    with torch.no_grad():
        maps = encoder(torch.rand(2, 10, 32, 32) * 3000)
    assert encoder.out_channels == [192, 192]
    assert [tuple(m.shape) for m in maps] == [(2, 192, 4, 4)] * 2


def test_satmae_encoder_loads_our_checkpoint_through_terratorch(tmp_path: Path) -> None:
    from terratorch.registry import BACKBONE_REGISTRY

    import torchgeo_composition.models.backbones.terratorch_registry  # noqa: F401
    from torchgeo_composition.models import create_satmae_encoder

    torch.manual_seed(1)
    source = create_satmae_encoder("satmae_vit_tiny_patch8_96", img_size=32)
    path = tmp_path / "satmae.pth"
    torch.save({"model": source.state_dict()}, path)  # the reference layout
    encoder = BACKBONE_REGISTRY.build(
        "tgc_satmae_vit_tiny_patch8_96",
        pretrained=True,
        ckpt_path=str(path),
        img_size=32,
    )
    weight = "blocks.0.attn.qkv.weight"
    assert torch.equal(
        encoder.backbone.model.state_dict()[weight], source.state_dict()[weight]
    )

    with pytest.raises(ValueError, match="backbone_ckpt_path"):
        BACKBONE_REGISTRY.build("tgc_satmae_vit_tiny_patch8_96", pretrained=True)
    with pytest.raises(ValueError, match="out_indices"):
        BACKBONE_REGISTRY.build("tgc_satmae_vit_tiny_patch8_96", out_indices=[4])
    with pytest.raises(ValueError, match="lacks"):
        BACKBONE_REGISTRY.build("tgc_satmae_vit_tiny_patch8_96", bands=["B2", "B3"])


def test_terratorch_config_builds_and_trains_a_classifier() -> None:
    from terratorch.tasks import ClassificationTask

    import torchgeo_composition.models.backbones.terratorch_registry  # noqa: F401

    config = yaml.safe_load(
        (REPO / "configs/terratorch/satmae_classification.yaml").read_text()
    )
    init_args = config["model"]["init_args"]
    assert config["model"]["class_path"] == "terratorch.tasks.ClassificationTask"
    task = ClassificationTask(**init_args)
    bands = init_args["model_args"]["backbone_bands"]
    x = torch.rand(4, len(bands), 32, 32) * 3000
    y = torch.tensor([0, 1, 2, 3])
    out = task.model(x).output
    assert out.shape == (4, init_args["model_args"]["num_classes"])
    loss = torch.nn.functional.cross_entropy(out, y)
    loss.backward()
    grads = [p.grad for p in task.model.encoder.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
