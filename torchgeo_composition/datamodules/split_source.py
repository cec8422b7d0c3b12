"""Any datamodule's split as a source of samples to measure (``diversity``).

:class:`SplitSource` wraps a datamodule (ours, TorchGeo's such as
``EuroSATDataModule``, or any with TorchGeo's ``setup`` / ``*_dataset`` /
``aug`` conventions) so that it offers what
:func:`~torchgeo_composition.diversity.diversity_report` needs: a dataset of
one split, the evaluation transform ``aug`` and the band names of its
channels. The band order is the data source's, never assumed: the
datamodule's ``bands`` attribute, else its dataset's ``bands`` (through
``Subset`` wrappers), else the ``bands`` given by the user; a source with
neither is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset, Subset

__all__ = ["SPLITS", "SplitSource", "source_bands"]

#: Splits that can be measured.
SPLITS = ("predict", "train", "val", "test")
_STAGES = {"predict": "predict", "train": "fit", "val": "fit", "test": "test"}


def source_bands(obj: Any) -> tuple[str, ...] | None:
    """Band names of a datamodule or dataset, from its ``bands`` attribute.

    Args:
        obj: A datamodule or dataset (``Subset`` wrappers are looked through).

    Returns:
        The names, or ``None`` if neither it nor a wrapped dataset has them.
    """
    while obj is not None:
        bands = getattr(obj, "bands", None)
        if isinstance(bands, Sequence) and not isinstance(bands, str) and bands:
            return tuple(str(b) for b in bands)
        obj = obj.dataset if isinstance(obj, Subset) else None
    return None


class SplitSource:
    """One split of a datamodule, with its evaluation transform and band names."""

    def __init__(
        self,
        datamodule: Any,
        split: str | None = None,
        bands: Sequence[str] | None = None,
    ) -> None:
        """Initialize a new SplitSource instance.

        Args:
            datamodule: The datamodule.
            split: ``"predict"``, ``"train"``, ``"val"`` or ``"test"``; ``None``
                takes the predict set when the datamodule builds one, else
                the training split.
            bands: Names of the channels, in order, for a source that does not
                name them (a ``bands`` attribute of the datamodule or dataset);
                when it does, they must agree.

        Raises:
            ValueError: On an unknown split.
        """
        if split is not None and split not in SPLITS:
            raise ValueError(f"split={split!r} is invalid; valid choices: {SPLITS}")
        self.datamodule = datamodule
        self.split = split
        self.given_bands = None if bands is None else tuple(bands)
        self._dataset: Dataset[dict[str, Any]] | None = None
        self._bands: tuple[str, ...] | None = None

    def _dataset_of(self, split: str) -> Any:
        self.datamodule.setup(_STAGES[split])
        return getattr(self.datamodule, f"{split}_dataset", None)

    def setup(self, stage: str) -> None:
        """Build the split's dataset and find its band names.

        Args:
            stage: Ignored (the split is chosen at construction).

        Raises:
            ValueError: If the split has no dataset, or the band names are
                unknown or disagree with the given ``bands``.
        """
        del stage
        name = type(self.datamodule).__name__
        split = self.split
        dataset = self._dataset_of(split or "predict")
        if dataset is None and split is None:
            split = "train"
            dataset = self._dataset_of(split)
        if dataset is None:
            raise ValueError(
                f"split={split or 'predict'!r}: {name} builds no dataset for it; "
                f"choose another split ({', '.join(SPLITS)})"
            )
        found = source_bands(self.datamodule) or source_bands(dataset)
        if found is None and self.given_bands is None:
            raise ValueError(
                f"bands: {name} does not name its channels (no 'bands' attribute "
                "on the datamodule or its dataset); give them in order with "
                "--bands, e.g. --bands='[B02, B03, B04, B08]'"
            )
        if found is not None and self.given_bands not in (None, found):
            raise ValueError(
                f"bands={list(self.given_bands or ())} disagree with the band "
                f"order of {name}, {list(found)}; leave bands unset for a "
                "datamodule"
            )
        self._bands = found or self.given_bands
        self._dataset = dataset
        self.split = split

    @property
    def pool(self) -> Any:
        """The datamodule's pool, if it has one."""
        return getattr(self.datamodule, "pool", None)

    @property
    def summary(self) -> Any:
        """The datamodule's manifest summary, if it has one."""
        return getattr(self.datamodule, "summary", None)

    @property
    def predict_dataset(self) -> Dataset[dict[str, Any]] | None:
        """The split's samples (after :meth:`setup`)."""
        return self._dataset

    @property
    def bands(self) -> tuple[str, ...]:
        """Band names, in channel order (after :meth:`setup`)."""
        if self._bands is None:
            raise ValueError("call setup() before reading bands")
        return self._bands

    @property
    def aug(self) -> Callable[[dict[str, Tensor]], dict[str, Tensor]]:
        """The datamodule's evaluation transform (identity if it has none)."""
        aug = getattr(self.datamodule, "aug", None)
        return aug if aug is not None else _identity


def _identity(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return batch
