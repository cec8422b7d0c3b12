"""TorchGeo backbones: DOFA, CROMA (optical), Scale-MAE, ViT, ResNet and Swin.

The ``torchgeo:<model function>`` family of the backbone registry. Models are
built at random or from TorchGeo weights available locally (nothing is
downloaded).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...bands import S2_L2A_BANDS, S2_WAVELENGTHS_UM, canonical_band
from .registry import Backbone, register_backbone
from .timm import (
    TimmBackbone,
    _evenly_spaced,
    _load_state,
    _timm_input_size,
    local_weights,
)

__all__ = ["CROMABackbone", "DOFABackbone", "TokenBackbone"]


class TokenBackbone(Backbone):
    """A ViT-like model whose blocks are run here, to expose intermediate maps.

    Subclasses provide :meth:`tokens` (patch tokens after embedding, ``(N, L, D)``,
    with ``num_prefix`` leading tokens such as a cls token), ``blocks`` and
    :meth:`pool` (final pooled features).
    """

    blocks: nn.ModuleList
    num_prefix: int = 1

    def tokens(self, x: Tensor) -> Tensor:
        """Embed ``x`` into tokens ``(N, prefix + L, D)``."""
        raise NotImplementedError

    def pool(self, tokens: Tensor) -> Tensor:
        """Pool the final tokens to ``(N, D)``."""
        raise NotImplementedError

    def forward_features(self, x: Tensor) -> Tensor:
        """Return pooled features (see :class:`Backbone`)."""
        t = self.tokens(x)
        for block in self.blocks:
            t = block(t)
        return self.pool(t)

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return four evenly spaced block outputs as maps (see :class:`Backbone`)."""
        n, _, h, w = x.shape
        stride = self.feature_info[0]["reduction"]
        take = set(_evenly_spaced(len(self.blocks)))
        t = self.tokens(x)
        out = []
        for i, block in enumerate(self.blocks):
            t = block(t)
            if i in take:
                maps = t[:, self.num_prefix :].transpose(1, 2)
                out.append(maps.reshape(n, -1, h // stride, w // stride))
        return out


class DOFABackbone(TokenBackbone):
    """TorchGeo's DOFA with wavelengths derived from band names."""

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
        dim = int(model.embed_dim)  # type: ignore[arg-type]
        patch = int(model.patch_size)  # type: ignore[arg-type]
        depth = len(model.blocks)  # type: ignore[arg-type]
        super().__init__(
            bands=bands,
            input_size=int(model.img_size),  # type: ignore[arg-type]
            feature_dim=dim,
            feature_info=[{"num_chs": dim, "reduction": patch}]
            * len(_evenly_spaced(depth)),
        )
        self.model = model
        self.blocks = model.blocks  # type: ignore[assignment]
        wavelengths = [S2_WAVELENGTHS_UM[canonical_band(b)] for b in bands]
        self.register_buffer("wavelengths", torch.tensor(wavelengths))

    def tokens(self, x: Tensor) -> Tensor:
        """Embed with the wavelength-conditioned patch embedding (see DOFA)."""
        m: Any = self.model
        t, _ = m.patch_embed(x, self.wavelengths)
        t = t + m.pos_embed[:, 1:, :]
        cls = (m.cls_token + m.pos_embed[:, :1, :]).expand(t.shape[0], -1, -1)
        return torch.cat((cls, t), dim=1)

    def pool(self, tokens: Tensor) -> Tensor:
        """Global average of patch tokens, as DOFA's ``global_pool``."""
        m: Any = self.model
        if m.global_pool:
            return m.fc_norm(tokens[:, 1:].mean(dim=1))
        return m.norm(tokens)[:, 0]


class CROMABackbone(TokenBackbone):
    """The optical encoder of TorchGeo's CROMA (12 Sentinel-2 bands, no B10)."""

    num_prefix = 0

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
            feature_dim=dim,
            feature_info=[{"num_chs": dim, "reduction": int(m.patch_size)}]
            * len(_evenly_spaced(len(m.s2_encoder.transformer.layers))),
        )
        self.model = model
        self.blocks = m.s2_encoder.transformer.layers

    def forward_features(self, x: Tensor) -> Tensor:
        """Return CROMA's optical GAP features."""
        out: dict[str, Tensor] = self.model(x_optical=x)
        return out["optical_GAP"]

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return the final optical encodings as one map (CROMA keeps no others)."""
        enc = self.model(x_optical=x)["optical_encodings"]
        n, _, h, w = x.shape
        stride = self.feature_info[0]["reduction"]
        grid = enc.transpose(1, 2).reshape(n, -1, h // stride, w // stride)
        return [grid] * len(self.feature_info)


_DOFA_SIZES = {
    "dofa_small_patch16_224": {"embed_dim": 384, "depth": 12, "num_heads": 6},
    "dofa_base_patch16_224": {"embed_dim": 768, "depth": 12, "num_heads": 12},
    "dofa_large_patch16_224": {"embed_dim": 1024, "depth": 24, "num_heads": 16},
}
_CROMA_SIZES = {
    "croma_base": {"encoder_dim": 768, "encoder_depth": 12, "num_heads": 16},
    "croma_large": {"encoder_dim": 1024, "encoder_depth": 24, "num_heads": 16},
}
_TIMM_LIKE = ("vit_", "resnet", "scalemae_")


@register_backbone(
    "torchgeo",
    examples=[
        *_DOFA_SIZES,
        *_CROMA_SIZES,
        "scalemae_large_patch16",
        "vit_small_patch16_224",
        "resnet18",
        "resnet50",
        "swin_v2_t",
    ],
)
def torchgeo_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    **kwargs: Any,
) -> Backbone:
    """Build ``torchgeo:<model function>`` from :mod:`torchgeo.models`.

    DOFA takes the wavelengths of the data bands; CROMA takes the 12 optical
    bands; Scale-MAE, ViT, ResNet and Swin take any bands (``in_chans``) unless a
    weights enum fixes them.

    Args:
        variant: Model function name, e.g. ``"dofa_small_patch16_224"``.
        bands: Data bands.
        weights: ``None`` (random init), a local file, or a TorchGeo weights enum
            name whose file is in the torch hub cache.
        input_size: Input size override.
        **kwargs: Model arguments (e.g. ``depth=2``).

    Returns:
        The backbone.

    Raises:
        ValueError: If the variant is unknown.
    """
    from torchgeo import models as tgm

    enum = None
    if weights is not None and not os.path.isfile(weights):
        enum = local_weights(weights)
    if variant in _DOFA_SIZES:
        size = input_size or kwargs.pop("img_size", 224)
        model: nn.Module = tgm.DOFA(img_size=size, **(_DOFA_SIZES[variant] | kwargs))
        backbone: Backbone = DOFABackbone(model, bands)
    elif variant in _CROMA_SIZES:
        size = input_size or kwargs.pop("image_size", 120)
        params = _CROMA_SIZES[variant] | kwargs
        model = tgm.CROMA(modalities=["optical"], image_size=size, **params)
        backbone = CROMABackbone(model)
    elif variant.startswith(_TIMM_LIKE) and hasattr(tgm, variant):
        fixed = enum.meta.get("bands") if enum is not None else None
        in_chans = enum.meta["in_chans"] if enum is not None else len(bands)
        if variant.startswith("scalemae_") or variant.startswith("vit_"):
            kwargs.setdefault("img_size", input_size or 224)
        if variant.startswith("scalemae_"):
            model = tgm.ScaleMAE(
                **(
                    {"patch_size": 16, "embed_dim": 1024, "depth": 24}
                    | {"num_heads": 16, "in_chans": in_chans, "num_classes": 0}
                    | kwargs
                )
            )
        else:
            model = getattr(tgm, variant)(
                None, in_chans=in_chans, num_classes=0, **kwargs
            )
        if enum is not None:
            model.load_state_dict(enum.get_state_dict(progress=False), strict=False)
            enum = None
        backbone = TimmBackbone(
            model, fixed if fixed else "any", _timm_input_size(model)
        )
    elif variant.startswith("swin") and hasattr(tgm, variant):
        from .swin import torchvision_swin

        backbone = torchvision_swin(getattr(tgm, variant), bands, **kwargs)
    else:
        import difflib

        from .registry import _EXAMPLES

        close = difflib.get_close_matches(variant, _EXAMPLES["torchgeo"], n=5)
        raise ValueError(
            f"unknown TorchGeo backbone 'torchgeo:{variant}'; close matches: "
            f"{close or 'none'}; supported: {_EXAMPLES['torchgeo']}"
        )
    if enum is not None:
        backbone.model.load_state_dict(  # type: ignore[union-attr]
            enum.get_state_dict(progress=False), strict=False
        )
    elif weights is not None and os.path.isfile(weights):
        _load_state(backbone.model, weights)  # type: ignore[arg-type]
    return backbone
