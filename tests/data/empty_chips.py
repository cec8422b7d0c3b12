"""A pool whose chips include empty ones: all NaN, or all equal to the fill value."""

from __future__ import annotations

import pandas as pd
import torch
from torch import Tensor

from torchgeo_composition.datasets import PoolDataset

#: Continent centres the samples are placed at, in turn.
PLACES = ((10.0, 50.0), (20.0, 10.0), (100.0, 40.0))


class EmptyChipsPool(PoolDataset):
    """``num_chips`` seeded 4-band chips; some all NaN, some all ``fill_value``.

    Sample ``i`` has id ``chip_<i>``; those in ``nan_chips`` are all NaN (a pool
    that delivers NaN for nodata), those in ``filled_chips`` are all
    ``fill_value`` (a pool that fills nodata, like ``ChipFolder``); chips in
    ``half_filled`` have their left half filled.
    """

    bands = ("B2", "B3", "B4", "B8")

    def __init__(
        self,
        num_chips: int = 9,
        nan_chips: list[int] | None = None,
        filled_chips: list[int] | None = None,
        half_filled: list[int] | None = None,
        fill_value: float = 0.0,
        size: int = 8,
    ) -> None:
        """Initialize a new EmptyChipsPool instance.

        Args:
            num_chips: Number of chips.
            nan_chips: Chips that are all NaN.
            filled_chips: Chips that are all ``fill_value``.
            half_filled: Chips whose left half is ``fill_value``.
            fill_value: The value of filled pixels.
            size: Chip size in pixels.
        """
        self.fill_value = fill_value
        g = torch.Generator().manual_seed(0)
        self.images = 500 + 3000 * torch.rand(num_chips, 4, size, size, generator=g)
        for i in nan_chips or []:
            self.images[i] = torch.nan
        for i in filled_chips or []:
            self.images[i] = fill_value
        for i in half_filled or []:
            self.images[i, :, :, : size // 2] = fill_value
        lonlat = [PLACES[i % len(PLACES)] for i in range(num_chips)]
        self._index = pd.DataFrame(
            {
                "sample_id": [f"chip_{i}" for i in range(num_chips)],
                "path": [f"chip_{i}.tif" for i in range(num_chips)],
                "lon": [p[0] for p in lonlat],
                "lat": [p[1] for p in lonlat],
            }
        )

    def index(self) -> pd.DataFrame:
        return self._index

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        lon, lat = PLACES[index % len(PLACES)]
        return {
            "image": self.images[index].clone(),
            "lon": torch.tensor(lon),
            "lat": torch.tensor(lat),
        }

    def __len__(self) -> int:
        return len(self.images)
