"""Diversity measures as torchmetrics metrics, and their registry.

A measure gives one value per sample (:meth:`DiversityMeasure.per_sample`); as a
:class:`~torchmetrics.Metric` it accumulates the count, sum and sum of squares of
those values, overall and per stratum, in states reduced with ``sum`` across
processes, so that :meth:`~DiversityMeasure.compute` returns the mean and standard
deviation of the union of all ranks' samples. The registry maps a name to a measure
class: a new measure is one subclass with ``@register_measure`` above it::

    @register_measure
    class Brightness(DiversityMeasure):
        name = "brightness"
        label = "mean brightness"

        def per_sample(self, images: Tensor) -> Tensor:
            return images.float().nanmean(dim=(1, 2, 3))

Missing pixels (nodata) reach a measure as NaN: use NaN-aware reductions
(``nanmean``), so that a sample with some valid pixels gets a value; a sample
without any is *empty* and gets NaN whatever the measure returns.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = [
    "MEASURES",
    "OTHER",
    "DiversityMeasure",
    "create_measure",
    "list_measures",
    "register_measure",
]

#: Name of the bucket that collects the samples of strata not tracked by name.
OTHER = "other"

#: The per-group states: samples with a value, their sum and sum of squares, and
#: samples without a value (NaN: no valid pixel).
_MOMENTS = ("count", "total", "total_sq", "empty")


class DiversityMeasure(Metric):
    """A per-sample diversity measure, aggregated over samples, strata and ranks.

    Subclasses set :attr:`name` and :attr:`label` and implement
    :meth:`per_sample`; band-resolved measures also implement :meth:`per_band`.
    ``update(images, strata)`` adds a batch; ``compute()`` returns a dict of
    tensors (float64 statistics):

    * ``mean``, ``std`` (unbiased; NaN below two samples), ``count`` and ``empty``
      (samples whose value is NaN, left out of the statistics) over all samples;
    * ``stratum_mean``, ``stratum_std`` and ``stratum_count``, one entry per
      :attr:`strata` name, when strata are tracked (:meth:`track`);
    * ``values``, the per-sample values (gathered from every rank), when they are
      kept.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    #: Registry name; also names logged metrics, report sections and columns.
    name: ClassVar[str] = ""
    #: Human-readable label of the values (axes, table titles).
    label: ClassVar[str] = ""
    #: Short name used in file names (report figures); empty means :attr:`name`.
    stem: ClassVar[str] = ""

    count: Tensor
    total: Tensor
    total_sq: Tensor
    empty: Tensor
    values: list[Tensor] | Tensor

    def __init__(self, **kwargs: Any) -> None:
        """Initialize a new DiversityMeasure instance.

        Args:
            **kwargs: Options of :class:`~torchmetrics.Metric` (for example
                ``sync_on_compute`` or ``process_group``).
        """
        super().__init__(**kwargs)
        self.strata: tuple[str, ...] = ()
        self.keep_values = False
        self.track()

    def track(self, strata: Sequence[str] = (), values: bool = False) -> None:
        """Choose what is accumulated besides the overall statistics; resets.

        Args:
            strata: Strata whose statistics are kept by name; the samples of any
                other stratum are counted under ``other`` (added last). Empty:
                overall statistics only.
            values: Also keep the per-sample values (``compute()["values"]``),
                e.g. for a histogram. Once switched on, the state stays (empty
                when switched off again).
        """
        names = [str(s) for s in strata if str(s) != OTHER]
        self.strata = (*dict.fromkeys(names), OTHER) if strata else ()
        groups = 1 + len(self.strata)
        for state in _MOMENTS:
            default = torch.zeros(groups, dtype=torch.float64, device=self.device)
            self.add_state(state, default, dist_reduce_fx="sum")
        self.keep_values = values
        if values and "values" not in self.metric_state:
            self.add_state("values", [], dist_reduce_fx="cat")
        self.reset()

    @abstractmethod
    def per_sample(self, images: Tensor) -> Tensor:
        """Return the value of each sample.

        Args:
            images: Batch (B, C, H, W); missing pixels are NaN.

        Returns:
            Tensor (B,); NaN for a sample without data.
        """

    def per_band(self, images: Tensor) -> Tensor | None:
        """Return the value of each band of each sample, if the measure has one.

        Args:
            images: Batch (B, C, H, W).

        Returns:
            Tensor (B, C), or ``None`` for measures that are not band-resolved.
        """
        return None

    @property
    def settings(self) -> dict[str, Any]:
        """The measure's parameters, as recorded in reports and checkpoints."""
        return {}

    @property
    def upper_bound(self) -> float | None:
        """Largest possible value, if the measure has one (drawn in figures)."""
        return None

    def update(self, images: Tensor, strata: Sequence[str] | None = None) -> None:
        """Add a batch.

        Args:
            images: Batch (B, C, H, W).
            strata: Stratum of each sample; ignored when no strata are tracked.

        Raises:
            ValueError: If ``strata`` does not have one entry per sample.
        """
        with torch.no_grad():
            values = self.per_sample(images.detach())
        if strata is not None and len(strata) != len(values):
            raise ValueError(
                f"{type(self).__name__}: strata has {len(strata)} entries for "
                f"{len(values)} samples; give one stratum per sample"
            )
        valid = ~torch.isnan(values)
        v = torch.where(valid, values, 0.0).double()
        w = valid.double()
        ids = None
        if strata is not None and self.strata:
            index = {name: i for i, name in enumerate(self.strata)}
            other = len(self.strata) - 1
            ids = torch.tensor(
                [1 + index.get(str(s), other) for s in strata], device=values.device
            )
        for state, x in zip(_MOMENTS, (w, v, v * v, (~valid).double()), strict=True):
            delta = x.new_zeros(1 + len(self.strata))
            delta[0] = x.sum()
            if ids is not None:
                delta.index_add_(0, ids, x)
            current = getattr(self, state)
            setattr(self, state, current + delta.to(current.device))
        if self.keep_values and isinstance(self.values, list):
            self.values.append(values.detach())

    def merge_state(self, incoming_state: dict[str, Any] | Metric) -> None:
        """Add the statistics of another instance (or of its state dict).

        A merge counts as an update: the merged metric holds data.

        Args:
            incoming_state: A measure of the same class, or its ``metric_state``.
        """
        super().merge_state(incoming_state)
        self._update_count += 1
        self._computed = None

    def compute(self) -> dict[str, Tensor]:
        """Return the statistics (see the class docstring).

        Returns:
            Name -> tensor.
        """
        n, s, q = self.count, self.total, self.total_sq
        mean = s / n
        var = (q - s * s / n).clamp(min=0.0) / (n - 1)
        std = torch.where(n >= 2, var.sqrt(), torch.nan)
        out = {"mean": mean[0], "std": std[0], "count": n[0], "empty": self.empty[0]}
        if self.strata:
            out |= {"stratum_mean": mean[1:], "stratum_std": std[1:]}
            out["stratum_count"] = n[1:]
        if self.keep_values:
            values = self.values
            out["values"] = (
                dim_zero_cat(values)
                if isinstance(values, Tensor) or values
                else torch.zeros(0, device=self.device)
            )
        return out


M = TypeVar("M", bound=type[DiversityMeasure])

#: Registered measures: name -> class.
MEASURES: dict[str, type[DiversityMeasure]] = {}


def register_measure(cls: M) -> M:
    """Register a measure class under its :attr:`~DiversityMeasure.name`.

    Args:
        cls: A :class:`DiversityMeasure` subclass with a non-empty ``name``.

    Returns:
        ``cls`` (use as a class decorator).

    Raises:
        ValueError: If the name is empty or taken by another class.
    """
    name = cls.name
    if not name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute 'name'")
    known = MEASURES.get(name)
    if known is not None and known is not cls:
        raise ValueError(
            f"measure name {name!r} of {cls.__qualname__} is already registered by "
            f"{known.__module__}.{known.__qualname__}"
        )
    MEASURES[name] = cls
    return cls


def list_measures() -> list[str]:
    """Return the registered measure names, sorted.

    Returns:
        The names.
    """
    return sorted(MEASURES)


def create_measure(name: str, **kwargs: Any) -> DiversityMeasure:
    """Build a registered measure by name.

    Args:
        name: Registry name (see :func:`list_measures`).
        **kwargs: Arguments of the measure's class.

    Returns:
        The measure.

    Raises:
        ValueError: If no measure has this name.
    """
    factory: Callable[..., DiversityMeasure] | None = MEASURES.get(name)
    if factory is None:
        raise ValueError(
            f"unknown diversity measure {name!r}; registered measures are "
            f"{list_measures()}"
        )
    return factory(**kwargs)
