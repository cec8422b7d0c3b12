"""Spectral entropy as a registered diversity measure (a torchmetrics metric)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from .entropy import UNIT_RANGE, resolve_recipe, spectral_entropy
from .measure import DiversityMeasure, register_measure

__all__ = ["SpectralEntropy"]


@register_measure
class SpectralEntropy(DiversityMeasure):
    """Per-sample spectral entropy in nats, aggregated as a metric.

    Each sample's value is :func:`~torchgeo_composition.diversity.spectral_entropy`
    (the mean over bands of the entropy of each band's histogram); see
    :class:`~torchgeo_composition.diversity.DiversityMeasure` for what the metric
    accumulates and returns.

    Example::

        metric = SpectralEntropy(bins=32, value_range=(0.0, 1.0))
        metric.update(images)  # (B, C, H, W), normalised to [0, 1]
        metric.compute()["mean"]
    """

    name = "spectral_entropy"
    label = "spectral entropy (nats)"
    stem = "entropy"

    def __init__(
        self,
        bins: int = 32,
        value_range: tuple[float, float] | None = UNIT_RANGE,
        recipe: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Initialize a new SpectralEntropy instance.

        Args:
            bins: Histogram bins per band (at least 2).
            value_range: ``(low, high)`` range of the histograms, in the units of
                the images: ``(0, 1)`` suits SatMAE-normalised images, e.g.
                ``(-3, 3)`` standardised ones. Integer images need a declared
                range; ``None`` means the full range of their dtype.
            recipe: Name of an entropy recipe (``default``, ``olmoearth``; see
                :mod:`~torchgeo_composition.diversity.recipes`) that sets ``bins``
                and ``value_range`` (leave them at their defaults); the images
                must be prepared as it says.
            **kwargs: Options of :class:`~torchmetrics.Metric`.

        Raises:
            ValueError: If ``bins``, ``value_range`` or ``recipe`` is invalid, or
                ``recipe`` is given with ``bins`` or ``value_range``.
        """
        super().__init__(**kwargs)
        bins, value_range = resolve_recipe(recipe, bins, value_range)
        # Validate now rather than at the first batch (None needs integer images).
        probe = torch.zeros(
            1, 1, 1, 1, dtype=torch.uint8 if value_range is None else None
        )
        spectral_entropy(probe, bins, value_range)
        self.bins = bins
        self.value_range = value_range
        self.recipe = recipe

    def per_sample(self, images: Tensor) -> Tensor:
        """Return the spectral entropy of each sample.

        Args:
            images: Batch (B, C, H, W).

        Returns:
            Tensor (B,) in nats; NaN for a sample without any valid pixel.
        """
        return spectral_entropy(images, self.bins, self.value_range)

    def per_band(self, images: Tensor) -> Tensor:
        """Return the spectral entropy of each band of each sample.

        Args:
            images: Batch (B, C, H, W).

        Returns:
            Tensor (B, C) in nats; NaN for a band without any valid pixel.
        """
        return spectral_entropy(images, self.bins, self.value_range, reduction="none")

    @property
    def settings(self) -> dict[str, Any]:
        """``bins`` and ``value_range`` (and ``recipe`` when one was named)."""
        value_range = None if self.value_range is None else list(self.value_range)
        out: dict[str, Any] = {"bins": self.bins, "value_range": value_range}
        if self.recipe is not None:
            out["recipe"] = self.recipe
        return out

    @property
    def upper_bound(self) -> float:
        """``ln(bins)``: values spread evenly over all bins."""
        return math.log(self.bins)
