"""A Lightning callback logging the spectral entropy of the training batches."""

from __future__ import annotations

from typing import Any

from ..diversity.entropy import UNIT_RANGE
from ..diversity.measure import DiversityMeasure
from ..diversity.recipes import get_recipe
from ..diversity.spectral import SpectralEntropy
from .diversity_monitor import DiversityMonitor

__all__ = ["SpectralEntropyMonitor"]


class SpectralEntropyMonitor(DiversityMonitor):
    """Log the per-sample spectral entropy of the training batches.

    A :class:`~torchgeo_composition.callbacks.DiversityMonitor` with one measure,
    :class:`~torchgeo_composition.diversity.SpectralEntropy`, whose names are
    logged under ``prefix`` itself: ``{prefix}/mean``, ``{prefix}/std``,
    ``{prefix}/{stratum}``, ``{prefix}/epoch_mean``, ``{prefix}/epoch_std``,
    ``{prefix}/epoch_empty``, ``{prefix}/epoch_{stratum}`` and the TensorBoard
    histogram ``{prefix}/per_sample``. ``entropy_recipe`` names the recipe
    (``default`` or ``olmoearth``) and is recorded with the settings. Under DDP the statistics are reduced over
    the ranks before they are formed (equal to a single process seeing the same
    samples).
    """

    def __init__(
        self,
        bins: int = 32,
        value_range: tuple[float, float] = UNIT_RANGE,
        every_n_steps: int = 1,
        per_stratum: bool = True,
        key: str = "image",
        stratum_key: str = "continent",
        strata: list[str] | None = None,
        bands: list[int] | None = None,
        prefix: str = "train_spectral_entropy",
        histogram: bool = True,
        entropy_recipe: str | None = None,
    ) -> None:
        """Initialize a new SpectralEntropyMonitor instance.

        Args:
            bins: Histogram bins per band (at least 2).
            value_range: ``(low, high)`` range of the histograms, in the units of
                the batch the model receives: ``(0, 1)`` suits SatMAE-normalised
                batches; use e.g. ``(-3, 3)`` for standardised ones.
            every_n_steps: Measure every this many training batches.
            per_stratum: Also log the mean of each stratum.
            key: Batch key of the images.
            stratum_key: Batch key of the strata.
            strata: Strata tracked by name (see :class:`DiversityMonitor`).
            bands: Channel indices to measure (``None``: all).
            prefix: Prefix of the logged names, used as it is.
            histogram: Send a histogram of per-sample values to TensorBoard.
            entropy_recipe: Name of a spectral-entropy recipe (``default``,
                ``olmoearth``; see :mod:`~torchgeo_composition.diversity.recipes`)
                that sets ``bins`` and ``value_range`` (leave them at their
                defaults); recorded in the settings and checkpoints. The batches
                must be prepared as it says: ``olmoearth`` measures raw digital
                numbers, so the datamodule's ``normalization`` must be ``none``
                (checked at setup).

        Raises:
            ValueError: If ``bins``, ``value_range``, ``every_n_steps`` or
                ``entropy_recipe`` is invalid, or ``entropy_recipe`` is given
                with ``bins`` or ``value_range``.
        """
        name = None if entropy_recipe is None else get_recipe(entropy_recipe).name
        measure = SpectralEntropy(bins, value_range, recipe=name)
        super().__init__(
            [measure], key, bands, every_n_steps, per_stratum, stratum_key, strata
        )
        self.entropy_recipe = name
        self.prefix = prefix
        self.histogram = histogram
        self.bins = measure.bins
        self.value_range = measure.value_range or value_range

    def log_prefix(self, measure: DiversityMeasure) -> str:
        """Return :attr:`prefix`: the names are logged under it directly.

        Args:
            measure: The spectral-entropy measure.

        Returns:
            The prefix.
        """
        return self.prefix

    def state_dict(self) -> dict[str, Any]:
        """Return the settings, so that a checkpoint records them.

        Returns:
            The monitor's settings.
        """
        return {
            "bins": self.bins,
            "value_range": list(self.value_range),
            "every_n_steps": self.every_n_steps,
            "key": self.key,
            "bands": self.bands,
            "entropy_recipe": self.entropy_recipe,
        }
