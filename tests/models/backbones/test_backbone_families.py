import importlib.metadata
import os
import sys
import types
from typing import Any

import pytest
import torch
from torch import Tensor

from torchgeo_composition import plugins
from torchgeo_composition.bands import S2_BANDS, SATMAE_BANDS
from torchgeo_composition.models import Backbone, create_backbone, list_backbones

TINY_VIT = {"depth": 1, "embed_dim": 32, "num_heads": 2}


def _run(b: Backbone, channels: int) -> tuple[Tensor, list[Tensor]]:
    size = b.input_size or 32
    x = torch.rand(2, channels, size, size)
    with torch.no_grad():
        return b.forward_features(x), b.forward_levels(x)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (
            "timm:hiera_tiny_224",
            {"input_size": 32, "embed_dim": 16, "num_heads": 1, "stages": [1, 1, 1, 1]},
        ),
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
        ("satmae:satmae_vit_tiny_patch8_96", {"input_size": 16, "depth": 1}),
    ],
)
def test_builtin_families(name: str, kwargs: dict[str, Any]) -> None:
    b = create_backbone(name, bands=S2_BANDS, **kwargs)
    channels = len(S2_BANDS) if b.bands == "any" else len(b.bands)
    pooled, levels = _run(b, channels)
    assert pooled.shape == (2, b.feature_dim)
    assert [t.shape[1] for t in levels] == [i["num_chs"] for i in b.feature_info]
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


def test_hierarchical_levels_have_increasing_strides() -> None:
    b = create_backbone("timm:test_resnet")
    assert [i["reduction"] for i in b.feature_info] == [4, 8, 16, 32]


def test_unknown_names_list_close_matches() -> None:
    with pytest.raises(ValueError, match=r"close matches.*timm"):
        create_backbone("tim:resnet18")
    with pytest.raises(ValueError, match="resnet18"):
        create_backbone("timm:resnet_18")
    with pytest.raises(ValueError, match="dofa_small_patch16_224"):
        create_backbone("torchgeo:dofa_smal_patch16_224")
    assert "timm:hiera_tiny_224" in list_backbones()


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
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_backbone("satmae:satmae_vit_tiny_patch8_96", checkpoint="nope.pth")


class _Declared(Backbone):
    def __init__(self, dim: int, actual: int) -> None:
        super().__init__(
            bands="any",
            input_size=8,
            feature_dim=dim,
            feature_info=[{"num_chs": actual, "reduction": 8}],
        )
        self.proj = torch.nn.Conv2d(4, actual, 8, stride=8)

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        return [self.proj(x)]

    def forward_features(self, x: Tensor) -> Tensor:
        return self.proj(x).mean(dim=(2, 3))


def _fake_factory(variant: str, *, bands: Any, **kwargs: Any) -> Backbone:
    return _Declared(int(variant or 5), 5)


def _with_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("tgc_fake_backbones")
    module.factory = _fake_factory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tgc_fake_backbones", module)
    ep = importlib.metadata.EntryPoint(
        name="acme", value="tgc_fake_backbones:factory", group=plugins.BACKBONE_GROUP
    )
    monkeypatch.setattr(
        plugins,
        "entry_points",
        lambda *, group=None: [ep] if group == plugins.BACKBONE_GROUP else [],
    )


def test_entry_point_backbone(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch)
    b = create_backbone("acme", bands=["B2", "B3", "B4", "B8"])
    assert b.feature_dim == 5
    assert "acme:" in list_backbones()


def test_declared_dim_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    _with_plugin(monkeypatch)
    with pytest.raises(ValueError, match="declares feature_dim=7"):
        create_backbone("acme:7", bands=["B2", "B3", "B4", "B8"])


def test_bad_band_keyword() -> None:
    with pytest.raises(ValueError, match="'rgb' or 'any'"):
        _Declared.__mro__[1].__init__(
            _Declared.__new__(_Declared),
            bands="all",
            input_size=8,
            feature_dim=1,
            feature_info=[],
        )
