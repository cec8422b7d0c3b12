import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest
import torch

from torchgeo_composition.bands import S2_BANDS, SATMAE_BANDS
from torchgeo_composition.models import Backbone, create_backbone

TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2}
TINY_HIERA = {"embed_dim": 16, "num_heads": 1, "stages": [1, 1, 1, 1]}


def _input(b: Backbone) -> torch.Tensor:
    size = b.input_size or 32
    channels = len(S2_BANDS) if b.bands == "any" else len(b.bands)
    return torch.rand(2, channels, size, size)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("timm:hiera_tiny_224", {"input_size": 32, **TINY_HIERA}),
        ("timm:vit_small_patch16_224", {"input_size": 16, **TINY_VIT}),
        ("timm:test_resnet", {}),
        ("torchgeo:dofa_small_patch16_224", {"input_size": 16, **TINY_VIT}),
        ("torchgeo:scalemae_large_patch16", {"input_size": 16, **TINY_VIT}),
        ("torchgeo:vit_small_patch16_224", {"input_size": 16, **TINY_VIT}),
        ("torchgeo:resnet18", {}),
        (
            "torchgeo:croma_base",
            {"input_size": 16, "encoder_dim": 32, "encoder_depth": 1},
        ),
        ("torchgeo:swin_v2_t", {}),
        ("satmae:satmae_vit_tiny_patch8_96", {"input_size": 16, "depth": 2}),
    ],
)
def test_builtin_families(name: str, kwargs: dict[str, Any]) -> None:
    b = create_backbone(name, bands=S2_BANDS, **kwargs).eval()
    x = _input(b)
    with torch.no_grad():
        unpooled = b.forward_features(x)
        pooled = b(x)
        levels = b.forward_intermediates(x, b.out_indices)
        last = b.forward_intermediates(x, 1)  # timm: an int n is the last n
    assert unpooled.ndim in (3, 4)  # tokens or maps, as timm
    assert torch.allclose(pooled, b.forward_head(unpooled))
    assert pooled.shape == (2, b.num_features)
    channels = [b.feature_info[i]["num_chs"] for i in b.out_indices]
    assert [t.shape[1] for t in levels] == channels
    assert len(b.out_indices) <= 4 and b.out_indices[-1] == len(b.feature_info) - 1
    assert torch.allclose(last[0], levels[-1])
    assert b.name == name


def test_family_metadata() -> None:
    sat = create_backbone("satmae:satmae_vit_tiny_patch8_96", input_size=16, depth=1)
    assert sat.bands == SATMAE_BANDS and sat.clip == (0.0, 1.0)
    assert sat.mean is not None and len(sat.mean) == 10
    croma = create_backbone(
        "torchgeo:croma_base", input_size=16, encoder_dim=32, encoder_depth=1
    )
    assert isinstance(croma.bands, tuple) and "B10" not in croma.bands
    rgb = create_backbone("timm:test_resnet", band_set="rgb")
    assert rgb.bands == ("B4", "B3", "B2")
    dofa = create_backbone(
        "torchgeo:dofa_small_patch16_224",
        bands=["B02", "B8A"],
        input_size=16,
        **TINY_VIT,
    )
    assert torch.allclose(dofa.wavelengths, torch.tensor([0.490, 0.865]))


def test_levels_for_dense_prediction() -> None:
    res = create_backbone("timm:test_resnet")  # hierarchical: the last four stages
    assert [res.feature_info[i]["reduction"] for i in res.out_indices] == [4, 8, 16, 32]
    vit = create_backbone("timm:vit_small_patch16_224", input_size=16, depth=8)
    assert vit.out_indices == [1, 3, 5, 7]  # plain ViT: evenly spaced blocks


def test_pool_option() -> None:
    kwargs: dict[str, Any] = {"input_size": 16, "depth": 1}
    avg = create_backbone("satmae:satmae_vit_tiny_patch8_96", **kwargs)
    token = create_backbone("satmae:satmae_vit_tiny_patch8_96", pool="token", **kwargs)
    assert (avg.pool, token.pool) == ("avg", "token")
    x = _input(avg)
    with torch.no_grad():  # the encoder's own pooling, unchanged
        assert torch.equal(avg(x), avg.model.forward_features(x))
        assert torch.equal(token(x), token.model.forward_features(x))
    vit = create_backbone("timm:vit_small_patch16_224", pool="avg", **kwargs | TINY_VIT)
    assert vit.pool == "avg" and create_backbone("timm:test_resnet").pool == "avg"
    with pytest.raises(ValueError, match=r"pool='max' is invalid for SatMAEBackbone"):
        create_backbone("satmae:satmae_vit_tiny_patch8_96", pool="max", **kwargs)
    with pytest.raises(ValueError, match="refuses pool='token'"):
        create_backbone("timm:test_resnet", pool="token")


def test_dofa_needs_wavelengths() -> None:
    with pytest.raises(ValueError, match="VV"):
        create_backbone("torchgeo:dofa_small_patch16_224", bands=["B2", "VV"])


def test_prithvi_without_terratorch() -> None:
    if importlib.util.find_spec("terratorch") is not None:
        pytest.skip("terratorch is installed")
    with pytest.raises(ValueError, match=r"torchgeo-composition\[terratorch\]"):
        create_backbone("prithvi:prithvi_eo_v2_300")


def test_weights_enum_not_local(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"place the file .*checkpoints"):
        create_backbone(
            "torchgeo:resnet18", weights="ResNet18_Weights.SENTINEL2_ALL_MOCO"
        )
    with pytest.raises(ValueError, match="weights enum"):
        create_backbone("torchgeo:resnet18", weights="NoSuch_Weights.X")


def test_local_weights_file(tmp_path: Any) -> None:
    src = create_backbone("timm:test_resnet", bands=S2_BANDS[:3])
    path = os.path.join(tmp_path, "w.pth")
    torch.save(src.model.state_dict(), path)
    dst = create_backbone("timm:test_resnet", bands=S2_BANDS[:3], weights=path)
    for key, value in src.model.state_dict().items():
        assert torch.equal(value, dst.model.state_dict()[key])
    torch.save({"other": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="holds no weights"):
        create_backbone("timm:test_resnet", bands=S2_BANDS[:3], weights=path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_backbone("satmae:satmae_vit_tiny_patch8_96", checkpoint="nope.pth")


def test_weights_enum_file_is_read_safely(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.data.checkpoints import crafted

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    name = "ResNet18_Weights.SENTINEL2_ALL_MOCO"
    src = create_backbone("torchgeo:resnet18", weights=None, check=False)
    cached = os.path.join(
        tmp_path, "checkpoints", "resnet18_sentinel2_all_moco-59bfdff9.pth"
    )
    os.makedirs(os.path.dirname(cached))
    crafted(Path(cached), tmp_path / "pwned")
    with pytest.raises(ValueError, match=r"weights '.*': file '.*' was refused.*posix"):
        create_backbone("torchgeo:resnet18", weights=name, check=False)
    assert not (tmp_path / "pwned").exists()
    torch.save(src.model.state_dict(), cached)
    dst = create_backbone("torchgeo:resnet18", weights=name, check=False)
    for key, value in src.model.state_dict().items():
        assert torch.equal(value, dst.model.state_dict()[key])
    with pytest.raises(FileNotFoundError, match=r"weights 'w/missing.pth' does not"):
        create_backbone("torchgeo:resnet18", weights="w/missing.pth", check=False)
