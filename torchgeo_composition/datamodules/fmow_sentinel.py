"""A datamodule of FMoW-Sentinel's 62-class classification."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from ..bands import FMOW_MEAN, FMOW_STD, canonical_band
from ..datasets import FMoWSentinelClassification
from ..datasets.metadata import MissingPolicy
from .downstream import DownstreamDataModule
from .transforms import Normalization, batch_pipeline, build_normalization

__all__ = ["FMoWSentinelDataModule"]


class FMoWSentinelDataModule(DownstreamDataModule):
    """LightningDataModule of FMoW-Sentinel classification (62 categories).

    Reads the release's ``train.csv``, ``val.csv`` and ``test_gt.csv`` and their
    13-band GeoTIFFs through
    :class:`~torchgeo_composition.datasets.FMoWSentinelClassification` (the
    FMoW-Sentinel pool plus labels). Images differ in size, so they are
    resampled to ``size``. Batches hold ``image``, ``label`` (the category's
    position in :data:`~torchgeo_composition.datasets.FMOW_CATEGORIES`),
    ``lon``, ``lat`` and ``continent``. On the device, images are normalised as
    SatMAE was pretrained (``satmae``: ``clip((x - (mean - 2 std)) / (4 std), 0,
    1)`` with FMoW-Sentinel statistics), by ``standard`` ``(x - mean) / std``
    with the same statistics (then :attr:`mean` and :attr:`std` hold them), or
    not at all. A training set smaller than ``batch_size`` gives one incomplete
    batch instead of none.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        bands: Sequence[str] | None = None,
        size: int = 96,
        normalization: Normalization = "satmae",
        on_missing: MissingPolicy = "error",
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        """Initialize a new FMoWSentinelDataModule instance.

        Args:
            root: Folder holding the split CSVs and image folders.
            bands: Bands served, in order; ``None`` = the 13 Sentinel-2 bands.
            size: Height and width images are resampled to (nearest).
            normalization: ``satmae``, ``standard`` or ``none``.
            on_missing: Rows whose image is missing: ``"error"``, ``"skip"`` or
                ``"ignore"``.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.

        Raises:
            ValueError: For an unknown band or normalisation or a bad size.
        """
        super().__init__(
            FMoWSentinelClassification,
            batch_size,
            num_workers,
            root=root,
            bands=list(bands) if bands is not None else None,
            size=size,
            on_missing=on_missing,
        )
        train = self._dataset("train")
        self.bands = train.bands
        self.num_classes = 62
        self.task_type = "multiclass"
        self.normalization = normalization
        norm = build_normalization(normalization, self.bands)
        self.aug = batch_pipeline(*norm)
        # None unless standard: tasks undo (x - mean) / std only
        standard = normalization == "standard"
        keys = [canonical_band(b) for b in self.bands]
        self.mean = torch.tensor([FMOW_MEAN[k] for k in keys]) if standard else None  # type: ignore[assignment]
        self.std = torch.tensor([FMOW_STD[k] for k in keys]) if standard else None  # type: ignore[assignment]
