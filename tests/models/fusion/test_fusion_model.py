from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from torchgeo_composition.models import (
    BandAdapter,
    FeatureCache,
    FeatureFusion,
    create_backbone,
    linear_cka,
)
from torchgeo_composition.models.fusion.cache import (
    dataset_fingerprint,
    sample_digests,
)

BANDS = ["B2", "B3", "B4", "B8"]
VIT = {"name": "timm:vit_small_patch16_224", "input_size": 16, "depth": 1}
VIT |= {"embed_dim": 32, "num_heads": 2}
RES = {"name": "timm:test_resnet"}
RGB_VIT = VIT | {"band_set": "rgb", "input_size": 32}


def _fusion(**kwargs: Any) -> FeatureFusion:
    args: dict[str, Any] = {"backbones": [VIT, RES], "bands": BANDS, "num_classes": 3}
    return FeatureFusion(**(args | kwargs))


def test_adapter_selects_reorders_and_resizes() -> None:
    b = create_backbone(**RGB_VIT)
    adapter = BandAdapter(BANDS, b)
    x = torch.arange(4.0).view(1, 4, 1, 1).expand(1, 4, 8, 8)
    out = adapter(x)
    assert out.shape == (1, 3, 32, 32)
    assert out[0, :, 0, 0].tolist() == [2.0, 1.0, 0.0]  # B4, B3, B2


def test_adapter_identity_shares_input() -> None:
    b = create_backbone("timm:test_resnet", bands=BANDS)
    adapter = BandAdapter(BANDS, b)
    x = torch.rand(1, 4, 8, 8)
    assert adapter(x) is x


def test_adapter_normalises_and_clips() -> None:
    b = create_backbone("satmae:satmae_vit_tiny_patch8_96", input_size=8, depth=1)
    from torchgeo_composition.bands import S2_BANDS

    adapter = BandAdapter(S2_BANDS, b)
    out = adapter(torch.full((1, 13, 8, 8), 1e6))
    assert out.shape == (1, 10, 8, 8) and float(out.max()) == 1.0


def test_adapter_names_missing_band() -> None:
    b = create_backbone("satmae:satmae_vit_tiny_patch8_96", input_size=8, depth=1)
    with pytest.raises(ValueError, match=r"needs band\(s\) \['B5'"):
        BandAdapter(BANDS, b, name="satmae")


@pytest.mark.parametrize("fusion", ["concat", "mean", "weighted", "attention"])
def test_fusion_modes(fusion: str) -> None:
    model = _fusion(fusion=fusion, projection_dim=None if fusion == "concat" else 8)
    x = torch.rand(2, 4, 16, 16)
    assert model(x).shape == (2, 3)
    expected = 32 + 96 if fusion == "concat" else 8  # test_resnet: 96 features
    assert model.feature_dim == expected
    if fusion == "weighted":
        assert torch.allclose(model.fuser.weights(), torch.full((2,), 0.5))
    seg = _fusion(fusion=fusion, projection_dim=8, decoder="upernet")
    assert seg(torch.rand(2, 4, 32, 32)).shape == (2, 3, 32, 32)


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
        [{"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 8, "depth": 1}],
        bands=list(__import__("torchgeo_composition.bands").bands.SATMAE_BANDS),
        num_classes=2,
        normalization="backbone",
    )
    model.set_input_stats([10.0] * 10, [2.0] * 10)
    x = torch.zeros(1, 10, 8, 8)
    (inp,) = model._inputs(x)
    adapter = model.adapters[0]
    assert torch.allclose(
        inp, ((torch.full_like(x, 10.0)) - adapter.mean) / adapter.std
    )
    with pytest.raises(ValueError, match="bands has 10"):
        model.set_input_stats([0.0] * 3, [1.0] * 3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fusion": "film"}, "fusion='film' is invalid"),
        ({"fusion": "mean"}, "set projection_dim"),
        ({"head": "svm"}, "head='svm'"),
        ({"decoder": "unet"}, "decoder='unet'"),
        ({"normalization": "zscore"}, "normalization='zscore'"),
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


def test_feature_cache_roundtrip(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    images = torch.rand(5, 2, 4, 4)
    digests = sample_digests(images)
    key = cache.key("bb", "train", dataset_fingerprint(digests))
    assert cache.load(key) is None  # miss
    feats = [torch.arange(10.0).view(5, 2), torch.ones(5, 3)]
    cache.write(key, digests, feats, {"note": 1})
    entry = cache.load(key)  # hit
    assert entry is not None and len(entry) == 5
    assert isinstance(entry.features, np.memmap)
    got, found = entry.lookup(sample_digests(images[[3, 1]]))
    assert found == [True, True] and got[0].tolist() == [[6.0, 7.0], [2.0, 3.0]]
    changed = images.clone()
    changed[0] += 1  # a change of inputs gives another key
    assert cache.key("bb", "train", dataset_fingerprint(sample_digests(changed))) != key
    _, found = entry.lookup(sample_digests(changed[:1]))
    assert found == [False]
    assert not list(tmp_path.glob("cache/.*"))  # no temporary leftovers


def test_feature_cache_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"feature_cache=.*not a writable"):
        FeatureCache(blocker / "sub")


def test_linear_cka() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g)
    assert linear_cka(x, x) == pytest.approx(1.0)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, 3 * x @ q) == pytest.approx(1.0)
    assert linear_cka(x, torch.randn(50, 4, generator=g)) < 0.5
    with pytest.raises(ValueError, match="same N"):
        linear_cka(x, x[:10])
    with pytest.raises(ValueError, match="constant"):
        linear_cka(torch.ones(5, 2), x[:5])
