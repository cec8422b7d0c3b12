"""A datamodule of the GEO-Bench v1 classification and segmentation tasks."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch

from ..datasets import GeoBenchDataset
from ..datasets.geobench_tasks import GEOBENCH_SEGMENTATION
from .downstream import DownstreamDataModule, check_model_bands, downstream_loader
from .transforms import Normalization, batch_pipeline, build_normalization

__all__ = ["GeoBenchDataModule", "check_model_bands", "downstream_loader"]


class GeoBenchDataModule(DownstreamDataModule):
    """LightningDataModule of a GEO-Bench v1 task, read from its on-disk layout.

    Serves the ``train``, ``valid`` and ``test`` lists of a partition
    (``default`` or a few-shot ``0.01x_train`` ... ``1.00x_train``) of one of
    the six classification or six segmentation tasks. Batches hold ``image``,
    ``label`` (classification; multi-hot for m-bigearthnet) or ``mask``
    (segmentation), ``lon``, ``lat`` (NaN where the task stores no location)
    and ``continent`` (``""`` then). On the device, images are normalised with
    the task's ``band_stats.json`` (``standard``: ``(x - mean) / std``, or
    ``satmae``: SatMAE's clipped scaling with those statistics) or not at all.

    :attr:`bands` names the channels (this package's Sentinel-2 names, with
    m-eurosat's stored names corrected), :attr:`num_classes` the classes and
    :attr:`task_type` is ``multiclass``, ``multilabel`` or ``segmentation``;
    with ``standard`` normalisation :attr:`mean` and :attr:`std` hold the
    statistics (a task with ``input_normalization: backbone`` undoes them).
    A training set smaller than ``batch_size`` (a few-shot partition) gives one
    incomplete batch instead of none.
    """

    split_names: ClassVar[Mapping[str, str]] = {
        "train": "train",
        "val": "valid",
        "test": "test",
    }

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        task: str = "m-eurosat",
        partition: str = "default",
        bands: Sequence[str] | None = None,
        normalization: Normalization = "standard",
        batch_size: int = 32,
        num_workers: int = 0,
    ) -> None:
        """Initialize a new GeoBenchDataModule instance.

        Args:
            root: The GEO-Bench folder (holding ``classification_v1.0`` and
                ``segmentation_v1.0``) or a folder of task folders.
            task: A GEO-Bench v1 task, e.g. ``m-eurosat`` or ``m-cashew-plant``.
            partition: ``default`` or a few-shot partition (``0.01x_train``,
                ``0.02x_train``, ``0.05x_train``, ``0.10x_train``, ``0.20x_train``,
                ``0.50x_train``, ``1.00x_train``).
            bands: Bands served, in order (e.g. ``[B2, B3, B4]``); ``None`` = all
                the task's bands (Sentinel-2 bands first, in product order).
            normalization: ``standard``, ``satmae`` or ``none``.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.

        Raises:
            ValueError: For an unknown task, partition, band or normalisation,
                a task folder without its partition file or ``band_stats.json``,
                or a first training sample missing a band or holding a metadata
                pickle with a type outside the allow-list (named); the other
                samples are checked when a stage is set up.
        """
        super().__init__(
            GeoBenchDataset,
            batch_size,
            num_workers,
            root=root,
            task=task,
            partition=partition,
            bands=list(bands) if bands is not None else None,
        )
        # one sample only here; every sample's metadata is read by setup
        train = GeoBenchDataset.describe(root, task, partition, bands)
        self.bands = train.bands
        self.kwargs["bands"] = list(self.bands)
        self.num_classes = train.num_classes()
        if task in GEOBENCH_SEGMENTATION:
            self.task_type = "segmentation"
        else:
            self.task_type = "multilabel" if task == "m-bigearthnet" else "multiclass"
        mean, std = train.statistics()
        self.normalization = normalization
        self.aug = batch_pipeline(
            *build_normalization(normalization, self.bands, mean, std)
        )
        # None unless standard: tasks undo (x - mean) / std only
        standard = normalization == "standard"
        self.mean = torch.tensor(mean) if standard else None  # type: ignore[assignment]
        self.std = torch.tensor(std) if standard else None  # type: ignore[assignment]
