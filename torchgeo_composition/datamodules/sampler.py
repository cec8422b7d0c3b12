"""A distributed sampler that shards a manifest exactly once per epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

__all__ = ["ShardedManifestSampler", "shard_sizes"]


def shard_sizes(num_items: int, num_replicas: int, batch_size: int) -> list[int]:
    """Split ``num_items`` into per-rank shards that give equal batch counts.

    Every rank gets ``ceil(num_items / (num_replicas * batch_size))`` batches: all
    but possibly the last batch of each rank are full, and the last batches are
    as even as possible.

    Args:
        num_items: Number of items to shard.
        num_replicas: Number of ranks.
        batch_size: Batch size of every rank.

    Returns:
        The number of distinct items of each rank; they sum to ``num_items``. A rank
        whose shard would end one batch short gets its shard padded by one repeated
        item (see :class:`ShardedManifestSampler`), which only happens when fewer
        than ``num_replicas`` items are left for the last round of batches.
    """
    batches = math.ceil(num_items / (num_replicas * batch_size))
    full = max(batches - 1, 0) * batch_size
    rest = num_items - num_replicas * full
    return [
        full + rest // num_replicas + (r < rest % num_replicas)
        for r in range(num_replicas)
    ]


class ShardedManifestSampler(DistributedSampler[int]):
    """Give each rank a disjoint shard; together the shards cover the data once.

    Unlike :class:`torch.utils.data.DistributedSampler`, which pads the data with
    repeated samples so that every rank gets the same number of *samples*, this
    sampler gives every rank the same number of *batches* (DDP hangs otherwise)
    while each sample is seen exactly once per epoch: shards differ in size by at
    most one batch's worth in their last batch. Use it with
    ``DataLoader(batch_size=batch_size, drop_last=False)``.

    In the rare case that fewer samples than ranks are left for the last round of
    batches, ranks without one repeat one sample of their own shard;
    :attr:`num_padded` counts those repeats (0 otherwise).

    Because it is a :class:`~torch.utils.data.DistributedSampler`, Lightning keeps
    it instead of injecting its own distributed sampler. :meth:`set_epoch` (called
    by Lightning every epoch) reshuffles with ``seed + epoch``, identically on every
    rank, and passes the epoch on to the dataset when it has a ``set_epoch``
    (e.g. a pool drawing SSL4EO-S12 seasons per epoch).
    """

    def __init__(
        self,
        dataset: Sized,
        batch_size: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        """Initialize a new ShardedManifestSampler instance.

        Args:
            dataset: The dataset to sample from (only its length is used).
            batch_size: Batch size of the data loader on every rank.
            num_replicas: Number of ranks; ``None`` reads the process group (1 when
                not distributed).
            rank: This rank; ``None`` reads the process group (0 when not
                distributed).
            shuffle: Shuffle the order every epoch.
            seed: Shuffling seed, identical on every rank.

        Raises:
            ValueError: If ``batch_size`` < 1 or ``rank`` is not in
                ``[0, num_replicas)``.
        """
        initialized = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if initialized else 1
        if rank is None:
            rank = dist.get_rank() if initialized else 0
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank}")
        super().__init__(
            dataset,  # type: ignore[arg-type]
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=False,
        )
        self.batch_size = batch_size
        n = len(dataset)
        self.sizes = shard_sizes(n, num_replicas, batch_size)
        batches = math.ceil(n / (num_replicas * batch_size)) if n else 0
        low = max(batches - 1, 0) * batch_size
        self.num_padded = sum(1 for s in self.sizes if n and s == low)
        self._start = sum(self.sizes[:rank])
        self._pad = int(bool(n) and self.sizes[rank] == low)
        self.num_samples = self.sizes[rank] + self._pad
        self.total_size = n + self.num_padded

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch: the shuffle seed and the dataset's own epoch.

        Args:
            epoch: The epoch about to be read.
        """
        super().set_epoch(epoch)
        hook = getattr(self.dataset, "set_epoch", None)
        if callable(hook):
            hook(epoch)

    def __iter__(self) -> Iterator[int]:
        """Yield this rank's indices for the current epoch.

        Returns:
            An iterator over dataset indices.
        """
        n = len(self.dataset)  # type: ignore[arg-type]
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=generator).tolist()
        else:
            order = list(range(n))
        shard = order[self._start : self._start + self.sizes[self.rank]]
        if self._pad:
            shard.append(shard[0] if shard else order[0])
        return iter(shard)

    def __len__(self) -> int:
        """Return the number of indices this rank yields per epoch.

        Returns:
            The shard size (plus padding, if any).
        """
        return self.num_samples
