import pytest
import torch

from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.models import BandAdapter, create_backbone

BANDS = ["B2", "B3", "B4", "B8"]
SATMAE = {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 8, "depth": 1}


def test_adapter_selects_reorders_and_resizes() -> None:
    b = create_backbone(
        "timm:vit_small_patch16_224",
        input_size=32,
        band_set="rgb",
        depth=1,
        embed_dim=32,
        num_heads=2,
    )
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
    b = create_backbone(**SATMAE)
    adapter = BandAdapter(S2_BANDS, b)
    out = adapter(torch.full((1, 13, 8, 8), 1e6))
    assert out.shape == (1, 10, 8, 8) and float(out.max()) == 1.0


def test_adapter_names_missing_band() -> None:
    b = create_backbone(**SATMAE)
    with pytest.raises(ValueError, match=r"needs band\(s\) \['B5'"):
        BandAdapter(BANDS, b, name="satmae")
