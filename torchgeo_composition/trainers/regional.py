"""Per-region test metrics and per-sample test outputs.

A task mixing in :class:`RegionalTestMixin` records each test batch's predictions
(``record_test``). At the end of testing it

* writes ``test_predictions.csv`` and ``test_summary.json`` next to the logs
  (``trainer.log_dir``, else ``default_root_dir``; see
  :mod:`torchgeo_composition.evaluation.summary`): the per-sample score's mean
  (``OverallAccuracy`` for classification, ``SampleAccuracy``, the mean
  per-image pixel accuracy, for segmentation) with a bootstrap 95% CI over test
  samples, every test metric, and per-region counts, values and CIs;
* with ``regions`` set (``"continent"`` or a polygon file with
  ``region_attribute``), logs ``test_<metric>/<region>`` for every region with at
  least ``min_region_samples`` test samples and ``test_num_samples/<region>`` for
  every region (each region of the layer, empty ones included, plus
  ``unassigned`` for points in no region).

Per-region evaluation needs test batches with ``lon`` and ``lat``; a datamodule
without them fails on the first test batch with one clear error. Per-region
metrics are updated batch by batch (no test mask is kept in memory).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only, rank_zero_warn
from torch import Tensor
from torchmetrics import MetricCollection

from ..evaluation import (
    UNASSIGNED,
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
        """Start the per-sample records and the per-region metrics afresh."""
        self._test_records: list[dict[str, Tensor]] = []
        names = ["*"]  # the whole test set
        if self.region_layer is not None:
            names += [*self.region_layer.values, UNASSIGNED]
        self._region_metrics = {n: self.test_metrics.clone() for n in names}
        for metrics in self._region_metrics.values():
            metrics.reset()

    def _locations(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor]:
        missing = [k for k in ("lon", "lat") if k not in batch]
        if missing:
            dm = getattr(self.trainer, "datamodule", None)
            raise ValueError(
                f"regions={self.hparams['regions']!r} needs test samples with "
                f"'lon' and 'lat', but {type(dm).__name__}'s test batches have "
                f"keys {sorted(batch)}; use a datamodule whose samples carry "
                "locations or set regions: null"
            )
        lon = torch.as_tensor(batch["lon"]).reshape(-1).detach()
        lat = torch.as_tensor(batch["lat"]).reshape(-1).detach()
        return lon, lat

    def record_test(
        self,
        batch: dict[str, Any],
        prediction: Tensor,
        target: Tensor | None = None,
        ignore_index: int | None = None,
    ) -> None:
        """Keep a test batch's per-sample scores and update per-region metrics.

        Args:
            batch: The test batch (``label``; ``lon``/``lat`` with regions).
            prediction: Predicted classes ``(N,)``, 0/1 labels ``(N, L)`` or
                masks ``(N, H, W)``.
            target: The targets (default ``batch["label"]``).
            ignore_index: Mask value left out of the per-sample scores.

        Raises:
            ValueError: If regions are asked for and the batch has no location.
        """
        target = batch["label"] if target is None else target
        prediction, target = prediction.detach(), target.detach()
        scores = per_sample_scores(
            target.cpu().numpy(), prediction.cpu().numpy(), ignore_index
        )
        record = {"score": torch.from_numpy(scores)}
        if target.ndim <= 2:  # class indices or multilabel rows: kept for the CSV
            record |= {"prediction": prediction.cpu(), "target": target.cpu()}
        self._region_metrics["*"].update(prediction, target)
        if self.region_layer is not None:
            lon, lat = self._locations(batch)
            record |= {"lon": lon.cpu(), "lat": lat.cpu()}
            labels = region_labels(
                lon.double().cpu().numpy(),
                lat.double().cpu().numpy(),
                self.region_layer,
            )
            for region in np.unique(labels):
                idx = torch.from_numpy(np.flatnonzero(labels == region))
                idx = idx.to(prediction.device)
                self._region_metrics[str(region)].update(prediction[idx], target[idx])
        self._test_records.append(record)

    def _gathered(self) -> dict[str, Tensor]:
        records = getattr(self, "_test_records", [])
        if not records:
            return {}
        out = {k: torch.cat([r[k] for r in records]) for k in records[0]}
        if self.trainer.world_size > 1:  # padded by the distributed sampler
            out = {k: self.all_gather(v).flatten(0, 1) for k, v in out.items()}  # type: ignore[attr-defined]
        return out

    def _compute(self, name: str) -> dict[str, float]:
        values = self._region_metrics[name].compute()
        return {k.removeprefix("test_"): float(v) for k, v in values.items()}

    def on_test_epoch_end(self) -> None:
        """Log per-region metrics and write the test output files."""
        data = self._gathered()
        if not data:
            return
        labels = None
        if self.region_layer is not None:
            if not torch.isfinite(data["lon"]).any():
                rank_zero_warn(
                    f"regions={self.hparams['regions']!r}: no test sample has a "
                    "location (lon/lat are NaN), so every sample is 'unassigned'"
                )
            labels = region_labels(
                data["lon"].double().numpy(),
                data["lat"].double().numpy(),
                self.region_layer,
            )
        scores = data["score"].numpy()
        summary = summarize_scores(
            scores,
            labels,
            metric="OverallAccuracy" if "target" in data else "SampleAccuracy",
            min_samples=self.hparams["min_region_samples"],
            all_regions=() if self.region_layer is None else self.region_layer.values,
        )
        summary["metrics"] = self._compute("*")
        for region, entry in summary.get("regions", {}).items():
            self.log(f"test_num_samples/{region}", float(entry["count"]))
            if entry["enough"]:
                entry["metrics"] = self._compute(region)
                for name, value in entry["metrics"].items():
                    self.log(f"test_{name}/{region}", value)
        self._write(data, summary, labels)

    @rank_zero_only
    def _write(
        self, data: dict[str, Tensor], summary: dict[str, Any], labels: Any
    ) -> None:
        folder = self.trainer.log_dir or self.trainer.default_root_dir
        target, prediction = data.get("target"), data.get("prediction")
        write_test_outputs(
            Path(folder),
            None if target is None else target.numpy(),
            None if prediction is None else prediction.numpy(),
            summary,
            labels,
            scores=data["score"].numpy(),
        )
