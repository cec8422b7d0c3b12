"""Input adapters: from the data's bands and size to what a backbone takes.

An adapter selects and reorders bands (a clear error names a band the data
lacks), resizes to the backbone's input size and applies the backbone's own
normalisation. Steps that would not change the input are skipped, so a backbone
that takes the data as it is receives the very same tensor, not a copy;
:class:`~torchgeo_composition.models.FeatureFusion` also shares the selected and
resized tensor between backbones with the same bands and size.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...bands import band_indices, canonical_band
from .base import Backbone, resolve_bands

__all__ = ["BandAdapter"]


class BandAdapter(nn.Module):
    """Adapt a batch of the data's bands to one backbone."""

    indices: Tensor
    mean: Tensor
    std: Tensor

    def __init__(
        self,
        data_bands: Sequence[str],
        backbone: Backbone,
        normalize: bool = True,
        name: str = "backbone",
    ) -> None:
        """Initialise the adapter.

        Args:
            data_bands: Band names of the input, in order.
            backbone: The backbone to feed.
            normalize: Apply the backbone's normalisation (if it declares one).
            name: Backbone name, for error messages.

        Raises:
            ValueError: If the backbone needs a band the data lacks.
        """
        super().__init__()
        wanted = resolve_bands(backbone, data_bands)
        try:
            indices = band_indices(data_bands, wanted)
        except ValueError as err:
            missing = [
                b
                for b in wanted
                if canonical_band(b) not in {canonical_band(d) for d in data_bands}
            ]
            raise ValueError(
                f"backbone {name!r} needs band(s) {missing} which the data lacks; "
                f"data bands (model.bands) are {list(data_bands)}"
            ) from err
        self.identity = indices == list(range(len(data_bands)))
        self.register_buffer("indices", torch.tensor(indices), persistent=False)
        self.size = backbone.input_size
        self.normalize = normalize and backbone.mean is not None
        mean = torch.tensor(backbone.mean or [0.0] * len(indices))
        std = torch.tensor(backbone.std or [1.0] * len(indices))
        self.register_buffer("mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, -1, 1, 1), persistent=False)
        self.clip = backbone.clip

    @property
    def share_key(self) -> tuple[tuple[int, ...], int | None]:
        """Key of the select + resize step; equal keys give equal tensors."""
        return tuple(self.indices.tolist()), self.size

    def prepare(self, x: Tensor) -> Tensor:
        """Select bands and resize (no copy when neither is needed).

        Args:
            x: Input ``(N, C_data, H, W)``.

        Returns:
            ``(N, C_backbone, S, S)``.
        """
        if not self.identity:
            x = x.index_select(1, self.indices)
        if self.size is not None and tuple(x.shape[-2:]) != (self.size, self.size):
            x = F.interpolate(
                x, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
        return x

    def finish(self, x: Tensor) -> Tensor:
        """Apply the backbone's normalisation (a no-op when disabled).

        Args:
            x: Output of :meth:`prepare`.

        Returns:
            The normalised input.
        """
        if not self.normalize:
            return x
        x = (x - self.mean) / self.std
        if self.clip is not None:
            x = x.clamp(*self.clip)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Select, resize and normalise.

        Args:
            x: Input ``(N, C_data, H, W)``.

        Returns:
            The backbone's input.
        """
        return self.finish(self.prepare(x))
