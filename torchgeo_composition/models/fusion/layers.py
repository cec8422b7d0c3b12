"""Building blocks of :class:`~torchgeo_composition.models.FeatureFusion`.

* :class:`Fuser` merges one tensor per backbone (pooled vectors or maps).
* :func:`make_head` builds a linear or MLP classification head.
* :class:`FusedUPerNet` decodes fused multi-level maps with the UPerNet decoder
  of segmentation-models-pytorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from segmentation_models_pytorch.decoders.upernet.decoder import UPerNetDecoder
from torch import Tensor, nn

__all__ = ["FUSIONS", "FusedUPerNet", "Fuser", "make_head"]

#: Valid fusion modes.
FUSIONS: tuple[str, ...] = ("concat", "mean", "weighted", "attention")


def _num_heads(dim: int) -> int:
    return next(h for h in (8, 4, 2, 1) if dim % h == 0)


class Fuser(nn.Module):
    """Fuse one tensor per backbone along the channel dimension (dim 1).

    * ``concat``: concatenate channels (output ``sum(dims)``).
    * ``mean``: average (equal dims required).
    * ``weighted``: softmax-weighted sum with one learned logit per backbone.
    * ``attention``: self-attention across the backbone tokens (one token per
      backbone and position, plus a learned backbone embedding), then the mean
      over tokens.
    """

    def __init__(self, mode: str, dims: Sequence[int]) -> None:
        """Initialise the fuser.

        Args:
            mode: One of :data:`FUSIONS`.
            dims: Channels of each backbone's tensor.

        Raises:
            ValueError: If ``mode`` is unknown, or dims differ for a mode other
                than ``concat``.
        """
        super().__init__()
        if mode not in FUSIONS:
            raise ValueError(f"fusion={mode!r} is invalid; valid choices: {FUSIONS}")
        if mode != "concat" and len(set(dims)) > 1:
            raise ValueError(
                f"fusion={mode!r} needs equal feature dims per backbone, got "
                f"{list(dims)}; set projection_dim to project them to one size"
            )
        self.mode = mode
        self.out_dim = sum(dims) if mode == "concat" else dims[0]
        if mode == "weighted":
            self.logits = nn.Parameter(torch.zeros(len(dims)))
        if mode == "attention":
            dim = dims[0]
            self.embed = nn.Parameter(torch.zeros(1, len(dims), dim))
            nn.init.trunc_normal_(self.embed, std=0.02)
            self.attn = nn.MultiheadAttention(dim, _num_heads(dim), batch_first=True)
            self.norm = nn.LayerNorm(dim)

    def forward(self, xs: Sequence[Tensor]) -> Tensor:
        """Fuse.

        Args:
            xs: One ``(N, C_b, ...)`` tensor per backbone, equal trailing shapes.

        Returns:
            The fused ``(N, out_dim, ...)`` tensor.
        """
        if self.mode == "concat":
            return torch.cat(list(xs), dim=1)
        stacked = torch.stack(list(xs), dim=1)  # (N, B, C, ...)
        if self.mode == "mean":
            return stacked.mean(dim=1)
        if self.mode == "weighted":
            w = self.logits.softmax(dim=0).view(1, -1, *([1] * (stacked.ndim - 2)))
            return (stacked * w).sum(dim=1)
        n, b, c = stacked.shape[:3]
        spatial = stacked.shape[3:]
        tokens = stacked.reshape(n, b, c, -1).permute(0, 3, 1, 2).reshape(-1, b, c)
        tokens = tokens + self.embed
        attended, _ = self.attn(tokens, tokens, tokens, need_weights=False)
        fused = self.norm(tokens + attended).mean(dim=1)  # (N * S, C)
        return fused.reshape(n, -1, c).permute(0, 2, 1).reshape(n, c, *spatial)


def make_head(
    in_dim: int,
    num_outputs: int,
    kind: Literal["linear", "mlp"] = "linear",
    hidden_dim: int = 256,
    dropout: float = 0.0,
) -> nn.Module:
    """Build a classification head.

    Args:
        in_dim: Input features.
        num_outputs: Classes (or labels).
        kind: ``"linear"`` (a linear probe) or ``"mlp"`` (one hidden layer).
        hidden_dim: Hidden width of the MLP.
        dropout: Dropout before the last layer.

    Returns:
        The head.

    Raises:
        ValueError: If ``kind`` is unknown.
    """
    if kind == "linear":
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, num_outputs))
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(in_dim, hidden_dim),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_dim, num_outputs),
        )
    raise ValueError(f"head={kind!r} is invalid; valid choices: ('linear', 'mlp')")


#: Strides (relative to the input) of the four fused pyramid levels.
PYRAMID_STRIDES: tuple[int, ...] = (4, 8, 16, 32)


class FusedUPerNet(nn.Module):
    """UPerNet decoder (segmentation-models-pytorch) over fused pyramid levels."""

    def __init__(
        self, level_channels: Sequence[int], num_classes: int, channels: int = 64
    ) -> None:
        """Initialise the decoder.

        Args:
            level_channels: Channels of the four fused levels (strides 4..32).
            num_classes: Output classes.
            channels: Decoder width.
        """
        super().__init__()
        # smp's decoder skips the first two entries (strides 1 and 2).
        self.decoder = UPerNetDecoder(
            encoder_channels=[0, 0, *level_channels],
            encoder_depth=len(level_channels) + 1,
            decoder_channels=channels,
        )
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, levels: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        """Decode to per-pixel logits.

        Args:
            levels: Fused maps, finest first.
            size: Output ``(H, W)``.

        Returns:
            Logits ``(N, num_classes, H, W)``.
        """
        empty = levels[0].new_empty(0)
        out = self.decoder([empty, empty, *levels])
        out = self.classifier(out)
        return F.interpolate(out, size=size, mode="bilinear", align_corners=False)
