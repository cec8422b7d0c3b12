"""Prithvi backbones through terratorch (optional extra ``terratorch``)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .registry import Backbone

__all__ = ["PrithviBackbone", "build_prithvi"]

#: Bands Prithvi EO v1/v2 take: blue, green, red, narrow NIR, SWIR 1, SWIR 2.
PRITHVI_BANDS = ("B2", "B3", "B4", "B8A", "B11", "B12")


class PrithviBackbone(Backbone):  # pragma: no cover - needs terratorch
    """A terratorch Prithvi ViT: pooled = mean of the last block's patch tokens."""

    def __init__(self, model: nn.Module, input_size: int) -> None:
        """Wrap a terratorch Prithvi ViT.

        Args:
            model: The terratorch backbone.
            input_size: Input size it was built for.
        """
        m: Any = model
        dim = int(m.embed_dim)
        patch = m.patch_embed.patch_size
        stride = int(patch[-1] if isinstance(patch, tuple | list) else patch)
        depth = len(m.blocks)
        super().__init__(
            bands=PRITHVI_BANDS,
            input_size=input_size,
            feature_dim=dim,
            feature_info=[{"num_chs": dim, "reduction": stride}] * 4,
        )
        self.model = model
        self.take = [round((i + 1) * depth / 4) - 1 for i in range(4)]

    def _blocks(self, x: Tensor) -> list[Tensor]:
        out: list[Tensor] = self.model.forward_features(x)  # type: ignore[operator]
        return out

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the mean of the last block's patch tokens."""
        return self._blocks(x)[-1][:, 1:].mean(dim=1)

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return four evenly spaced block outputs as maps."""
        n, _, h, w = x.shape
        stride = self.feature_info[0]["reduction"]
        blocks = self._blocks(x)
        return [
            blocks[i][:, -(h // stride) * (w // stride) :]
            .transpose(1, 2)
            .reshape(n, -1, h // stride, w // stride)
            for i in self.take
        ]


def build_prithvi(
    variant: str, weights: str | None, input_size: int | None, **kwargs: Any
) -> Backbone:  # pragma: no cover - needs terratorch
    """Build a Prithvi backbone from terratorch's registry (never downloads).

    Args:
        variant: terratorch backbone name, e.g. ``"prithvi_eo_v2_300"``.
        weights: ``None`` (random init) or a local checkpoint file.
        input_size: Input size (default 224).
        **kwargs: Passed to the terratorch registry.

    Returns:
        The backbone.
    """
    from terratorch.registry import BACKBONE_REGISTRY

    size = input_size or 224
    model = BACKBONE_REGISTRY.build(
        variant,
        pretrained=weights is not None,
        ckpt_path=weights,
        img_size=size,
        num_frames=1,
        **kwargs,
    )
    return PrithviBackbone(model, size)
