"""Built-in backbone families: ``timm``, ``torchgeo``, ``satmae`` and ``prithvi``.

Importing this module registers the families with
:func:`~torchgeo_composition.models.backbones.register_backbone`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import timm
import torch
from torch import Tensor, nn

from ...bands import (
    FMOW_MEAN,
    FMOW_STD,
    SATMAE_BANDS,
)
from .registry import Backbone, register_backbone

__all__ = ["SatMAEBackbone", "TimmBackbone", "local_weights"]


def _evenly_spaced(n: int, k: int = 4) -> list[int]:
    """Pick ``min(n, k)`` evenly spaced indices of ``range(n)``, ending at n - 1."""
    if n <= k:
        return list(range(n))
    return [round((i + 1) * n / k) - 1 for i in range(k)]


def local_weights(name: str) -> Any:
    """Return a TorchGeo weights enum member whose file is available locally.

    Args:
        name: Weights enum name, e.g. ``"ViTSmall16_Weights.SENTINEL2_ALL_MOCO"``.

    Returns:
        The weights enum member.

    Raises:
        ValueError: If the name is not a TorchGeo weights enum.
        FileNotFoundError: If the weights file is not in the torch hub cache;
            the message says where to place it (nothing is downloaded).
    """
    from torchgeo.models import get_weight

    try:
        weights = get_weight(name)
    except Exception as err:
        raise ValueError(
            f"weights={name!r} is neither a local file nor a TorchGeo weights enum "
            "name (e.g. 'ViTSmall16_Weights.SENTINEL2_ALL_MOCO'); use weights: null "
            "for random init"
        ) from err
    filename = os.path.basename(urlparse(weights.url).path)
    path = os.path.join(torch.hub.get_dir(), "checkpoints", filename)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights {name!r} are not available locally and are never downloaded: "
            f"place the file {filename} (from {weights.url}) at {path}, "
            "or use weights: null for random init"
        )
    return weights


def _load_state(model: nn.Module, weights: str) -> None:
    """Load a local state-dict file into ``model`` (strict=False, reported)."""
    state = torch.load(weights, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    result = model.load_state_dict(state, strict=False)
    if len(result.missing_keys) == len(model.state_dict()):
        raise ValueError(
            f"weights file {weights!r} holds no parameter of {type(model).__name__}"
        )


class TimmBackbone(Backbone):
    """A timm model (or a timm ``VisionTransformer`` subclass) as a backbone.

    Pooled features come from ``forward_head(forward_features(x), pre_logits=True)``
    and levels from ``forward_intermediates``: the last four stages of
    hierarchical models, four evenly spaced blocks of plain ViTs.
    """

    def __init__(
        self,
        model: nn.Module,
        bands: Sequence[str] | str,
        input_size: int | None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        """Wrap a timm model.

        Args:
            model: A timm model built with ``num_classes=0``.
            bands: Bands it takes.
            input_size: Its fixed input size, or ``None``.
            mean: Optional normalisation offset.
            std: Optional normalisation scale.
        """
        info = list(model.feature_info)  # type: ignore[arg-type]
        strides = [level["reduction"] for level in info]
        if len(set(strides)) == len(strides):  # hierarchical: the last stages
            indices = list(range(len(info)))[-4:]
        else:  # plain ViT: evenly spaced blocks
            indices = _evenly_spaced(len(info))
        super().__init__(
            bands=bands,
            input_size=input_size,
            feature_dim=int(model.num_features),  # type: ignore[arg-type]
            feature_info=[
                {"num_chs": int(info[i]["num_chs"]), "reduction": info[i]["reduction"]}
                for i in indices
            ],
            mean=mean,
            std=std,
        )
        self.model = model
        self.indices = indices

    def forward_features(self, x: Tensor) -> Tensor:
        """Return pooled features (see :class:`Backbone`)."""
        feats = self.model.forward_features(x)  # type: ignore[operator]
        return self.model.forward_head(feats, pre_logits=True)  # type: ignore[operator]

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return feature maps (see :class:`Backbone`)."""
        out = self.model.forward_intermediates(  # type: ignore[operator]
            x, indices=self.indices, intermediates_only=True
        )
        return list(out)


def _timm_input_size(model: nn.Module) -> int | None:
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
        **kwargs: Passed to :func:`timm.create_model`.

    Returns:
        The backbone.

    Raises:
        ValueError: If the timm model name is unknown.
    """
    if variant not in timm.list_models():
        import difflib

        close = difflib.get_close_matches(variant, timm.list_models(), n=5)
        raise ValueError(
            f"unknown timm model {variant!r} in backbone 'timm:{variant}'; "
            f"close matches: {close or 'none'}"
        )
    if band_set == "rgb":
        in_chans = 3
    elif isinstance(band_set, str):
        in_chans = len(bands)
    else:
        in_chans = len(band_set)
    if input_size is not None:
        kwargs.setdefault("img_size", input_size)
    try:
        model = timm.create_model(
            variant, pretrained=False, num_classes=0, in_chans=in_chans, **kwargs
        )
    except TypeError:
        kwargs.pop("img_size", None)
        model = timm.create_model(
            variant, pretrained=False, num_classes=0, in_chans=in_chans, **kwargs
        )
    if weights is not None:
        _load_state(model, weights)
    return TimmBackbone(model, band_set, input_size or _timm_input_size(model))


class SatMAEBackbone(Backbone):
    """Our SatMAE group-channel encoder (:class:`GroupChannelViT`) as a backbone.

    Inputs are normalised as SatMAE was pretrained:
    ``clip((x - (mean - 2 std)) / (4 std), 0, 1)`` with FMoW-Sentinel statistics.
    """

    def __init__(self, model: nn.Module) -> None:
        """Wrap an encoder.

        Args:
            model: A ``GroupChannelViT``.
        """
        m: Any = model
        in_chans = int(m.in_chans)
        bands = SATMAE_BANDS[:in_chans]
        dim = int(m.embed_dim)
        depth = len(m.blocks)
        self_indices = _evenly_spaced(depth)
        super().__init__(
            bands=bands,
            input_size=int(m.img_size),
            feature_dim=dim,
            feature_info=[{"num_chs": dim, "reduction": int(m.patch_size)}]
            * len(self_indices),
            mean=[FMOW_MEAN[b] - 2 * FMOW_STD[b] for b in bands],
            std=[4 * FMOW_STD[b] for b in bands],
            clip=(0.0, 1.0),
        )
        self.model = model
        self.indices = self_indices

    def forward_features(self, x: Tensor) -> Tensor:
        """Return the mean of all group tokens (see :class:`Backbone`)."""
        return self.model.forward_features(x)  # type: ignore[operator]

    def forward_levels(self, x: Tensor) -> list[Tensor]:
        """Return group-averaged block maps (see :class:`Backbone`)."""
        out = self.model.forward_intermediates(x, self.indices)  # type: ignore[operator]
        return list(out)


@register_backbone("satmae", examples=["satmae_vit_small_patch8_96"])
def satmae_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    checkpoint: str | None = None,
    **kwargs: Any,
) -> Backbone:
    """Build ``satmae:<preset>`` from a checkpoint or at random.

    Args:
        variant: SatMAE preset name, e.g. ``"satmae_vit_base_patch8_96"``.
        bands: Data bands (SatMAE takes its own 10 bands).
        weights: Alias of ``checkpoint``.
        input_size: ``img_size`` override.
        checkpoint: Pretraining checkpoint (SatMAE reference format or ours).
        **kwargs: Encoder overrides (e.g. ``depth=1``).

    Returns:
        The backbone.

    Raises:
        FileNotFoundError: If the checkpoint does not exist.
    """
    from ..satmae.presets import create_satmae_encoder

    source = checkpoint or weights
    if source is not None and not os.path.isfile(source):
        raise FileNotFoundError(f"SatMAE checkpoint={source!r} does not exist")
    if input_size is not None:
        kwargs.setdefault("img_size", input_size)
    return SatMAEBackbone(create_satmae_encoder(variant, checkpoint=source, **kwargs))


@register_backbone("prithvi", examples=["prithvi_eo_v2_300"])
def prithvi_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    **kwargs: Any,
) -> Backbone:  # pragma: no cover - needs the optional terratorch extra
    """Build ``prithvi:<terratorch backbone>`` through terratorch (optional extra).

    Args:
        variant: terratorch backbone name, e.g. ``"prithvi_eo_v2_300"``.
        bands: Data bands (Prithvi takes B2, B3, B4, B8A, B11, B12).
        weights: ``None`` or a local checkpoint file.
        input_size: Input size (default 224).
        **kwargs: Passed to terratorch's registry.

    Returns:
        The backbone.

    Raises:
        ValueError: If terratorch is not installed.
    """
    if importlib.util.find_spec("terratorch") is None:
        raise ValueError(
            f"backbone 'prithvi:{variant}' needs terratorch, which is not installed; "
            "install the optional extra: pip install 'torchgeo-composition[terratorch]'"
        )
    from .prithvi import build_prithvi

    return build_prithvi(variant, weights=weights, input_size=input_size, **kwargs)


from . import torchgeo  # noqa: E402, F401 - registers 'torchgeo'
