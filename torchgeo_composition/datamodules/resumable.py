"""A data loader that resumes an interrupted epoch where it stopped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from torch.utils.data import DataLoader

__all__ = ["ResumableDataLoader"]

T_co = TypeVar("T_co", covariant=True)


class _SkipFirst:
    """Wrap a (batch) sampler so that its next pass skips the first batches."""

    def __init__(self, inner: Iterable[Any]) -> None:
        self.inner = inner
        self.skip = 0

    def __iter__(self) -> Iterator[Any]:
        # a generator: the inner order is drawn at the first batch, after set_epoch
        skip, self.skip = self.skip, 0
        yield from islice(iter(self.inner), skip, None)

    def __len__(self) -> int:
        return len(self.inner)  # type: ignore[arg-type]


class ResumableDataLoader(DataLoader[T_co]):
    """A :class:`~torch.utils.data.DataLoader` whose position in an epoch is saved.

    It counts the batches it has yielded in the current epoch (in the main
    process, so worker prefetching does not count) and gives them, with the
    sampler's epoch, from :meth:`state_dict`; Lightning stores that in every
    checkpoint. After :meth:`load_state_dict`, the next pass skips those batches
    by their indices (the skipped samples are not read) and yields the rest of
    the epoch, so a run resumed from a mid-epoch checkpoint sees the batches of
    the uninterrupted run. The order is identical only when the sampler fixes it
    by the epoch (``set_epoch``, e.g.
    :class:`~torchgeo_composition.datamodules.ShardedManifestSampler`); a
    sampler that draws from the global random generator (``shuffle=True``) does
    not. :func:`len` stays the full epoch's number of batches.

    It takes the arguments of :class:`~torch.utils.data.DataLoader`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize a new ResumableDataLoader instance.

        Args:
            *args: Positional arguments of :class:`~torch.utils.data.DataLoader`.
            **kwargs: Keyword arguments of :class:`~torch.utils.data.DataLoader`.
        """
        super().__init__(*args, **kwargs)
        inner = self.batch_sampler if self.batch_sampler is not None else self.sampler
        self._skipper = _SkipFirst(inner)
        self._batches = 0
        self._resume_at = 0

    @property
    def _index_sampler(self) -> Any:
        return self._skipper

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        """Start a pass, skipping the batches a loaded state says were read.

        Returns:
            An iterator over the (remaining) batches of the epoch.
        """
        start, self._resume_at = self._resume_at, 0
        self._skipper.skip = start
        self._batches = start
        return self._count(super().__iter__())

    def _count(self, batches: Iterator[Any]) -> Iterator[Any]:
        for batch in batches:
            self._batches += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """Return the position in the epoch.

        Returns:
            ``{"batches": n, "epoch": e}``: ``n`` batches of epoch ``e`` were
            yielded; after a complete epoch, ``n`` is 0 and ``e`` the next epoch.
        """
        epoch = int(getattr(self.sampler, "epoch", 0))
        if self._batches >= len(self):
            return {"batches": 0, "epoch": epoch + 1}
        return {"batches": self._batches, "epoch": epoch}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Make the next pass start after the batches that ``state_dict`` counts.

        Args:
            state_dict: What :meth:`state_dict` returned.

        Raises:
            ValueError: If ``batches`` is negative or not below the number of
                batches per epoch.
        """
        batches = int(state_dict.get("batches", 0))
        if not 0 <= batches < max(len(self), 1):
            raise ValueError(
                f"state_dict['batches'] must be in [0, {len(self)}) (batches per "
                f"epoch), got {batches}; resume with the data of the saved run"
            )
        self._resume_at = batches
        self._batches = batches
        set_epoch = getattr(self.sampler, "set_epoch", None)
        if "epoch" in state_dict and callable(set_epoch):
            # worker processes read their first indices before Lightning sets it
            set_epoch(int(state_dict["epoch"]))
