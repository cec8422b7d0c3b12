"""The ``prithvi`` family: Prithvi ViTs through terratorch (optional extra)."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Literal

from timm.models._features import feature_take_indices
from torch import Tensor, nn

from ...serialization import check_checkpoint
from .base import Backbone
from .registry import register_backbone

__all__ = ["PRITHVI_BANDS", "PrithviBackbone", "prithvi_backbone"]

#: Bands Prithvi EO v1/v2 take: blue, green, red, narrow NIR, SWIR 1, SWIR 2.
PRITHVI_BANDS = ("B2", "B3", "B4", "B8A", "B11", "B12")


class PrithviBackbone(Backbone):  # pragma: no cover - needs terratorch
    """A terratorch Prithvi ViT: tokens of the last block, levels per block."""

    pools = ("avg", "token")

    def __init__(self, model: nn.Module, input_size: int, pool: str = "avg") -> None:
        """Wrap a terratorch Prithvi ViT.

        Args:
            model: The terratorch backbone.
            input_size: Input size it was built for.
            pool: ``"avg"`` (patch tokens) or ``"token"`` (class token).
        """
        m: Any = model
        patch = m.patch_embed.patch_size
        stride = int(patch[-1] if isinstance(patch, tuple | list) else patch)
        super().__init__(
            bands=PRITHVI_BANDS,
            input_size=input_size,
            num_features=int(m.embed_dim),
            feature_info=[{"num_chs": int(m.embed_dim), "reduction": stride}]
            * len(m.blocks),
            pool=pool,
            num_prefix_tokens=1,
        )
        self.model = model

    def _blocks(self, x: Tensor) -> list[Tensor]:
        out: list[Tensor] = self.model.forward_features(x)  # type: ignore[operator]
        return out

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the last block's tokens ``(N, 1 + L, D)``."""
        return self._blocks(x)[-1]

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return block outputs as maps (see :class:`Backbone`)."""
        take, _ = feature_take_indices(len(self.feature_info), indices)
        n, _, h, w = x.shape
        stride = self.feature_info[0]["reduction"]
        blocks = self._blocks(x)
        return [
            blocks[i][:, -(h // stride) * (w // stride) :]
            .transpose(1, 2)
            .reshape(n, -1, h // stride, w // stride)
            for i in take
        ]


@register_backbone("prithvi", examples=["prithvi_eo_v2_300"])
def prithvi_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    pool: Literal["avg", "token"] = "avg",
    **kwargs: Any,
) -> Backbone:
    """Build ``prithvi:<terratorch backbone>`` (never downloads).

    Args:
        variant: terratorch backbone name, e.g. ``"prithvi_eo_v2_300"``.
        bands: Data bands (Prithvi takes B2, B3, B4, B8A, B11, B12).
        weights: ``None`` (random init) or a local checkpoint file; terratorch
            loads it after :func:`~torchgeo_composition.serialization.check_checkpoint`
            found only allowed types in it.
        input_size: Input size (default 224).
        pool: ``"avg"`` or ``"token"``.
        **kwargs: Passed to terratorch's registry.

    Returns:
        The backbone.

    Raises:
        ValueError: If terratorch is not installed, or ``weights`` is not a
            checkpoint or holds a type outside the allow-list.
        FileNotFoundError: If ``weights`` does not exist.
    """
    if weights is not None:
        check_checkpoint(weights, "weights")
    if importlib.util.find_spec("terratorch") is None:
        raise ValueError(
            f"backbone 'prithvi:{variant}' needs terratorch, which is not installed; "
            "install the optional extra: pip install 'torchgeo-composition[terratorch]'"
        )
    from terratorch.registry import BACKBONE_REGISTRY  # pragma: no cover

    size = input_size or 224  # pragma: no cover
    model = BACKBONE_REGISTRY.build(  # pragma: no cover
        variant,
        pretrained=weights is not None,
        ckpt_path=weights,
        img_size=size,
        num_frames=1,
        **kwargs,
    )
    return PrithviBackbone(model, size, pool)  # pragma: no cover
