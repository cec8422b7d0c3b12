"""The ``torchgeo`` family: DOFA, CROMA (optical), Scale-MAE, ViT and ResNet.

One factory is registered per TorchGeo model (``torchgeo:<model function>``);
TorchGeo's Swin Transformers are registered by :mod:`.swin`. Models are built at
random or from TorchGeo weights available locally (nothing is downloaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import torch
from timm.models._features import feature_take_indices
from torch import Tensor, nn

from ...bands import S2_L2A_BANDS, S2_WAVELENGTHS_UM, canonical_band
from .base import Backbone
from .mae_vit import MAEViTBackbone
from .registry import register_backbone
from .timm import TimmBackbone
from .weights import load_weights, resolve_weights

__all__ = [
    "CROMABackbone",
    "DOFABackbone",
    "croma_backbone",
    "dofa_backbone",
    "torchgeo_timm_backbone",
]


def _token_maps(tokens: Tensor, prefix: int, height: int, width: int) -> Tensor:
    """Patch tokens ``(N, prefix + H * W, D)`` as a map ``(N, D, H, W)``."""
    return tokens[:, prefix:].transpose(1, 2).reshape(len(tokens), -1, height, width)


class DOFABackbone(MAEViTBackbone):
    """TorchGeo's DOFA with wavelengths derived from band names."""

    wavelengths: Tensor

    def __init__(self, model: nn.Module, bands: Sequence[str]) -> None:
        """Wrap a DOFA model.

        Args:
            model: A :class:`torchgeo.models.DOFA`.
            bands: Sentinel-2 band names it receives.

        Raises:
            ValueError: If a band has no known centre wavelength.
        """
        missing = [b for b in bands if canonical_band(b) not in S2_WAVELENGTHS_UM]
        if missing:
            raise ValueError(
                f"DOFA needs a wavelength per band; bands {missing} have none "
                f"(known: {sorted(S2_WAVELENGTHS_UM)})"
            )
        super().__init__(model, bands)
        wavelengths = [S2_WAVELENGTHS_UM[canonical_band(b)] for b in bands]
        self.register_buffer("wavelengths", torch.tensor(wavelengths))

    def _embed(self, x: Tensor) -> Tensor:
        """Wavelength-conditioned patch embedding plus class token (as DOFA)."""
        m: Any = self.model
        t, _ = m.patch_embed(x, self.wavelengths)
        t = t + m.pos_embed[:, 1:, :]
        cls = (m.cls_token + m.pos_embed[:, :1, :]).expand(t.shape[0], -1, -1)
        return torch.cat((cls, t), dim=1)

    def final_tokens(self, x: Tensor) -> Tensor:
        """Return the tokens after DOFA's last block."""
        t = self._embed(x)
        for block in self.model.blocks:  # type: ignore[union-attr]
            t = block(t)
        return t

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return block outputs as maps (see :class:`Backbone`)."""
        m: Any = self.model
        take, last = feature_take_indices(len(self.feature_info), indices)
        stride = self.feature_info[0]["reduction"]
        size = (x.shape[-2] // stride, x.shape[-1] // stride)
        t = self._embed(x)
        maps = {}
        for i, block in enumerate(m.blocks[: last + 1]):
            t = block(t)
            if i in take:
                maps[i] = _token_maps(t, 1, *size)
        return [maps[i] for i in take]


class CROMABackbone(Backbone):
    """The optical encoder of TorchGeo's CROMA (12 Sentinel-2 bands, no B10).

    CROMA keeps no intermediate outputs: its one level is the final encoding.
    """

    pools = ("avg",)

    def __init__(self, model: nn.Module) -> None:
        """Wrap a CROMA model built with ``modalities=["optical"]``.

        Args:
            model: A :class:`torchgeo.models.CROMA`.
        """
        m: Any = model
        dim = int(m.encoder_dim)
        super().__init__(
            bands=S2_L2A_BANDS,
            input_size=int(m.image_size),
            num_features=dim,
            feature_info=[{"num_chs": dim, "reduction": int(m.patch_size)}],
        )
        self.model = model

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the optical encodings ``(N, L, D)``."""
        m: Any = self.model
        out: Tensor = m.s2_encoder(imgs=x, attn_bias=m.attn_bias)
        return out

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Return CROMA's optical GAP features (mean, then its GAP-FFN)."""
        out: Tensor = self.model.s2_GAP_FFN(x.mean(dim=1))  # type: ignore[operator]
        return out

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return the final encodings as a map (the only level)."""
        take, _ = feature_take_indices(1, indices)
        stride = self.feature_info[0]["reduction"]
        grid = _token_maps(
            self.forward_features(x), 0, x.shape[-2] // stride, x.shape[-1] // stride
        )
        return [grid for _ in take]


_DOFA_SIZES: dict[str, dict[str, Any]] = {
    "dofa_small_patch16_224": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "dofa_base_patch16_224": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "dofa_large_patch16_224": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}
_CROMA_SIZES: dict[str, dict[str, Any]] = {
    "croma_base": {"encoder_dim": 768, "encoder_depth": 12, "num_heads": 16},
    "croma_large": {"encoder_dim": 1024, "encoder_depth": 24, "num_heads": 16},
}
_SCALEMAE_LARGE: dict[str, Any] = {
    "patch_size": 16,
    "embed_dim": 1024,
    "depth": 24,
    "num_heads": 16,
}
#: TorchGeo's timm models, built by their model function.
_TIMM_MODELS = (
    "resnet18",
    "resnet50",
    "resnet152",
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "vit_large_patch16_224",
    "vit_huge_patch14_224",
    "vit_small_patch14_dinov2",
    "vit_base_patch14_dinov2",
)


def dofa_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    pool: Literal["avg", "token"] = "avg",
    **kwargs: Any,
) -> Backbone:
    """Build ``torchgeo:dofa_*``: wavelengths from the data's band names.

    Args:
        variant: Model name (sizes come from the registration).
        bands: Data bands; each needs a known centre wavelength.
        weights: ``None``, a local file or a TorchGeo weights enum name.
        input_size: Input size (default 224).
        pool: ``"avg"`` (patch tokens, ``fc_norm``) or ``"token"``.
        **kwargs: :class:`torchgeo.models.DOFA` arguments (sizes, ``depth``...).

    Returns:
        The backbone.
    """
    from torchgeo.models import DOFA

    global_pool = DOFABackbone.check_pool(pool) == "avg"
    size = input_size or kwargs.pop("img_size", 224)
    model = DOFA(img_size=size, global_pool=global_pool, **kwargs)
    backbone = DOFABackbone(model, bands)
    load_weights(model, weights)
    return backbone


def croma_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    pool: Literal["avg"] = "avg",
    **kwargs: Any,
) -> Backbone:
    """Build ``torchgeo:croma_*``: the optical encoder, 12 bands (no B10).

    Args:
        variant: Model name (sizes come from the registration).
        bands: Data bands (the adapter selects CROMA's).
        weights: ``None``, a local file or a TorchGeo weights enum name.
        input_size: Input size (default 120).
        pool: ``"avg"`` (CROMA's GAP-FFN).
        **kwargs: :class:`torchgeo.models.CROMA` arguments.

    Returns:
        The backbone.
    """
    from torchgeo.models import CROMA

    CROMABackbone.check_pool(pool)
    size = input_size or kwargs.pop("image_size", 120)
    model = CROMA(modalities=["optical"], image_size=size, **kwargs)
    load_weights(model, weights)
    return CROMABackbone(model)


def torchgeo_timm_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    pool: str | None = None,
    model_class: str | None = None,
    **kwargs: Any,
) -> Backbone:
    """Build one of TorchGeo's timm models (ViT, ResNet, Scale-MAE).

    Args:
        variant: TorchGeo model function, e.g. ``"resnet18"``.
        bands: Data bands (``in_chans``), unless a weights enum fixes them.
        weights: ``None``, a local file or a TorchGeo weights enum name.
        input_size: Input size of ViTs (default 224).
        pool: timm's ``global_pool``; ``None`` keeps the model's default.
        model_class: A TorchGeo model class to build instead of the model
            function ``variant`` (set at registration, e.g. ``"ScaleMAE"``).
        **kwargs: Model arguments (e.g. ``depth=2``).

    Returns:
        The backbone.
    """
    from torchgeo import models

    enum = resolve_weights(weights)
    if not variant.startswith("resnet"):
        kwargs.setdefault("img_size", input_size or 224)
    if pool is not None:
        kwargs["global_pool"] = pool
    if model_class is None:
        build = partial(getattr(models, variant), None)
    else:
        build = getattr(models, model_class)
    in_chans = enum.meta["in_chans"] if enum is not None else len(bands)
    model = build(in_chans=in_chans, num_classes=0, **kwargs)
    load_weights(model, weights)
    fixed = enum.meta.get("bands") if enum is not None else None
    return TimmBackbone(model, fixed if fixed else "any")


for _name, _size in _DOFA_SIZES.items():
    register_backbone(f"torchgeo:{_name}")(partial(dofa_backbone, **_size))
for _name, _size in _CROMA_SIZES.items():
    register_backbone(f"torchgeo:{_name}")(partial(croma_backbone, **_size))
for _name in _TIMM_MODELS:
    register_backbone(f"torchgeo:{_name}")(torchgeo_timm_backbone)
register_backbone("torchgeo:scalemae_large_patch16")(
    partial(torchgeo_timm_backbone, model_class="ScaleMAE", **_SCALEMAE_LARGE)
)
