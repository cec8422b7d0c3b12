"""Per-region test metrics and per-sample test outputs for classification tasks.

A task mixing in :class:`RegionalTestMixin` records each test batch's predictions
(``record_test``). At the end of testing it

* writes ``test_predictions.csv`` and ``test_summary.json`` next to the logs
  (``trainer.log_dir``, else ``default_root_dir``; see
  :mod:`torchgeo_composition.evaluation.summary`): the overall accuracy with a
  bootstrap 95% CI over test samples, and per-region counts, values and CIs;
* with ``regions`` set (``"continent"`` or a polygon file with
  ``region_attribute``), logs ``test_<metric>/<region>`` for every region with at
  least ``min_region_samples`` test samples and ``test_num_samples/<region>`` for
  every region (each continent of the layer, empty ones included, plus
  ``unassigned`` for points in no region).

Per-region evaluation needs test batches with ``lon`` and ``lat``; a datamodule
without them fails on the first test batch with one clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import Tensor
from torchmetrics import MetricCollection

from ..evaluation import (
    per_sample_scores,
    region_labels,
    resolve_region_layer,
    summarize_scores,
    write_test_outputs,
)
from ..geography import RegionLayer

__all__ = ["RegionalTestMixin", "check_min_region_samples"]


def check_min_region_samples(value: int) -> int:
    """Validate ``min_region_samples`` (an integer >= 1).

    Args:
        value: The value given.

    Returns:
        ``value``.

    Raises:
        ValueError: If it is not an integer >= 1.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"min_region_samples={value!r} is invalid; give an integer >= 1"
        )
    return value


class RegionalTestMixin:
    """Adds per-region test metrics and test output files to a task.

    The task's hyperparameters hold ``regions``, ``region_attribute`` and
    ``min_region_samples``; it calls :meth:`configure_regions` in
    ``configure_models`` and :meth:`record_test` in each test step.
    """

    hparams: Any
    trainer: Any
    device: torch.device
    test_metrics: MetricCollection
    log: Any

    def configure_regions(self) -> None:
        """Validate the region options and open the region layer."""
        hp = self.hparams
        check_min_region_samples(hp["min_region_samples"])
        self.region_layer: RegionLayer | None = None
        if hp["regions"] is not None:
            self.region_layer = resolve_region_layer(
                hp["regions"], hp["region_attribute"]
            )

    def on_test_epoch_start(self) -> None:
        """Forget the predictions of an earlier test run."""
        self._test_records: list[dict[str, Tensor]] = []

    def record_test(self, batch: dict[str, Any], prediction: Tensor) -> None:
        """Keep a test batch's predictions, targets and locations.

        Args:
            batch: The test batch (``label``; ``lon``/``lat`` with regions).
            prediction: Predicted classes ``(N,)`` or 0/1 labels ``(N, L)``.

        Raises:
            ValueError: If regions are asked for and the batch has no location.
        """
        record = {"prediction": prediction.detach(), "target": batch["label"].detach()}
        if self.region_layer is not None:
            missing = [k for k in ("lon", "lat") if k not in batch]
            if missing:
                dm = getattr(self.trainer, "datamodule", None)
                raise ValueError(
                    f"regions={self.hparams['regions']!r} needs test samples with "
                    f"'lon' and 'lat', but {type(dm).__name__}'s test batches have "
                    f"keys {sorted(batch)}; use a datamodule whose samples carry "
                    "locations or set regions: null"
                )
            for key in ("lon", "lat"):
                record[key] = torch.as_tensor(batch[key]).reshape(-1).detach()
        self._test_records.append(record)

    def _gathered(self) -> dict[str, Tensor]:
        records = getattr(self, "_test_records", [])
        if not records:
            return {}
        out = {k: torch.cat([r[k] for r in records]) for k in records[0]}
        if self.trainer.world_size > 1:  # padded by the distributed sampler
            out = {k: self.all_gather(v).flatten(0, 1) for k, v in out.items()}  # type: ignore[attr-defined]
        return out

    def on_test_epoch_end(self) -> None:
        """Log per-region metrics and write the test output files."""
        data = self._gathered()
        if not data:
            return
        prediction, target = data["prediction"], data["target"]
        labels = None
        if self.region_layer is not None:
            labels = region_labels(
                data["lon"].double().cpu().numpy(),
                data["lat"].double().cpu().numpy(),
                self.region_layer,
            )
        summary = summarize_scores(
            per_sample_scores(target.cpu().numpy(), prediction.cpu().numpy()),
            labels,
            min_samples=self.hparams["min_region_samples"],
            all_regions=() if self.region_layer is None else self.region_layer.values,
        )
        summary["metrics"] = self._metrics(prediction, target, None)
        for region, entry in summary.get("regions", {}).items():
            self.log(f"test_num_samples/{region}", float(entry["count"]))
            if entry["enough"]:
                assert labels is not None
                idx = torch.from_numpy((labels == region).nonzero()[0])
                entry["metrics"] = self._metrics(prediction, target, idx)
                for name, value in entry["metrics"].items():
                    self.log(f"test_{name}/{region}", value)
        self._write(target, prediction, summary, labels)

    def _metrics(
        self, prediction: Tensor, target: Tensor, idx: Tensor | None
    ) -> dict[str, float]:
        metrics = self.test_metrics.clone()
        metrics.reset()
        if idx is not None:
            idx = idx.to(prediction.device)
            prediction, target = prediction[idx], target[idx]
        metrics.update(prediction, target)
        return {k.removeprefix("test_"): float(v) for k, v in metrics.compute().items()}

    @rank_zero_only
    def _write(
        self, target: Tensor, prediction: Tensor, summary: dict[str, Any], labels: Any
    ) -> None:
        folder = self.trainer.log_dir or self.trainer.default_root_dir
        write_test_outputs(
            Path(folder),
            target.cpu().numpy(),
            prediction.cpu().numpy(),
            summary,
            labels,
        )
