"""TorchGeo's (torchvision) Swin Transformers: ``torchgeo:swin_*``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from timm.models._features import feature_take_indices
from torch import Tensor, nn

from .base import Backbone
from .registry import register_backbone
from .weights import load_weights

__all__ = ["SwinBackbone", "swin_backbone"]

#: Indices of the four stages in ``model.features`` (patch merging in between).
_STAGES = (1, 3, 5, 7)


class SwinBackbone(Backbone):
    """A torchvision Swin (v1 or v2): four stage outputs as levels."""

    pools = ("avg", "max")

    def __init__(self, model: nn.Module, pool: str = "avg") -> None:
        """Wrap a torchvision Swin model.

        Args:
            model: A ``torchvision.models.SwinTransformer``.
            pool: ``"avg"`` or ``"max"`` over the last stage's positions.
        """
        features: Any = model.features
        dims = [int(features[i][-1].norm1.normalized_shape[0]) for i in _STAGES]
        super().__init__(
            bands="any",
            input_size=None,
            num_features=dims[-1],
            feature_info=[
                {"num_chs": c, "reduction": 4 * 2**i} for i, c in enumerate(dims)
            ],
            pool=pool,
        )
        self.model = model

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the normalised last stage, ``(N, C, H/32, W/32)``."""
        m: Any = self.model
        out: Tensor = m.norm(m.features(x)).permute(0, 3, 1, 2)
        return out

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return stage outputs, ``(N, C, H/s, W/s)`` (see :class:`Backbone`)."""
        take, last = feature_take_indices(len(_STAGES), indices)
        wanted = {_STAGES[i]: i for i in take}
        maps = {}
        m: Any = self.model
        for i, layer in enumerate(m.features[: _STAGES[last] + 1]):
            x = layer(x)
            if i in wanted:
                maps[wanted[i]] = x.permute(0, 3, 1, 2)
        return [maps[i] for i in take]


def swin_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    pool: Literal["avg", "max"] = "avg",
    **kwargs: Any,
) -> Backbone:
    """Build ``torchgeo:swin_*`` taking ``len(bands)`` channels.

    Args:
        variant: TorchGeo Swin function, e.g. ``"swin_v2_t"``.
        bands: Data bands.
        weights: ``None``, a local file or a TorchGeo weights enum name.
        input_size: Unused (Swin takes any size).
        pool: ``"avg"`` or ``"max"``.
        **kwargs: Passed to the torchvision constructor.

    Returns:
        The backbone.
    """
    from torchgeo import models

    SwinBackbone.check_pool(pool)
    model: Any = getattr(models, variant)(None, **kwargs)
    first: nn.Conv2d = model.features[0][0]
    model.features[0][0] = nn.Conv2d(
        len(bands),
        first.out_channels,
        kernel_size=first.kernel_size,  # type: ignore[arg-type]
        stride=first.stride,  # type: ignore[arg-type]
    )
    model.head = nn.Identity()
    backbone = SwinBackbone(model, pool)
    load_weights(model, weights)
    return backbone


for _name in ("swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_b"):
    register_backbone(f"torchgeo:{_name}")(swin_backbone)
