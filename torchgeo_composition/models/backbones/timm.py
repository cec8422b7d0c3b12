"""The ``timm`` family: any timm model (never downloaded) as a backbone.

TorchGeo's timm-based models (ViT, ResNet, Scale-MAE) are wrapped by the same
:class:`TimmBackbone` (see the ``torchgeo`` family).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import timm
from torch import Tensor, nn

from .base import Backbone
from .registry import register_backbone
from .weights import load_state_file

__all__ = ["TimmBackbone", "timm_backbone"]


def _input_size(model: nn.Module) -> int | None:
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    patch_embed = getattr(model, "patch_embed", None)
    img_size = getattr(patch_embed, "img_size", None)
    if img_size is not None and not getattr(model, "dynamic_img_size", False):
        return int(img_size[-1] if isinstance(img_size, Sequence) else img_size)
    if cfg.get("fixed_input_size") and "input_size" in cfg:
        return int(cfg["input_size"][-1])
    tokens = getattr(model, "tokens_spatial_shape", None)  # Hiera
    if tokens is not None:
        return int(tokens[-1]) * int(model.patch_stride[-1])  # type: ignore[index]
    return None


def _global_pool(model: nn.Module) -> str:
    """The pooling a timm model was built with (its ``global_pool``)."""
    for owner in (model, getattr(model, "head", None)):
        pool = getattr(owner, "global_pool", None)
        pool = getattr(pool, "pool_type", pool)
        if isinstance(pool, str):
            return pool
        if isinstance(getattr(owner, "pool_type", None), str):
            return str(owner.pool_type)  # type: ignore[union-attr]
    return "avg"


class TimmBackbone(Backbone):
    """A timm model (or a timm ``VisionTransformer`` subclass) as a backbone.

    ``forward_features``, ``forward_head`` (with ``pre_logits=True``) and
    ``forward_intermediates`` are timm's own; the levels are the model's
    ``feature_info`` (stages of hierarchical models, blocks of plain ViTs).
    """

    pools = None  # timm validates its own global_pool

    def __init__(
        self,
        model: nn.Module,
        bands: Sequence[str] | str,
        input_size: int | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        """Wrap a timm model.

        Args:
            model: A timm model built with ``num_classes=0``.
            bands: Bands it takes (``"any"``: the data's).
            input_size: Its fixed input size; ``None`` reads it from the model.
            mean: Optional normalisation offset.
            std: Optional normalisation scale.
        """
        super().__init__(
            bands=bands,
            input_size=input_size or _input_size(model),
            num_features=int(model.num_features),  # type: ignore[arg-type]
            feature_info=[
                {"num_chs": int(level["num_chs"]), "reduction": level["reduction"]}
                for level in model.feature_info  # type: ignore[union-attr]
            ],
            pool=_global_pool(model),
            num_prefix_tokens=int(getattr(model, "num_prefix_tokens", 0)),
            mean=mean,
            std=std,
        )
        self.model = model

    def forward_features(self, x: Tensor) -> Tensor:
        """Return timm's unpooled features (see :class:`Backbone`)."""
        out: Tensor = self.model.forward_features(x)  # type: ignore[operator]
        return out

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool with timm's ``forward_head(x, pre_logits=True)``."""
        out: Tensor = self.model.forward_head(x, pre_logits=True)  # type: ignore[operator]
        return out

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return timm's intermediate maps (see :class:`Backbone`)."""
        out = self.model.forward_intermediates(  # type: ignore[operator]
            x, indices=indices, intermediates_only=True
        )
        return list(out)


def _create(name: str, **kwargs: Any) -> nn.Module:
    """A timm model (``pretrained=False``); ``img_size`` dropped where refused."""
    if name not in timm.list_models():
        close = difflib.get_close_matches(name, timm.list_models(), n=5)
        raise ValueError(
            f"unknown timm model {name!r} in backbone 'timm:{name}'; "
            f"close matches: {close or 'none'}"
        )
    try:
        try:
            return timm.create_model(name, pretrained=False, **kwargs)
        except TypeError:  # a model without img_size
            kwargs.pop("img_size", None)
            return timm.create_model(name, pretrained=False, **kwargs)
    except AssertionError as err:
        raise ValueError(
            f"timm model {name!r} refuses pool={kwargs.get('global_pool')!r}: {err}"
        ) from err


@register_backbone(
    "timm", examples=["hiera_tiny_224", "vit_small_patch16_224", "resnet18"]
)
def timm_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    band_set: Sequence[str] | str = "any",
    pool: str | None = None,
    **kwargs: Any,
) -> Backbone:
    """Build ``timm:<model name>`` (never downloads: ``pretrained=False``).

    Args:
        variant: timm model name.
        bands: Data bands; the model gets ``in_chans = len(bands)`` unless
            ``band_set`` fixes its bands.
        weights: ``None`` or a local state-dict file.
        input_size: ``img_size`` for fixed-size models.
        band_set: Bands the model takes: ``"any"``, ``"rgb"`` or a list.
        pool: timm's ``global_pool`` (``"avg"``, ``"token"``, ``"max"``...);
            ``None`` keeps the model's default.
        **kwargs: Passed to :func:`timm.create_model`.

    Returns:
        The backbone.

    Raises:
        ValueError: If the timm model name is unknown or refuses ``pool``.
    """
    if band_set == "rgb":
        in_chans = 3
    elif isinstance(band_set, str):
        in_chans = len(bands)
    else:
        in_chans = len(band_set)
    if input_size is not None:
        kwargs.setdefault("img_size", input_size)
    if pool is not None:
        kwargs["global_pool"] = pool
    model = _create(variant, num_classes=0, in_chans=in_chans, **kwargs)
    if weights is not None:
        load_state_file(model, weights)
    return TimmBackbone(model, band_set, input_size)
