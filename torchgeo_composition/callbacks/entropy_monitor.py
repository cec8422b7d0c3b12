"""A Lightning callback logging the spectral entropy of the training batches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from ..diversity.entropy import UNIT_RANGE, spectral_entropy
from ..geography import CONTINENTS

__all__ = ["SpectralEntropyMonitor"]

#: Name of the bucket collecting strata that are not in ``strata``.
OTHER = "other"


def _moments(stats: Sequence[float]) -> tuple[float, float]:
    """Mean and unbiased std from ``(count, sum, sum of squares)``."""
    n, s, q = (float(v) for v in stats)
    if n == 0:
        return math.nan, math.nan
    mean = s / n
    if n < 2:
        return mean, math.nan
    var = max(q - s * s / n, 0.0) / (n - 1)
    return mean, math.sqrt(var)


class SpectralEntropyMonitor(Callback):
    """Log the per-sample spectral entropy of the training batches.

    Every ``every_n_steps`` training batches, the callback computes
    :func:`~torchgeo_composition.diversity.spectral_entropy` of each sample of the
    batch in ``on_train_batch_start``, that is after the datamodule's
    ``on_after_batch_transfer`` (normalisation and augmentation, on the device) and
    before the model sees the batch (so before MAE masking). It logs

    * ``{prefix}/mean`` and ``{prefix}/std`` of the batch (per step),
    * ``{prefix}/{stratum}``, the mean of each stratum present in the batch, when
      batches carry ``stratum_key`` (``continent`` for
      :class:`~torchgeo_composition.datamodules.ContinentStratifiedDataModule`),
    * ``{prefix}/epoch_mean``, ``{prefix}/epoch_std`` and
      ``{prefix}/epoch_{stratum}`` over all measured samples of the epoch,
    * a histogram of the per-sample values to TensorBoard, when a
      :class:`~lightning.pytorch.loggers.TensorBoardLogger` is used.

    Under DDP, counts, sums and sums of squares are summed over the ranks before
    the statistics are formed, so the logged values are those of the union of the
    ranks' batches: equal to a single process seeing the same samples. Samples
    without any valid pixel (NaN) are left out and counted in ``{prefix}/empty``.
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
    ) -> None:
        """Initialize a new SpectralEntropyMonitor instance.

        Args:
            bins: Histogram bins per band (at least 2).
            value_range: ``(low, high)`` range of the histograms, in the units of
                the batch the model receives: ``(0, 1)`` suits SatMAE-normalised
                batches; use e.g. ``(-3, 3)`` for standardised ones.
            every_n_steps: Measure one training batch out of every this many
                (by batch index in the epoch). Each measurement synchronises the
                device once; raise it for long GPU runs.
            per_stratum: Log per-stratum means when batches carry ``stratum_key``.
            key: Batch key of the images (B, C, H, W).
            stratum_key: Batch key of the per-sample strata (list of str).
            strata: Strata to track; ``None`` uses the keys of the datamodule's
                ``summary["counts"]`` if it has one, else the continents. Other
                names go to an ``other`` bucket.
            bands: Band (channel) indices to measure; ``None`` for all.
            prefix: Prefix of the logged names.
            histogram: Send a histogram of per-sample values to TensorBoard.

        Raises:
            ValueError: If ``bins``, ``value_range`` or ``every_n_steps`` is invalid.
        """
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1; got {every_n_steps}")
        if bands is not None and (not bands or min(bands) < 0):
            raise ValueError(f"bands must be non-negative channel indices; got {bands}")
        # Validate bins and range now rather than in the first training step.
        spectral_entropy(torch.zeros(1, 1, 1, 1), bins, value_range)
        self.bins = bins
        self.value_range = value_range
        self.every_n_steps = every_n_steps
        self.per_stratum = per_stratum
        self.key = key
        self.stratum_key = stratum_key
        self.strata = list(strata) if strata is not None else None
        self.bands = bands
        self.prefix = prefix
        self.histogram = histogram
        self._names: list[str] = []
        self._epoch: Tensor | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Fix the list of tracked strata (identical on every rank).

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: The stage.
        """
        names = self.strata
        if names is None:
            datamodule = getattr(trainer, "datamodule", None)
            summary = getattr(datamodule, "summary", None)
            counts = summary.get("counts") if isinstance(summary, dict) else None
            names = sorted(counts) if counts else list(CONTINENTS)
        self._names = [*dict.fromkeys(n for n in names if n != OTHER), OTHER]

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Reset the epoch accumulators.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        self._epoch = None

    def _images(self, batch: Any) -> Tensor:
        if not isinstance(batch, dict) or self.key not in batch:
            keys = list(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(
                f"SpectralEntropyMonitor(key={self.key!r}): the training batch has "
                f"no such key; batch keys are {keys}"
            )
        images = batch[self.key]
        if self.bands is not None:
            images = images[:, self.bands]
        return images

    def _statistics(self, values: Tensor, strata: Sequence[str] | None) -> Tensor:
        """``[n, sum, sum_sq, empty, n_k..., sum_k...]`` of this rank's batch."""
        valid = ~torch.isnan(values)
        v = torch.where(valid, values, 0.0).double()
        w = valid.double()
        head = torch.stack([w.sum(), v.sum(), (v * v).sum(), (~valid).double().sum()])
        k = len(self._names)
        if strata is None:
            return torch.cat([head, v.new_zeros(2 * k)])
        index = {name: i for i, name in enumerate(self._names)}
        ids = torch.tensor(
            [index.get(str(s), k - 1) for s in strata], device=values.device
        )
        counts = torch.zeros(k, dtype=torch.float64, device=values.device)
        sums = torch.zeros_like(counts)
        counts.index_add_(0, ids, w)
        sums.index_add_(0, ids, v)
        return torch.cat([head, counts, sums])

    def _log(self, pl_module: LightningModule, stats: list[float], epoch: bool) -> None:
        tag = "epoch_" if epoch else ""
        mean, std = _moments(stats[:3])
        metrics = {f"{tag}mean": mean, f"{tag}std": std}
        if epoch:
            metrics[f"{tag}empty"] = stats[3]
        k = len(self._names)
        counts, sums = stats[4 : 4 + k], stats[4 + k :]
        for name, n, s in zip(self._names, counts, sums, strict=True):
            if n > 0:
                metrics[f"{tag}{name}"] = s / n
        # Values are already reduced over ranks: the epoch-level sync averages
        # identical numbers and only silences Lightning's DDP warning.
        opts: dict[str, Any] = (
            {"on_step": False, "on_epoch": True, "sync_dist": True}
            if epoch
            else {"on_step": True, "on_epoch": False}
        )
        for name, value in metrics.items():
            if not math.isnan(value):
                pl_module.log(f"{self.prefix}/{name}", value, batch_size=1, **opts)

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Measure the batch, reduce over ranks and log.

        Args:
            trainer: The trainer.
            pl_module: The module.
            batch: The batch, after ``on_after_batch_transfer``.
            batch_idx: Index of the batch in the epoch.
        """
        if batch_idx % self.every_n_steps:
            return
        images = self._images(batch)
        with torch.no_grad():
            values = spectral_entropy(images.detach(), self.bins, self.value_range)
        strata = None
        if self.per_stratum and isinstance(batch, dict) and self.stratum_key in batch:
            strata = list(batch[self.stratum_key])
        local = self._statistics(values, strata)
        reduced = trainer.strategy.reduce(local.clone(), reduce_op="sum")
        self._epoch = reduced if self._epoch is None else self._epoch + reduced
        self._log(pl_module, reduced.tolist(), epoch=False)
        self._histogram(trainer, values)

    def _histogram(self, trainer: Trainer, values: Tensor) -> None:
        loggers = [lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)]
        if not self.histogram or not loggers:
            return
        if trainer.world_size > 1:
            # Pad to the largest batch so that every rank gathers the same shape.
            size = torch.tensor([values.numel()], device=values.device)
            longest = int(trainer.strategy.all_gather(size).max())
            padded = values.new_full((longest,), math.nan)
            padded[: values.numel()] = values
            values = trainer.strategy.all_gather(padded).reshape(-1)
        if trainer.global_rank != 0:
            return
        values = values[~torch.isnan(values)].float().cpu()
        if values.numel():
            for lg in loggers:
                lg.experiment.add_histogram(
                    f"{self.prefix}/per_sample", values, trainer.global_step
                )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the epoch aggregates (already reduced over ranks).

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        if self._epoch is not None:
            self._log(pl_module, self._epoch.tolist(), epoch=True)

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
        }
