"""The samples of a manifest, read from their pool."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch.utils.data import Dataset

from ..datasets import PoolDataset

__all__ = ["ManifestDataset"]


class ManifestDataset(Dataset[dict[str, Any]]):
    """The samples of a manifest, read from their pool.

    Each sample is the pool's sample dict (optionally restricted to some channels)
    plus ``continent``: the stratum the sample was selected for.
    """

    def __init__(
        self,
        pool: PoolDataset,
        positions: Sequence[int],
        strata: Sequence[str],
        channels: Sequence[int] | None = None,
    ) -> None:
        """Initialize a new ManifestDataset instance.

        Args:
            pool: The pool the manifest was drawn from.
            positions: Pool position of each sample (duplicates allowed).
            strata: Stratum of each sample.
            channels: Channels of the pool's images to keep; ``None`` keeps all.
        """
        self.pool = pool
        self.positions = list(positions)
        self.strata = list(strata)
        self.channels = None if channels is None else list(channels)

    def __len__(self) -> int:
        """Return the number of samples.

        Returns:
            The number of samples.
        """
        return len(self.positions)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return one sample.

        Args:
            index: Position in the manifest subset.

        Returns:
            ``image``, ``lon``, ``lat`` and ``continent`` (str).
        """
        sample: dict[str, Any] = dict(self.pool[self.positions[index]])
        if self.channels is not None:
            sample["image"] = sample["image"][self.channels]
        sample["continent"] = self.strata[index]
        return sample

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the pool (e.g. seasons drawn per epoch).

        Args:
            epoch: The epoch about to be read.
        """
        hook = getattr(self.pool, "set_epoch", None)
        if callable(hook):
            hook(epoch)
