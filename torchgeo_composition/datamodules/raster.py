"""A GeoDataModule drawing patches from a RasterDataset with per-stratum shares."""

from __future__ import annotations

from typing import Any, Literal

import kornia.augmentation as K
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import GeoDataset

from ..geography import RegionLayer
from ..sampling import StratifiedGeoSampler
from .transforms import Normalization, batch_pipeline, build_normalization

__all__ = ["StratifiedRasterDataModule"]


class StratifiedRasterDataModule(GeoDataModule):
    """LightningDataModule drawing random patches from a GeoDataset by composition.

    The GeoDataset path of continent-stratified pretraining: instead of a pool of
    chips, patches are cut from large rasters (any TorchGeo ``RasterDataset``,
    e.g. ``Sentinel2``) with a
    :class:`~torchgeo_composition.sampling.StratifiedGeoSampler`, which intersects
    the dataset's footprints with the region polygons and draws exact per-stratum
    quotas of patches every epoch. Validation patches come from a second sampler
    with seed ``seed + 1``.

    Batches hold ``image`` (B, C, patch_size, patch_size); on the device (TorchGeo's
    ``on_after_batch_transfer`` with :attr:`aug` / :attr:`train_aug`) images are
    normalised (``satmae``, ``standard`` or ``none``, with ``mean``/``std`` given
    or FMoW-Sentinel statistics looked up by ``bands``) and training batches
    flipped at random. Under DDP, Lightning wraps the samplers so that every rank
    reads a disjoint part of each epoch's patches.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        composition: str | dict[str, float] = "global",
        patch_size: int = 96,
        length: int = 1000,
        val_length: int = 0,
        layer: RegionLayer | None = None,
        seed: int = 0,
        on_shortfall: Literal["error", "redistribute"] = "error",
        batch_size: int = 64,
        num_workers: int = 0,
        bands: list[str] | None = None,
        normalization: Normalization = "none",
        mean: list[float] | None = None,
        std: list[float] | None = None,
        augment: bool = True,
    ) -> None:
        """Initialize a new StratifiedRasterDataModule instance.

        Args:
            dataset: The GeoDataset to draw patches from.
            composition: Preset or ``{stratum: weight}`` (continent aliases ok).
            patch_size: Patch height and width in pixels.
            length: Training patches per epoch.
            val_length: Validation patches per epoch (0: no validation).
            layer: Region layer defining strata; ``None`` = continents.
            seed: Seed of the patch draws.
            on_shortfall: ``error`` or ``redistribute`` for a stratum the dataset
                does not cover.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            bands: Names of the dataset's bands (for default normalisation
                statistics); ``None`` uses ``dataset.bands`` if it has them.
            normalization: ``satmae``, ``standard`` or ``none``.
            mean: Per-band mean (default FMoW-Sentinel, looked up by band name).
            std: Per-band standard deviation (default FMoW-Sentinel).
            augment: Flip training patches at random.

        Raises:
            ValueError: If an argument is invalid (named in the message).
        """
        super().__init__(type(dataset), batch_size, patch_size, length, num_workers)
        # ``bands`` stays out of the hyperparameters: a task that leaves its own
        # ``bands`` at the default (None) would disagree with it, and Lightning
        # refuses to log two values of one key. The bands are in :attr:`bands`.
        self.save_hyperparameters(ignore=["dataset", "layer", "bands"])
        if val_length < 0:
            raise ValueError(f"val_length must be >= 0, got {val_length}")
        self.dataset_instance = dataset
        self.layer = layer
        names = bands if bands is not None else list(getattr(dataset, "bands", []))
        self.bands = tuple(names)
        norm = build_normalization(normalization, self.bands, mean, std)
        self.aug = batch_pipeline(*norm)
        if augment:
            self.train_aug = batch_pipeline(
                *norm, K.RandomHorizontalFlip(), K.RandomVerticalFlip()
            )

    def _sampler(self, length: int, seed: int) -> StratifiedGeoSampler:
        hp = self.hparams
        return StratifiedGeoSampler(
            self.dataset_instance,
            composition=hp["composition"],
            size=hp["patch_size"],
            length=length,
            layer=self.layer,
            seed=seed,
            on_shortfall=hp["on_shortfall"],
        )

    def setup(self, stage: str) -> None:
        """Set up the dataset and the stratified samplers.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.
        """
        hp = self.hparams
        self.dataset = self.dataset_instance
        if stage == "fit":
            self.train_sampler = self._sampler(hp["length"], hp["seed"])
        if stage in ("fit", "validate") and hp["val_length"] > 0:
            self.val_sampler = self._sampler(hp["val_length"], hp["seed"] + 1)

    def val_dataloader(self) -> Any:
        """Implement one or more PyTorch DataLoaders for validation.

        Returns:
            The validation data loader (an empty list when ``val_length`` is 0).
        """
        if self.hparams["val_length"] == 0:
            return []
        return self._dataloader_factory("val")
