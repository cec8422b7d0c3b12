"""Normalisations as kornia augmentations (usable in ``AugmentationSequential``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import kornia.augmentation as K
import torch
from torch import Tensor

__all__ = ["SatMAENormalize"]


class SatMAENormalize(K.IntensityAugmentationBase2D):
    """SatMAE's per-band normalisation: ``clip((x - (mean - 2 std)) / (4 std), 0, 1)``.

    Values within two standard deviations of the mean map linearly to [0, 1];
    values outside are clipped. With FMoW-Sentinel statistics
    (:data:`~torchgeo_composition.bands.FMOW_MEAN`,
    :data:`~torchgeo_composition.bands.FMOW_STD`) this is the normalisation SatMAE
    was pretrained with.
    """

    def __init__(
        self,
        mean: Sequence[float] | Tensor,
        std: Sequence[float] | Tensor,
        keepdim: bool = False,
    ) -> None:
        """Initialize a new SatMAENormalize instance.

        Args:
            mean: Per-band mean.
            std: Per-band standard deviation (> 0), same length as ``mean``.
            keepdim: Keep the input's shape (kornia option).

        Raises:
            ValueError: If the lengths differ or a standard deviation is not > 0.
        """
        super().__init__(p=1.0, keepdim=keepdim)
        mean_t = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std_t = torch.as_tensor(std, dtype=torch.float32).flatten()
        if mean_t.shape != std_t.shape:
            raise ValueError(
                f"mean and std must have the same length, got {len(mean_t)} and "
                f"{len(std_t)}"
            )
        if not bool((std_t > 0).all()):
            raise ValueError(f"std must be > 0 for every band, got {std_t.tolist()}")
        self.flags = {
            "low": (mean_t - 2 * std_t).view(1, -1, 1, 1),
            "scale": (4 * std_t).view(1, -1, 1, 1),
        }

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Normalise a batch.

        Args:
            input: Images (B, C, H, W).
            params: Unused (kornia interface).
            flags: ``low`` and ``scale`` tensors of shape (1, C, 1, 1).
            transform: Unused (kornia interface).

        Returns:
            The normalised images in [0, 1].
        """
        low = flags["low"].to(input)
        scale = flags["scale"].to(input)
        return ((input - low) / scale).clamp(0.0, 1.0)
