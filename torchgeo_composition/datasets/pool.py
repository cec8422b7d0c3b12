"""The pool interface: a dataset whose samples have known centre coordinates."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import pandas as pd
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from ..sampling import INDEX_COLUMNS, pool_fingerprint
from .pixels import BadSample, describe_bad_samples, find_bad_samples

__all__ = ["INDEX_COLUMNS", "BadSample", "PoolDataset"]


class PoolDataset(NonGeoDataset, ABC):
    """Abstract base class of a pool of samples to draw pretraining sets from.

    A pool is a :class:`~torchgeo.datasets.NonGeoDataset` whose samples each have a
    location. Its :meth:`index` lists every sample with its centre in longitude and
    latitude (EPSG:4326) without reading pixels, so that a composition can be drawn
    from hundreds of thousands of samples in seconds.

    Subclasses set :attr:`bands` and implement :meth:`index`, :meth:`__getitem__`
    and :meth:`__len__`. Position ``i`` of the dataset is row ``i`` of the index.
    Every pool is a :class:`~torchgeo_composition.sampling.PoolLike`, the interface
    the sampling functions take.

    A sample is a dict with ``image`` (float32 tensor of shape (C, H, W), channels in
    the order of :attr:`bands`), ``lon`` and ``lat`` (0-d float tensors, degrees).
    """

    #: Names of the bands of each sample's ``image``, in channel order.
    bands: tuple[str, ...] = ()

    #: Whether samples change with :meth:`set_epoch` (e.g. seasons drawn per
    #: epoch; a subclass may set it per instance). Data loaders then start fresh
    #: workers every epoch, so the workers see the epoch.
    varies_by_epoch: bool = False

    @abstractmethod
    def index(self) -> pd.DataFrame:
        """Return the pool index.

        Returns:
            A data frame with the :data:`INDEX_COLUMNS`: ``sample_id`` (str,
            unique), ``path`` (str, relative to the pool root), ``lon`` and
            ``lat`` (float64, degrees, EPSG:4326), one row per sample in dataset
            order.
        """

    @abstractmethod
    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the sample in the dataset.

        Returns:
            The sample dict: ``image`` (C, H, W) float32, ``lon``, ``lat``.
        """

    @abstractmethod
    def __len__(self) -> int:
        """Return the number of samples in the pool.

        Returns:
            The number of samples.
        """

    def fingerprint(self) -> str:
        """Return a fingerprint of the pool's contents.

        Two pools with the same sample ids, paths and coordinates have the same
        fingerprint on any machine; a manifest records it to refuse being used with
        another pool.

        Returns:
            The digest of :func:`torchgeo_composition.sampling.pool_fingerprint`
            over :meth:`index`.
        """
        return pool_fingerprint(self.index())

    def positions(self, sample_ids: pd.Series | list[str]) -> list[int]:
        """Map sample ids to dataset positions.

        Args:
            sample_ids: Sample ids of this pool (duplicates allowed).

        Returns:
            The position of each sample id in the dataset.

        Raises:
            ValueError: If a sample id is not in the pool.
        """
        ids = self.index()["sample_id"]
        lookup = pd.Series(range(len(ids)), index=pd.Index(ids))
        wanted = pd.Index(list(sample_ids))
        missing = wanted[~wanted.isin(lookup.index)]
        if len(missing):
            raise ValueError(
                f"sample_id {missing[0]!r} (and {len(missing) - 1} more) is not in "
                f"the pool {self!r}; was the manifest built from another pool?"
            )
        return [int(p) for p in lookup.loc[wanted].to_numpy()]

    def set_epoch(self, epoch: int) -> None:
        """Tell the pool which epoch is read (a no-op unless samples vary by epoch).

        Called every epoch by the datamodules' sampler
        (:class:`~torchgeo_composition.datamodules.ShardedManifestSampler`).

        Args:
            epoch: The epoch about to be read.
        """

    def check_pixels(
        self,
        sample_ids: Sequence[str] | None = None,
        num_workers: int | None = None,
        raise_error: bool = True,
    ) -> list[BadSample]:
        """Read samples once, in parallel, and report those that cannot be used.

        A pre-flight check before training: every sample is read (threads, with
        a progress bar) and reported with its file and the reason when it cannot
        be read (e.g. a truncated GeoTIFF whose header opens), has no valid pixel
        (every pixel NaN, infinite or nodata), or has another shape than the
        others.

        Args:
            sample_ids: Samples to read; ``None`` reads the whole pool.
            num_workers: Threads; ``None`` = Python's default for I/O work.
            raise_error: Raise when a sample is bad instead of returning the list.

        Returns:
            The bad samples (empty when every sample is fine).

        Raises:
            ValueError: If ``raise_error`` and a sample is bad: one message
                naming every bad file (the first ten) and its problem.
        """
        positions = (
            list(range(len(self)))
            if sample_ids is None
            else self.positions(list(sample_ids))
        )
        bad = find_bad_samples(self, positions, num_workers)
        if bad and raise_error:
            raise ValueError(describe_bad_samples(bad, len(set(positions)), self))
        return bad
