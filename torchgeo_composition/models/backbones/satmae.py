"""The ``satmae`` family: our group-channel SatMAE encoder as a backbone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from timm.models._features import feature_take_indices
from torch import Tensor, nn

from ...bands import FMOW_MEAN, FMOW_STD, SATMAE_BANDS
from ..satmae import create_satmae_encoder, load_satmae_checkpoint
from .base import Backbone
from .mae_vit import MAEViTBackbone
from .registry import register_backbone

__all__ = ["SatMAEBackbone", "satmae_backbone"]


class SatMAEBackbone(MAEViTBackbone):
    """Our SatMAE encoder (:class:`~torchgeo_composition.models.GroupChannelViT`).

    Inputs are normalised as SatMAE was pretrained:
    ``clip((x - (mean - 2 std)) / (4 std), 0, 1)`` with FMoW-Sentinel statistics.
    Tokens are the class token and the ``G * L`` group patch tokens; levels are
    block outputs averaged over the channel groups.
    """

    def __init__(self, model: nn.Module) -> None:
        """Wrap an encoder.

        Args:
            model: A ``GroupChannelViT``.
        """
        bands = SATMAE_BANDS[: int(model.in_chans)]  # type: ignore[arg-type]
        super().__init__(
            model,
            bands,
            mean=[FMOW_MEAN[b] - 2 * FMOW_STD[b] for b in bands],
            std=[4 * FMOW_STD[b] for b in bands],
            clip=(0.0, 1.0),
        )

    def final_tokens(self, x: Tensor) -> Tensor:
        """Return the encoder's tokens after its last block."""
        tokens: Tensor = self.model.forward_tokens(x)[-1]  # type: ignore[operator]
        return tokens

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None
    ) -> list[Tensor]:
        """Return group-averaged block maps (see :class:`Backbone`)."""
        take, _ = feature_take_indices(len(self.feature_info), indices)
        out = self.model.forward_intermediates(x, take)  # type: ignore[operator]
        return list(out)


@register_backbone("satmae", examples=["satmae_vit_small_patch8_96"])
def satmae_backbone(
    variant: str,
    *,
    bands: Sequence[str],
    weights: str | None = None,
    input_size: int | None = None,
    checkpoint: str | None = None,
    pool: Literal["avg", "token"] = "avg",
    **kwargs: Any,
) -> Backbone:
    """Build ``satmae:<preset>`` from a checkpoint or at random.

    Args:
        variant: SatMAE preset name, e.g. ``"satmae_vit_base_patch8_96"``.
        bands: Data bands (SatMAE takes its own 10 bands).
        weights: Alias of ``checkpoint``.
        input_size: ``img_size`` override.
        checkpoint: Pretraining checkpoint (SatMAE reference format or ours).
        pool: ``"avg"`` (patch tokens, ``fc_norm``) or ``"token"``.
        **kwargs: Encoder overrides (e.g. ``depth=1``).

    Returns:
        The backbone.

    Raises:
        FileNotFoundError: If the checkpoint does not exist.
        ValueError: If it is not a checkpoint, holds a type outside the
            allow-list or does not fit the preset (the message names the file).
    """
    source, what = (checkpoint, "checkpoint") if checkpoint else (weights, "weights")
    if input_size is not None:
        kwargs.setdefault("img_size", input_size)
    kwargs["global_pool"] = SatMAEBackbone.check_pool(pool) == "avg"
    encoder = create_satmae_encoder(variant, **kwargs)
    if source is not None:
        load_satmae_checkpoint(encoder, source, strict=True, what=what)
    return SatMAEBackbone(encoder)
