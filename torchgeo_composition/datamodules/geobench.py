"""A datamodule of the GEO-Bench v1 classification and segmentation tasks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from ..bands import canonical_band
from ..datasets import GeoBenchDataset
from ..datasets.geobench_tasks import GEOBENCH_SEGMENTATION
from .transforms import Normalization, batch_pipeline, build_normalization

__all__ = ["GeoBenchDataModule", "check_model_bands", "downstream_loader"]


def check_model_bands(datamodule: LightningDataModule, bands: Sequence[str]) -> None:
    """Refuse a model that reads other bands than the datamodule serves.

    Compares the ``bands`` hyperparameter of the trainer's model (when it has
    one) with ``bands``, the datamodule's channels.

    Args:
        datamodule: The datamodule (attached to a trainer, or not).
        bands: The bands it serves, in channel order.

    Raises:
        ValueError: Naming both band lists, if they differ.
    """
    trainer = datamodule.trainer  # None while not attached
    model = getattr(trainer, "lightning_module", None) if trainer else None
    wanted = getattr(model, "hparams", {}).get("bands") if model else None
    if wanted is None:
        return
    if [canonical_band(b) for b in wanted] != [canonical_band(b) for b in bands]:
        raise ValueError(
            f"model bands {list(wanted)} are not the bands the datamodule serves "
            f"({type(datamodule).__name__}: {list(bands)}); set model.init_args.bands "
            "to the datamodule's bands, in that order (or choose them with "
            "data.init_args.bands)"
        )


def downstream_loader(
    datamodule: NonGeoDataModule, split: str
) -> DataLoader[dict[str, Tensor]]:
    """TorchGeo's loader of a split, keeping a training set under one batch.

    TorchGeo drops the last incomplete training batch, which would leave a
    training set smaller than ``batch_size`` (a few-shot partition, a tiny
    download) with no batch at all; it is kept as one incomplete batch.

    Args:
        datamodule: The datamodule (its ``{split}_dataset`` is set up).
        split: Either 'train', 'val', 'test', or 'predict'.

    Returns:
        The data loader.
    """
    dataset = datamodule._valid_attribute(f"{split}_dataset", "dataset")
    batch_size = datamodule._valid_attribute(f"{split}_batch_size", "batch_size")
    return DataLoader(
        dataset=dataset,
        batch_size=batch_size,
        shuffle=split == "train",
        num_workers=datamodule.num_workers,
        collate_fn=datamodule.collate_fn,
        drop_last=split == "train" and len(dataset) > batch_size,
        persistent_workers=datamodule.num_workers > 0,
    )


class GeoBenchDataModule(NonGeoDataModule):
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
        self._datasets: dict[str, GeoBenchDataset] = {}
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

    def _dataset(self, split: str) -> GeoBenchDataset:
        if split not in self._datasets:
            self._datasets[split] = GeoBenchDataset(split=split, **self.kwargs)  # type: ignore[arg-type]
        return self._datasets[split]

    def setup(self, stage: str) -> None:
        """Set up the splits a stage needs.

        Args:
            stage: Either 'fit', 'validate', 'test', or 'predict'.

        Raises:
            ValueError: If the model reads other bands than :attr:`bands`.
        """
        check_model_bands(self, self.bands)
        if stage == "fit":
            self.train_dataset = self._dataset("train")
        if stage in ("fit", "validate"):
            self.val_dataset = self._dataset("valid")
        if stage in ("test", "predict"):
            self.test_dataset = self._dataset("test")
            self.predict_dataset = self.test_dataset

    def _dataloader_factory(self, split: str) -> DataLoader[dict[str, Tensor]]:
        """Build a split's loader (see :func:`downstream_loader`).

        Args:
            split: Either 'train', 'val', 'test', or 'predict'.

        Returns:
            The data loader.
        """
        return downstream_loader(self, split)

    def index(self, split: str = "test") -> Any:
        """Return the samples of a split with their locations.

        Args:
            split: ``train``, ``valid`` or ``test``.

        Returns:
            The split's :meth:`~torchgeo_composition.datasets.GeoBenchDataset.index`.
        """
        return self._dataset(split).index()
