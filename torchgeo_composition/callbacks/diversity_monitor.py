"""A Lightning callback logging diversity measures of the training batches."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor

from ..diversity.measure import OTHER, DiversityMeasure
from ..diversity.recipes import get_recipe
from ..diversity.report import composition_recipe
from ..diversity.spectral import SpectralEntropy
from ..geography import CONTINENTS

__all__ = ["DiversityMonitor", "check_recipe_normalization"]


def check_recipe_normalization(recipe: str | None, datamodule: Any) -> None:
    """Refuse an entropy recipe the datamodule's batches are not prepared for.

    Args:
        recipe: The recipe's name (``None``: nothing to check).
        datamodule: The trainer's datamodule; one without a ``normalization``
            hyperparameter is not checked.

    Raises:
        ValueError: If the recipe measures raw digital numbers while the
            datamodule normalises its batches, or the other way round.
    """
    get = getattr(getattr(datamodule, "hparams", None), "get", None)
    if recipe is None or not callable(get):
        return
    normalization = get("normalization")
    if normalization is None:
        return
    wanted = get_recipe(recipe).normalization
    if (wanted == "none") != (normalization == "none"):
        raise ValueError(
            f"entropy_recipe={recipe!r} measures "
            f"{'raw digital numbers' if wanted == 'none' else 'normalised values'}"
            f", but the datamodule's normalization is {normalization!r}; set the "
            f"datamodule's normalization to {wanted!r} or choose another recipe"
        )


class DiversityMonitor(Callback):
    """Log diversity measures of the training batches, per step and per epoch.

    Every ``every_n_steps`` training batches, each measure (a
    :class:`~torchgeo_composition.diversity.DiversityMeasure`, e.g.
    :class:`~torchgeo_composition.diversity.SpectralEntropy`) is computed on every
    sample of the batch in ``on_train_batch_start``, that is after the
    datamodule's ``on_after_batch_transfer`` (normalisation and augmentation, on
    the device) and before the model sees the batch (so before MAE masking). For a
    measure named ``name`` it logs, under ``{prefix}_{name}``:

    * ``mean`` and ``std`` of the batch (per step),
    * ``{stratum}``, the mean of each stratum present in the batch, when batches
      carry ``stratum_key`` (``continent`` for
      :class:`~torchgeo_composition.datamodules.ContinentStratifiedDataModule`),
    * ``epoch_mean``, ``epoch_std``, ``epoch_empty`` and ``epoch_{stratum}`` over
      all measured samples of the epoch,
    * ``per_sample``, a histogram of the per-sample values, to TensorBoard when a
      :class:`~lightning.pytorch.loggers.TensorBoardLogger` is used.

    The statistics are the measures' torchmetrics states (count, sum and sum of
    squares, reduced with ``sum`` across ranks under DDP), so the logged values
    are those of the union of the ranks' batches: equal to a single process seeing
    the same samples. Samples whose value is NaN (no valid pixel) are left out and
    counted in ``epoch_empty``.

    The settings of the run (each measure's parameters, the measured key, bands
    and interval, and the recipe of the datamodule's composed set when it has a
    manifest ``summary``) are sent to every logger's hyperparameters under
    ``diversity_monitor`` at setup, and kept in checkpoints (:meth:`state_dict`).
    """

    def __init__(
        self,
        measures: Sequence[DiversityMeasure] | None = None,
        key: str = "image",
        bands: list[int] | None = None,
        every_n_steps: int = 1,
        per_stratum: bool = True,
        stratum_key: str = "continent",
        strata: list[str] | None = None,
        prefix: str = "train",
        histogram: bool = True,
        entropy_recipe: str | None = None,
    ) -> None:
        """Initialize a new DiversityMonitor instance.

        Args:
            measures: The measures to log, each with a distinct ``name``; ``None``
                logs :class:`~torchgeo_composition.diversity.SpectralEntropy`
                with its defaults (or with ``entropy_recipe``).
            key: Batch key of the images (B, C, H, W).
            bands: Band (channel) indices to measure; ``None`` for all.
            every_n_steps: Measure one training batch out of every this many
                (by batch index in the epoch). Each measurement synchronises the
                device once; raise it for long GPU runs.
            per_stratum: Log per-stratum means when batches carry ``stratum_key``.
            stratum_key: Batch key of the per-sample strata (list of str).
            strata: Strata to track; ``None`` uses the keys of the datamodule's
                ``summary["counts"]`` if it has one, else the continents. Other
                names go to an ``other`` bucket.
            prefix: Logged names start with ``{prefix}_{measure name}``.
            histogram: Send a histogram of per-sample values to TensorBoard.
            entropy_recipe: Name of the spectral-entropy recipe (``default``,
                ``olmoearth``; see :mod:`~torchgeo_composition.diversity.recipes`)
                of the default measure, recorded in the settings; the batches
                must be prepared as it says (``olmoearth`` measures raw digital
                numbers: the datamodule's ``normalization`` must be ``none``).

        Raises:
            ValueError: If ``every_n_steps``, ``bands`` or ``entropy_recipe`` is
                invalid, ``entropy_recipe`` is given with ``measures``, or two
                measures share a name.
        """
        super().__init__()
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1; got {every_n_steps}")
        if bands is not None and (not bands or min(bands) < 0):
            raise ValueError(f"bands must be non-negative channel indices; got {bands}")
        if entropy_recipe is not None and measures is not None:
            raise ValueError(
                f"entropy_recipe={entropy_recipe!r} applies to the default measure "
                "only; with measures, give the recipe to the measure itself "
                "(SpectralEntropy(recipe=...))"
            )
        self.entropy_recipe = (
            None if entropy_recipe is None else get_recipe(entropy_recipe).name
        )
        self.measures = (
            list(measures)
            if measures is not None
            else [SpectralEntropy(recipe=self.entropy_recipe)]
        )
        names = [m.name for m in self.measures]
        if not names or len(set(names)) != len(names):
            raise ValueError(
                f"measures must be one or more measures with distinct names; got "
                f"{names}"
            )
        self.every_n_steps = every_n_steps
        self.per_stratum = per_stratum
        self.key = key
        self.stratum_key = stratum_key
        self.strata = list(strata) if strata is not None else None
        self.bands = bands
        self.prefix = prefix
        self.histogram = histogram
        self._step: list[DiversityMeasure] = []
        self._epoch: list[DiversityMeasure] = []
        self.recipe: dict[str, Any] | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """What is measured and how: logged at setup and kept in checkpoints."""
        out: dict[str, Any] = {
            "measures": {m.name: m.settings for m in self.measures},
            "every_n_steps": self.every_n_steps,
            "key": self.key,
            "bands": self.bands,
        }
        if self.entropy_recipe is not None:
            out["entropy_recipe"] = self.entropy_recipe
        if self.recipe:
            out["recipe"] = self.recipe
        return out

    def log_prefix(self, measure: DiversityMeasure) -> str:
        """Return the prefix of the names logged for ``measure``.

        Args:
            measure: One of :attr:`measures`.

        Returns:
            ``{prefix}_{measure.name}``.
        """
        return f"{self.prefix}_{measure.name}"

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Fix the tracked strata (identical on every rank) and build the states.

        Args:
            trainer: The trainer.
            pl_module: The module.
            stage: The stage.
        """
        datamodule = getattr(trainer, "datamodule", None)
        check_recipe_normalization(self.entropy_recipe, datamodule)
        summary = getattr(datamodule, "summary", None)
        if isinstance(summary, dict):
            self.recipe = composition_recipe(summary)
        names: list[str] = []
        if self.per_stratum:
            names = self.strata if self.strata is not None else []
            if self.strata is None:
                counts = summary.get("counts") if isinstance(summary, dict) else None
                names = sorted(counts) if counts else list(CONTINENTS)
            names = names or [OTHER]
        for lg in trainer.loggers:
            lg.log_hyperparams({"diversity_monitor": self.settings})
        tensorboard = any(isinstance(lg, TensorBoardLogger) for lg in trainer.loggers)
        self._step, self._epoch = [], []
        for measure in self.measures:
            step, epoch = copy.deepcopy(measure), copy.deepcopy(measure)
            step.track(names, values=self.histogram and tensorboard)
            epoch.track(names)
            self._step.append(step)
            self._epoch.append(epoch)

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Reset the epoch statistics and move the states to the module's device.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        for metric in (*self._step, *self._epoch):
            metric.reset()
            metric.to(pl_module.device)

    def _images(self, batch: Any) -> Tensor:
        if not isinstance(batch, dict) or self.key not in batch:
            keys = list(batch) if isinstance(batch, dict) else type(batch).__name__
            raise ValueError(
                f"{type(self).__name__}(key={self.key!r}): the training batch has "
                f"no such key; batch keys are {keys}"
            )
        images: Tensor = batch[self.key]
        if self.bands is not None:
            images = images[:, self.bands]
        return images.detach()

    def _log(
        self,
        pl_module: LightningModule,
        prefix: str,
        strata: Sequence[str],
        stats: dict[str, Tensor],
        epoch: bool,
    ) -> None:
        tag = "epoch_" if epoch else ""
        k = len(strata)
        parts = [stats[name].reshape(1) for name in ("mean", "std", "empty")]
        if k:
            parts += [stats["stratum_count"], stats["stratum_mean"]]
        values = torch.cat(parts).tolist()  # one device synchronisation
        metrics = {f"{tag}mean": values[0], f"{tag}std": values[1]}
        if epoch:
            metrics[f"{tag}empty"] = values[2]
        counts, means = values[3 : 3 + k], values[3 + k :]
        for name, n, mean in zip(strata, counts, means, strict=True):
            if n > 0:
                metrics[f"{tag}{name}"] = mean
        # Values are already reduced over ranks: the epoch-level sync averages
        # identical numbers and only silences Lightning's DDP warning.
        opts: dict[str, Any] = (
            {"on_step": False, "on_epoch": True, "sync_dist": True}
            if epoch
            else {"on_step": True, "on_epoch": False}
        )
        for name, value in metrics.items():
            if not math.isnan(value):
                pl_module.log(f"{prefix}/{name}", value, batch_size=1, **opts)

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
        strata = None
        if self.per_stratum and isinstance(batch, dict) and self.stratum_key in batch:
            strata = [str(s) for s in batch[self.stratum_key]]
        for step, epoch in zip(self._step, self._epoch, strict=True):
            step.reset()
            step.update(images, strata)
            epoch.merge_state(step)
            stats = step.compute()  # reduced over ranks
            prefix = self.log_prefix(step)
            self._log(pl_module, prefix, step.strata, stats, epoch=False)
            if "values" in stats and trainer.global_rank == 0:
                values = stats["values"]
                values = values[~torch.isnan(values)].float().cpu()
                if values.numel():
                    for lg in trainer.loggers:
                        if isinstance(lg, TensorBoardLogger):
                            lg.experiment.add_histogram(
                                f"{prefix}/per_sample", values, trainer.global_step
                            )

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Log the epoch statistics (reduced over ranks).

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        for epoch in self._epoch:
            if epoch.update_called:
                stats = epoch.compute()
                self._log(
                    pl_module, self.log_prefix(epoch), epoch.strata, stats, epoch=True
                )

    def state_dict(self) -> dict[str, Any]:
        """Return the settings, so that a checkpoint records them.

        Returns:
            The monitor's settings (see :attr:`settings`).
        """
        return self.settings
