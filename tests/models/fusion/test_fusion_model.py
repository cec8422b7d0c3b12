from typing import Any

import pytest
import torch

from torchgeo_composition.bands import SATMAE_BANDS
from torchgeo_composition.models import BandAdapter, FeatureFusion

BANDS = ["B2", "B3", "B4", "B8"]
VIT = {"name": "timm:vit_small_patch16_224", "input_size": 16, "depth": 1}
VIT |= {"embed_dim": 32, "num_heads": 2}
RES = {"name": "timm:test_resnet"}
SATMAE = {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 8, "depth": 1}


def _fusion(**kwargs: Any) -> FeatureFusion:
    args: dict[str, Any] = {"backbones": [VIT, RES], "bands": BANDS, "num_classes": 3}
    return FeatureFusion(**(args | kwargs))


@pytest.mark.parametrize("fusion", ["concat", "mean", "weighted", "attention"])
def test_fusion_modes(fusion: str) -> None:
    model = _fusion(fusion=fusion, projection_dim=None if fusion == "concat" else 8)
    x = torch.rand(2, 4, 16, 16)
    assert model(x).shape == (2, 3)
    expected = 32 + 96 if fusion == "concat" else 8  # test_resnet: 96 features
    assert model.feature_dim == expected
    seg = _fusion(fusion=fusion, projection_dim=8, decoder="upernet")
    assert seg(torch.rand(2, 4, 32, 32)).shape == (2, 3, 32, 32)


def test_backbone_features_are_the_pooled_features() -> None:
    model = _fusion().eval()
    x = torch.rand(2, 4, 16, 16)
    with torch.no_grad():
        feats = model.backbone_features(x)
        for i, f in enumerate(feats):
            backbone = model.get_backbone(i)
            assert torch.equal(f, backbone(model.adapters[i](x)))
            assert f.shape == (2, backbone.num_features)


def test_frozen_backbones_stay_eval_and_get_no_grad() -> None:
    model = _fusion(backbones=[VIT, RES | {"frozen": False}])
    model.train()
    assert not model.backbones[0].training and model.backbones[1].training
    model(torch.rand(2, 4, 16, 16)).sum().backward()
    assert all(p.grad is None for p in model.backbones[0].parameters())
    assert any(p.grad is not None for p in model.backbones[1].parameters())
    assert all(p.grad is not None for p in model.head.parameters())


def test_backbone_normalisation_undoes_datamodule_stats() -> None:
    model = FeatureFusion(
        [SATMAE], SATMAE_BANDS, num_classes=2, input_normalization="backbone"
    ).eval()
    model.set_input_stats([10.0] * 10, [2.0] * 10)
    backbone = model.get_backbone(0)
    raw = torch.full((1, 10, 8, 8), 10.0)  # the datamodule delivers (raw - 10) / 2
    with torch.no_grad():
        (feats,) = model.backbone_features(torch.zeros(1, 10, 8, 8))
        assert torch.allclose(feats, backbone(BandAdapter(SATMAE_BANDS, backbone)(raw)))
    with pytest.raises(ValueError, match="bands has 10"):
        model.set_input_stats([0.0] * 3, [1.0] * 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fusion": "film"}, "fusion='film' is invalid"),
        ({"fusion": "mean"}, "set projection_dim"),
        ({"head": "svm"}, "head='svm'"),
        ({"decoder": "unet"}, "decoder='unet'"),
        ({"input_normalization": "zscore"}, "input_normalization='zscore'"),
        ({"backbones": []}, "backbones is empty"),
        ({"backbones": [{"frozen": True}]}, "has no 'name'"),
    ],
)
def test_bad_fusion_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _fusion(**kwargs)


def test_fingerprint_tracks_weights() -> None:
    torch.manual_seed(0)
    a = _fusion(backbones=[VIT]).backbone_fingerprint()
    torch.manual_seed(0)
    assert _fusion(backbones=[VIT]).backbone_fingerprint() == a
    torch.manual_seed(1)
    assert _fusion(backbones=[VIT]).backbone_fingerprint() != a
