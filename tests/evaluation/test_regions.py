"""Grouping test samples by region, the min-count flag and the summary files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from torchgeo_composition.evaluation import (
    UNASSIGNED,
    group_regions,
    region_labels,
    resolve_region_layer,
    summarize_scores,
    write_test_outputs,
)
from torchgeo_composition.geography import CONTINENTS

# Paris, Berlin, Nairobi, mid-Pacific (no land within 500 km)
LON = [2.35, 13.4, 36.8, -140.0]
LAT = [48.85, 52.5, -1.3, -30.0]


def test_continent_labels() -> None:
    labels = region_labels(LON, LAT, resolve_region_layer("continent"))
    assert labels.tolist() == ["europe", "europe", "africa", UNASSIGNED]


def test_samples_without_location_are_unassigned() -> None:
    layer = resolve_region_layer("continent")
    labels = region_labels([2.35, float("nan")], [48.85, float("nan")], layer)
    assert labels.tolist() == ["europe", UNASSIGNED]
    assert region_labels([np.nan], [np.nan], layer).tolist() == [UNASSIGNED]


def test_groups_flag_small_and_empty_regions() -> None:
    groups = group_regions(
        ["europe", "europe", "africa", UNASSIGNED], min_samples=2, regions=CONTINENTS
    )
    by_name = {g.region: g for g in groups}
    assert by_name["europe"].num_samples == 2 and by_name["europe"].enough
    assert by_name["africa"].num_samples == 1 and not by_name["africa"].enough
    assert by_name["asia"].num_samples == 0 and not by_name["asia"].enough
    assert by_name["europe"].indices.tolist() == [0, 1]
    assert groups[-1].region == UNASSIGNED


def test_summary_reports_small_regions_without_value(tmp_path) -> None:
    labels = np.array(["europe"] * 30 + ["africa"] * 2)
    scores = np.r_[np.ones(20), np.zeros(10), np.ones(2)]
    summary = summarize_scores(scores, labels, min_samples=5, all_regions=CONTINENTS)
    assert summary["overall"]["value"] == pytest.approx(22 / 32)
    europe = summary["regions"]["europe"]
    assert europe["count"] == 30 and europe["value"] == pytest.approx(2 / 3)
    assert europe["low"] <= europe["value"] <= europe["high"]
    assert summary["regions"]["africa"] == {
        "count": 2,
        "enough": False,
        "value": None,
        "low": None,
        "high": None,
    }
    assert summary["regions"]["oceania"]["count"] == 0
    targets = np.zeros(32, dtype=int)
    predictions = (1 - scores).astype(int)
    csv, js = write_test_outputs(tmp_path, targets, predictions, summary, labels)
    frame = pd.read_csv(csv)
    assert frame.columns.tolist() == [
        "sample_index",
        "region",
        "target",
        "prediction",
        "score",
    ]
    assert frame["score"].mean() == pytest.approx(22 / 32)
    assert json.loads(js.read_text())["regions"]["africa"]["enough"] is False


def test_unknown_regions_value() -> None:
    with pytest.raises(
        ValueError, match="regions='continental' is neither 'continent'"
    ):
        resolve_region_layer("continental")


def test_bad_min_samples() -> None:
    with pytest.raises(ValueError, match="min_samples=0"):
        group_regions(["europe"], min_samples=0)
