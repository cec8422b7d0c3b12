"""Per-sample test predictions and their summary (metric, CI, per-region counts).

Two files, written together (:func:`write_test_outputs`):

* ``test_predictions.csv``: one row per test sample with the columns
  ``sample_index`` (position in the test dataloader's order), ``region`` (empty
  without regions), ``target``, ``prediction`` (class index; for multilabel a
  ``;``-separated list of the positive label indices; both empty for
  segmentation) and ``score`` (1/0 for a correct/wrong class; for multilabel
  the fraction of labels right; for segmentation the fraction of non-ignored
  pixels right). The mean of ``score`` is the summary's metric, so a CI can be
  bootstrapped from it.
* ``test_summary.json``: the metric on the whole test set with its bootstrap CI
  and, with regions, per region (count, ``enough`` flag, value and CI; regions
  below ``min_samples`` have ``value: null``).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from ..files import atomic_paths
from .bootstrap import bootstrap_ci
from .regions import group_regions

__all__ = [
    "PREDICTIONS_FILE",
    "SUMMARY_FILE",
    "per_sample_scores",
    "summarize_scores",
    "write_test_outputs",
]

PREDICTIONS_FILE = "test_predictions.csv"
SUMMARY_FILE = "test_summary.json"


def per_sample_scores(
    targets: ArrayLike, predictions: ArrayLike, ignore_index: int | None = None
) -> NDArray[np.float64]:
    """Return the fraction of correct labels (or pixels) of each sample.

    Args:
        targets: ``(N,)`` classes, ``(N, L)`` 0/1 labels or ``(N, H, W)`` masks.
        predictions: Same shape as ``targets``.
        ignore_index: Target value left out (masks); a sample with no other
            value scores NaN.

    Returns:
        ``(N,)`` scores in [0, 1] (1/0 for single-label classes).

    Raises:
        ValueError: If the shapes differ.
    """
    t, p = np.asarray(targets), np.asarray(predictions)
    if t.shape != p.shape:
        raise ValueError(f"targets {t.shape} and predictions {p.shape} differ in shape")
    if t.ndim == 1:
        return (t == p).astype(np.float64)
    t, p = t.reshape(len(t), -1), p.reshape(len(p), -1)
    valid = np.ones_like(t, dtype=bool) if ignore_index is None else t != ignore_index
    count = valid.sum(axis=1)
    correct = ((t == p) & valid).sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, correct / np.maximum(count, 1), np.nan)


def summarize_scores(
    scores: ArrayLike,
    regions: Sequence[str] | NDArray[np.str_] | None = None,
    metric: str = "OverallAccuracy",
    min_samples: int = 1,
    all_regions: Sequence[str] = (),
    confidence_level: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Summarise per-sample scores: mean with bootstrap CI, overall and by region.

    NaN scores (a mask with only ignored pixels) are left out.

    Args:
        scores: Per-sample scores (:func:`per_sample_scores`).
        regions: Region of each sample, or ``None``.
        metric: Name of the metric the mean of ``scores`` is.
        min_samples: Regions with fewer samples are reported, not scored.
        all_regions: Regions reported even with no sample.
        confidence_level: Coverage of the intervals.
        n_resamples: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        A JSON-ready mapping (see the module docstring).
    """
    values = np.asarray(scores, dtype=np.float64)
    if regions is not None:
        regions = np.asarray(regions, dtype=np.str_)[np.isfinite(values)]
    values = values[np.isfinite(values)]
    overall = bootstrap_ci(
        values, confidence_level=confidence_level, n_resamples=n_resamples, seed=seed
    )
    summary: dict[str, Any] = {
        "metric": metric,
        "confidence_level": confidence_level,
        "n_resamples": n_resamples,
        "num_samples": int(values.size),
        "overall": overall.to_dict(),
    }
    if regions is None:
        return summary
    summary["min_samples"] = min_samples
    summary["regions"] = {}
    for group in group_regions(regions, min_samples, all_regions):
        entry: dict[str, Any] = {"count": group.num_samples, "enough": group.enough}
        if group.enough:
            est = bootstrap_ci(
                values[group.indices],
                confidence_level=confidence_level,
                n_resamples=n_resamples,
                seed=seed,
            )
            entry |= {"value": est.value, "low": est.to_dict()["low"]}
            entry["high"] = est.to_dict()["high"]
        else:
            entry |= {"value": None, "low": None, "high": None}
        summary["regions"][group.region] = entry
    return summary


def _labels_text(array: NDArray[Any] | None, n: int) -> list[str]:
    if array is None or array.ndim > 2:  # masks: no per-sample label
        return [""] * n
    if array.ndim == 1:
        return [str(int(v)) for v in array]
    return [";".join(str(i) for i in np.flatnonzero(row)) for row in array]


def write_test_outputs(
    directory: str | os.PathLike[str],
    targets: ArrayLike | None,
    predictions: ArrayLike | None,
    summary: dict[str, Any],
    regions: Sequence[str] | NDArray[np.str_] | None = None,
    scores: ArrayLike | None = None,
) -> tuple[Path, Path]:
    """Write ``test_predictions.csv`` and ``test_summary.json`` as one unit.

    Args:
        directory: Output folder (created if missing).
        targets: ``(N,)`` classes or ``(N, L)`` 0/1 labels; ``None`` or masks
            leave the ``target`` column empty.
        predictions: Same shape.
        summary: :func:`summarize_scores`'s mapping.
        regions: Region of each sample, or ``None``.
        scores: Per-sample scores (default: :func:`per_sample_scores` of
            ``targets`` and ``predictions``).

    Returns:
        The two paths.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    t = None if targets is None else np.asarray(targets)
    p = None if predictions is None else np.asarray(predictions)
    if scores is None:
        if t is None or p is None:
            raise ValueError("give scores, or targets and predictions")
        scores = per_sample_scores(t, p)
    values = np.asarray(scores, dtype=np.float64)
    n = len(values)
    frame = pd.DataFrame(
        {
            "sample_index": np.arange(n),
            "region": [""] * n if regions is None else list(regions),
            "target": _labels_text(t, n),
            "prediction": _labels_text(p, n),
            "score": values,
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    paths = (folder / PREDICTIONS_FILE, folder / SUMMARY_FILE)
    with atomic_paths(*paths) as (csv_tmp, json_tmp):
        csv_tmp.write_text(buffer.getvalue(), encoding="utf-8")
        json_tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return paths
