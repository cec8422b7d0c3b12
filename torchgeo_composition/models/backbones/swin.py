"""TorchGeo's (torchvision) Swin Transformers as backbones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .registry import Backbone

__all__ = ["SwinBackbone", "torchvision_swin"]


class SwinBackbone(Backbone):
    """A torchvision Swin (v1 or v2): four stage outputs, mean-pooled features."""

    def __init__(self, model: nn.Module) -> None:
        """Wrap a torchvision Swin model.

        Args:
            model: A ``torchvision.models.SwinTransformer``.
        """
        m: Any = model
        features: Any = m.features
        dims = [int(features[i][-1].norm1.normalized_shape[0]) for i in (1, 3, 5, 7)]
        super().__init__(
            bands="any",
            input_size=None,
            feature_dim=dims[-1],
            feature_info=[
                {"num_chs": c, "reduction": 4 * 2**i} for i, c in enumerate(dims)
            ],
        )
        self.model = model

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return the output of each stage, ``(N, C, H/s, W/s)``."""
        out = []
        m: Any = self.model
        for i, layer in enumerate(m.features):
            x = layer(x)
            if i in (1, 3, 5, 7):
                out.append(x.permute(0, 3, 1, 2))
        return out

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the normalised, globally averaged last stage."""
        m: Any = self.model
        x = m.norm(m.features(x))
        return x.mean(dim=(1, 2))


def torchvision_swin(
    builder: Callable[..., nn.Module], bands: Sequence[str], **kwargs: Any
) -> SwinBackbone:
    """Build a random-init Swin taking ``len(bands)`` channels.

    Args:
        builder: A :mod:`torchgeo.models` Swin function (e.g. ``swin_v2_t``).
        bands: Data bands.
        **kwargs: Passed to the torchvision constructor.

    Returns:
        The backbone.
    """
    model: Any = builder(None, **kwargs)
    first: nn.Conv2d = model.features[0][0]
    model.features[0][0] = nn.Conv2d(
        len(bands),
        first.out_channels,
        kernel_size=first.kernel_size,  # type: ignore[arg-type]
        stride=first.stride,  # type: ignore[arg-type]
    )
    with torch.no_grad():
        model.head = nn.Identity()
    return SwinBackbone(model)
