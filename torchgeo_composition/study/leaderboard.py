"""Export a study's protocol runs in the GEO-Bench-2 leaderboard layout.

GEO-Bench-2's leaderboard takes one ``results_and_parameters.csv`` per
submission: one row per run (backbone, dataset, seed) with the test metric and
the hyperparameters. :func:`leaderboard_table` writes the study's protocol runs
in its columns (:data:`LEADERBOARD_COLUMNS`), so that the study's encoders can
be compared with the leaderboard's:

- ``backbone``: ``<study>_<composition>_s<pretraining seed>`` (the encoder);
- ``dataset``: the downstream task's name; ``Metric``: the leaderboard's name
  of the metric (``Overall_Accuracy`` ...);
- ``experiment_name``: ``<study>_<composition>_s<seed>_<protocol>``;
- ``partition name`` / ``data_percentages``: from the datamodule's
  ``partition`` (``default`` is the full training set, ``1.00x train``);
- ``decoder``: the protocol's head (``linear``, ``knn``);
- ``batch_size_selection``: ``fixed``; ``n_trials``: 0 (no search);
- ``Seed``: the run's ``seed_everything``; ``batch_size``, ``weight_decay``,
  ``lr``, ``early_stop_patience``: from the run's config (empty when unset);
- ``test metric``: the score on the whole test set;
- ``frozen_or_full_ft``: ``frozen`` (linear, k-NN) or ``full_ft`` (finetune).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["LEADERBOARD_COLUMNS", "LEADERBOARD_FILE", "leaderboard_table"]

#: The export's file name (the leaderboard's).
LEADERBOARD_FILE = "results_and_parameters.csv"

#: The columns, in the leaderboard's order.
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "dataset",
    "Metric",
    "experiment_name",
    "partition name",
    "backbone",
    "decoder",
    "batch_size_selection",
    "early_stop_patience",
    "n_trials",
    "Seed",
    "data_percentages",
    "batch_size",
    "weight_decay",
    "lr",
    "test metric",
    "frozen_or_full_ft",
)

_METRICS = {
    "OverallAccuracy": "Overall_Accuracy",
    "MultilabelF1Score": "Multilabel_F1_Score",
    "F1Score": "Multilabel_F1_Score",
    "JaccardIndex": "Multiclass_Jaccard_Index",
}
_DECODERS = {"linear": "linear", "knn": "knn", "finetune": "linear"}


def _partition(name: Any) -> tuple[str, str]:
    """The leaderboard's partition name and data percentage of a partition."""
    text = str(name or "default")
    if text == "default":
        return "1.00x train", "100%"
    fraction = text.removesuffix("_train").removesuffix("x")
    try:
        share = float(fraction)
    except ValueError:
        return text, ""
    return f"{fraction}x train", f"{share * 100:g}%"


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def leaderboard_table(runs: Sequence[Mapping[str, Any]], study: str) -> pd.DataFrame:
    """Return the protocol runs as GEO-Bench-2 leaderboard rows.

    Args:
        runs: One record per protocol run: ``composition``, ``downstream``,
            ``protocol``, ``seed`` (pretraining), ``run_seed``
            (``seed_everything``), ``score``, ``metric`` and
            ``hyperparameters`` (see
            :func:`~torchgeo_composition.study.protocols.read_protocol_run`).
        study: The study's name.

    Returns:
        One row per run, the columns :data:`LEADERBOARD_COLUMNS`, sorted by
        dataset, backbone, decoder and seed.
    """
    rows = []
    for run in runs:
        hp = run.get("hyperparameters") or {}
        partition, share = _partition(hp.get("partition"))
        protocol = str(run["protocol"])
        backbone = f"{study}_{run['composition']}_s{run['seed']}"
        rows.append(
            {
                "dataset": run["downstream"],
                "Metric": _METRICS.get(str(run.get("metric")), run.get("metric")),
                "experiment_name": f"{backbone}_{protocol}",
                "partition name": partition,
                "backbone": backbone,
                "decoder": _DECODERS.get(protocol, protocol),
                "batch_size_selection": "fixed",
                "early_stop_patience": _value(hp.get("early_stop_patience")),
                "n_trials": 0,
                "Seed": run.get("run_seed"),
                "data_percentages": share,
                "batch_size": _value(hp.get("batch_size")),
                "weight_decay": _value(hp.get("weight_decay")),
                "lr": _value(hp.get("lr")),
                "test metric": _value(run.get("score")),
                "frozen_or_full_ft": "full_ft" if protocol == "finetune" else "frozen",
            }
        )
    table = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    order = ["dataset", "backbone", "decoder", "Seed"]
    return table.sort_values(order, kind="stable", ignore_index=True)
