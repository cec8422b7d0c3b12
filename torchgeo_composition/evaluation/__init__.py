"""Evaluating encoders: k-NN on features, bootstrap CIs, per-region grouping.

A pure library (no Lightning): the trainers' probe protocols and the study call
it. :mod:`.knn` classifies by cosine k-NN in blocks, :mod:`.bootstrap` gives
confidence intervals over test samples and summaries over repeats,
:mod:`.regions` groups test samples by continent or any region layer, and
:mod:`.summary` writes the per-sample predictions and the test summary.
"""

from .bootstrap import Estimate, RepeatSummary, bootstrap_ci, summarize_repeats
from .knn import KNNResult, Vote, check_k, knn_neighbors, knn_predict
from .regions import (
    UNASSIGNED,
    RegionGroup,
    group_regions,
    region_labels,
    resolve_region_layer,
)
from .summary import (
    PREDICTIONS_FILE,
    SUMMARY_FILE,
    per_sample_scores,
    summarize_scores,
    write_test_outputs,
)

__all__ = [
    "PREDICTIONS_FILE",
    "SUMMARY_FILE",
    "UNASSIGNED",
    "Estimate",
    "KNNResult",
    "RegionGroup",
    "RepeatSummary",
    "Vote",
    "bootstrap_ci",
    "check_k",
    "group_regions",
    "knn_neighbors",
    "knn_predict",
    "per_sample_scores",
    "region_labels",
    "resolve_region_layer",
    "summarize_repeats",
    "summarize_scores",
    "write_test_outputs",
]
