"""A small, reproducible, labelled land-cover classification set of synthetic chips."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from ..bands import S2_BANDS, band_indices
from .synthetic import LAND_COVERS, render_covers

__all__ = ["SyntheticLandCover"]


class SyntheticLandCover(NonGeoDataset):
    """Synthetic Sentinel-2 chips labelled by their dominant land cover.

    A downstream task for the demo pool
    (:class:`~torchgeo_composition.datasets.SyntheticSentinel2Pool`): every chip mixes
    one to three of the land covers of
    :data:`~torchgeo_composition.datasets.LAND_COVERS` (water, forest, cropland,
    desert, urban, snow) simulated like the demo pool's chips
    (:func:`~torchgeo_composition.datasets.synthetic.render_covers`), and its label
    is the cover occupying most pixels. Chips are generated in memory from ``seed``
    (the same arguments always give the same samples) and classes are balanced:
    sample ``i`` is dominated by class ``i mod 6``.

    Samples are dicts with ``image`` (C, H, W) float32 digital numbers (reflectance
    x 10000, like the pool) and ``label`` (0-d int64 tensor, the index of the class in
    :attr:`classes`). With ``locations=True`` they also hold ``lon`` and ``lat``
    (0-d float64 tensors): a point on land in one of the six inhabited continents,
    drawn per sample from ``seed`` with unequal shares (:data:`LOCATION_SHARES`),
    so that per-region evaluation has large and small regions.
    """

    #: Class names, in label order.
    classes: tuple[str, ...] = tuple(LAND_COVERS)

    #: Continent, (lon, lat) of a land point, share of the samples (locations=True).
    LOCATION_SHARES: tuple[tuple[str, tuple[float, float], float], ...] = (
        ("europe", (10.0, 50.0), 0.35),
        ("asia", (90.0, 40.0), 0.25),
        ("africa", (20.0, 5.0), 0.15),
        ("north_america", (-100.0, 40.0), 0.15),
        ("south_america", (-60.0, -15.0), 0.07),
        ("oceania", (135.0, -25.0), 0.03),
    )

    def __init__(
        self,
        num_samples: int = 600,
        size: int = 32,
        seed: int = 0,
        bands: Sequence[str] | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
        locations: bool = False,
    ) -> None:
        """Initialize a new SyntheticLandCover instance (generates the chips).

        Args:
            num_samples: Number of chips (at least one per class, 6).
            size: Height and width of each chip in pixels (at least 4).
            seed: Random seed; the same seed gives identical chips.
            bands: Bands to return, in order; ``None`` returns all 13
                (:data:`~torchgeo_composition.bands.S2_BANDS`).
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.
            locations: Add ``lon`` and ``lat`` to each sample.

        Raises:
            ValueError: If ``num_samples`` < 6, ``size`` < 4, or ``bands`` names an
                unknown band.
        """
        if num_samples < len(self.classes):
            raise ValueError(
                f"num_samples must be >= {len(self.classes)} (one per class), got "
                f"{num_samples}"
            )
        if size < 4:
            raise ValueError(f"size must be >= 4 pixels, got {size}")
        self.bands = tuple(bands) if bands is not None else S2_BANDS
        channels = band_indices(S2_BANDS, self.bands)
        self.num_samples = num_samples
        self.size = size
        self.seed = seed
        self.transforms = transforms
        images, labels = self._generate(num_samples, size, seed)
        self.images = torch.from_numpy(images[:, channels])
        self.labels = torch.from_numpy(labels)
        self.locations = self._locations(num_samples, seed) if locations else None

    @classmethod
    def _generate(
        cls, num_samples: int, size: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Simulate all chips and their labels."""
        k_classes = len(cls.classes)
        images = np.empty((num_samples, len(S2_BANDS), size, size), np.float32)
        labels = np.empty(num_samples, dtype=np.int64)
        for i in range(num_samples):
            rng = np.random.default_rng([seed, i])
            target = i % k_classes
            others = rng.permutation([c for c in range(k_classes) if c != target])
            covers = np.concatenate([[target], others[: rng.integers(0, 3)]])
            cover, images[i] = render_covers(covers, size, rng, lead=0.6)
            labels[i] = int(np.argmax(np.bincount(cover.ravel(), minlength=k_classes)))
        return images, labels

    @classmethod
    def _locations(cls, num_samples: int, seed: int) -> Tensor:
        """Draw one land point per sample, independently of the images."""
        anchors = np.array([a for _, a, _ in cls.LOCATION_SHARES])
        shares = np.array([s for _, _, s in cls.LOCATION_SHARES])
        rng = np.random.default_rng([seed, num_samples, 1])
        which = rng.choice(len(anchors), size=num_samples, p=shares / shares.sum())
        jitter = rng.uniform(-3.0, 3.0, size=(num_samples, 2))
        return torch.from_numpy(anchors[which] + jitter)

    def __len__(self) -> int:
        """Return the number of chips.

        Returns:
            The number of chips.
        """
        return self.num_samples

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one chip and its label.

        Args:
            index: Position of the chip.

        Returns:
            ``image`` (C, H, W) float32 and ``label`` (int64).
        """
        sample = {"image": self.images[index], "label": self.labels[index]}
        if self.locations is not None:
            sample["lon"], sample["lat"] = self.locations[index]
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample
