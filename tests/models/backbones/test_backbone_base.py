from typing import Any

import pytest
import torch
from torch import Tensor

from torchgeo_composition.models import Backbone


class Grid(Backbone):
    """Maps (N, 3, H/4, W/4) from a strided convolution, one level."""

    def __init__(self, bands: Any = "any", **kwargs: Any) -> None:
        super().__init__(
            bands=bands,
            input_size=None,
            num_features=3,
            feature_info=[{"num_chs": 3, "reduction": 4}],
            **kwargs,
        )
        self.conv = torch.nn.Conv2d(1, 3, 4, stride=4)

    def forward_features(self, x: Tensor) -> Tensor:
        return self.conv(x)

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        return [self.conv(x)]


class Tokens(Grid):
    """The maps as tokens after one class token of zeros."""

    def forward_features(self, x: Tensor) -> Tensor:
        tokens = self.conv(x).flatten(2).transpose(1, 2)
        return torch.cat([torch.zeros_like(tokens[:, :1]), tokens], dim=1)


def test_missing_abstract_methods_cannot_instantiate() -> None:
    class NoMethods(Backbone):
        pass

    class OnlyFeatures(Backbone):
        def forward_features(self, x: Tensor) -> Tensor:
            return x

    for cls in (NoMethods, OnlyFeatures):
        with pytest.raises(TypeError, match="abstract"):
            cls(bands="any", input_size=None, num_features=1, feature_info=[])


def test_pooling_of_maps_and_tokens() -> None:
    x = torch.rand(2, 1, 8, 8)
    avg, mx = Grid(pool="avg"), Grid(pool="max")
    mx.load_state_dict(avg.state_dict())
    maps = avg.forward_features(x)
    assert maps.shape == (2, 3, 2, 2)  # unpooled
    assert torch.allclose(avg(x), maps.mean(dim=(2, 3)))
    assert torch.allclose(mx(x), maps.amax(dim=(2, 3)))
    tokens = Tokens(pool="avg", num_prefix_tokens=1)
    tokens.load_state_dict(avg.state_dict())
    assert tokens.forward_features(x).shape == (2, 5, 3)
    assert torch.allclose(tokens(x), avg(x), atol=1e-6)  # class token left out
    first = Tokens(pool="token", num_prefix_tokens=1)
    assert torch.equal(first(x), torch.zeros(2, 3))


def test_invalid_pool_and_metadata() -> None:
    with pytest.raises(ValueError, match=r"pool='mean' is invalid.*'avg'"):
        Grid(pool="mean")
    with pytest.raises(ValueError, match="needs a class token"):
        Grid(pool="token")
    with pytest.raises(ValueError, match="'rgb' or 'any'"):
        Grid(bands="all")
    with pytest.raises(ValueError, match="takes 2 bands"):
        Grid(bands=["B2", "B3"], mean=[0.0], std=[1.0])
    assert Grid(bands="rgb").bands == ("B4", "B3", "B2")
    assert Grid().out_indices == [0]
