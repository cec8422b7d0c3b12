"""The shared base of the package's downstream (labelled) datamodules.

Downstream datamodules serve a dataset's ``train``, validation and ``test`` splits
as TorchGeo's :class:`~torchgeo.datamodules.NonGeoDataModule` does, with three
differences every one of them needs: each split's dataset is built once and
kept (its index is available for per-region evaluation), a model that reads
other bands than the datamodule serves is refused at set-up, and a training set
smaller than one batch keeps its samples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from lightning import LightningDataModule
from torch import Tensor
from torch.utils.data import DataLoader
from torchgeo.datamodules import NonGeoDataModule

from ..bands import canonical_band

__all__ = ["DownstreamDataModule", "check_model_bands", "downstream_loader"]


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


class DownstreamDataModule(NonGeoDataModule):
    """Base of a downstream datamodule: one kept dataset per split.

    Subclasses pass their dataset class and its keyword arguments to
    ``__init__`` (as TorchGeo's datamodules do), set :attr:`bands`, and name
    their dataset's splits in :attr:`split_names` when they differ from
    ``train`` / ``val`` / ``test``.
    """

    #: The dataset's ``split`` argument for each of Lightning's splits.
    split_names: ClassVar[Mapping[str, str]] = {
        "train": "train",
        "val": "val",
        "test": "test",
    }
    #: The bands served, in channel order (set by subclasses).
    bands: Sequence[str]

    def __init__(
        self,
        dataset_class: type[Any],
        batch_size: int,
        num_workers: int,
        **kwargs: Any,
    ) -> None:
        """Initialize a new DownstreamDataModule instance.

        Args:
            dataset_class: The dataset class, built with ``split=`` and ``kwargs``.
            batch_size: Size of each mini-batch.
            num_workers: Number of workers for parallel data loading.
            **kwargs: Further arguments of ``dataset_class``.
        """
        super().__init__(dataset_class, batch_size, num_workers, **kwargs)
        self._datasets: dict[str, Any] = {}

    def _dataset(self, split: str) -> Any:
        """Return a split's dataset (Lightning's or the dataset's name), built once."""
        name = self.split_names.get(split, split)
        if name not in self._datasets:
            build: Callable[..., Any] = self.dataset_class
            self._datasets[name] = build(split=name, **self.kwargs)
        return self._datasets[name]

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
            self.val_dataset = self._dataset("val")
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
            split: ``train``, ``val`` or ``test`` (or the dataset's own name).

        Returns:
            The split's index (``sample_id``, ``path``, ``lon``, ``lat`` ...).
        """
        return self._dataset(split).index()
