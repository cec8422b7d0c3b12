"""A datamodule for the synthetic land-cover classification task (demo downstream)."""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch.utils.data import Subset
from torchgeo.datamodules import NonGeoDataModule

from ..bands import SATMAE_BANDS
from ..datasets import SyntheticLandCover
from .transforms import batch_pipeline, build_normalization

__all__ = ["SyntheticLandCoverDataModule"]


class SyntheticLandCoverDataModule(NonGeoDataModule):
    """LightningDataModule of :class:`~torchgeo_composition.datasets.SyntheticLandCover`.

    The chips are split into train, validation and test sets deterministically from
    ``split_seed`` (independent of the Lightning seed, so repeated probes see the
    same split). On the device, images are normalised like SatMAE,
    ``clip((x - (mean - 2 std)) / (4 std), 0, 1)`` with FMoW-Sentinel statistics;
    training batches are also flipped at random. Batches hold ``image`` and
    ``label`` (and ``lon``/``lat`` with ``locations=True``); :attr:`bands` names
    the channels.
    """

    def __init__(
        self,
        num_samples: int = 600,
        size: int = 32,
        seed: int = 0,
        bands: list[str] | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        split_seed: int = 0,
        batch_size: int = 64,
        num_workers: int = 0,
        augment: bool = True,
        locations: bool = False,
    ) -> None:
        """Initialize a new SyntheticLandCoverDataModule instance.

        Args:
            num_samples: Number of chips in all splits together.
            size: Chip height and width in pixels.
            seed: Seed generating the chips.
            bands: Bands served, in order (default SatMAE's 10 bands).
            val_fraction: Share of the chips held out for validation.
            test_fraction: Share of the chips held out for testing.
            split_seed: Seed of the train / validation / test split.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            augment: Flip training batches at random.
            locations: Give each sample a ``lon``/``lat`` on land (for
                per-region evaluation).

        Raises:
            ValueError: If the fractions are not in [0, 1) or sum to 1 or more, or
                a band has no FMoW-Sentinel statistics.
        """
        for name, value in (
            ("val_fraction", val_fraction),
            ("test_fraction", test_fraction),
        ):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1, got "
                f"{val_fraction} + {test_fraction}"
            )
        self.bands = tuple(bands) if bands is not None else SATMAE_BANDS
        norm = build_normalization("satmae", self.bands)
        super().__init__(
            SyntheticLandCover,
            batch_size,
            num_workers,
            num_samples=num_samples,
            size=size,
            seed=seed,
            bands=list(self.bands),
            locations=locations,
        )
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.split_seed = split_seed
        self.aug = batch_pipeline(*norm)
        if augment:
            self.train_aug = batch_pipeline(
                *norm, K.RandomHorizontalFlip(), K.RandomVerticalFlip()
            )

    def setup(self, stage: str) -> None:
        """Generate the chips and split them.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        dataset = SyntheticLandCover(**self.kwargs)
        n = len(dataset)
        order = torch.randperm(
            n, generator=torch.Generator().manual_seed(self.split_seed)
        )
        n_val = round(self.val_fraction * n)
        n_test = round(self.test_fraction * n)
        val = order[:n_val].tolist()
        test = order[n_val : n_val + n_test].tolist()
        train = order[n_val + n_test :].tolist()
        self.train_dataset = Subset(dataset, train)
        self.val_dataset = Subset(dataset, val)
        self.test_dataset = Subset(dataset, test)
        self.predict_dataset = Subset(dataset, test)
