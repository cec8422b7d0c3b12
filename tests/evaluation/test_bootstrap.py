"""Bootstrap CIs over test samples and summaries over repeats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from torchgeo_composition.evaluation import bootstrap_ci, summarize_repeats


def test_ci_contains_the_mean_and_shrinks_with_n() -> None:
    rng = np.random.default_rng(0)
    small = bootstrap_ci(rng.random(50) < 0.7)
    large = bootstrap_ci(rng.random(2000) < 0.7)
    for est in (small, large):
        assert est.low <= est.value <= est.high
    assert (large.high - large.low) < (small.high - small.low) / 3
    assert large.low < 0.7 < large.high


def test_ci_is_reproducible_and_seeded() -> None:
    values = np.random.default_rng(1).random(100)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)


def test_paired_statistic() -> None:
    rng = np.random.default_rng(2)
    target = rng.integers(0, 3, 300)
    prediction = np.where(rng.random(300) < 0.8, target, (target + 1) % 3)
    est = bootstrap_ci(
        target, prediction, statistic=lambda t, p: float(np.mean(t == p))
    )
    assert est.low <= est.value <= est.high
    assert est.value == pytest.approx(np.mean(target == prediction))


def test_degenerate_samples() -> None:
    assert bootstrap_ci(np.ones(10))[:3] == (1.0, 1.0, 1.0)
    one = bootstrap_ci(np.array([0.5]))
    assert one.value == 0.5 and math.isnan(one.low)
    assert one.to_dict()["low"] is None


def test_summarize_repeats() -> None:
    summary = summarize_repeats([0.8, 0.82, 0.78])
    assert summary.mean == pytest.approx(0.8)
    assert summary.std == pytest.approx(0.02)
    assert summary.low < 0.8 < summary.high
    single = summarize_repeats([0.7])
    assert single.mean == 0.7 and math.isnan(single.std)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: bootstrap_ci(np.ones(3), confidence_level=1.5),
            "confidence_level=1.5",
        ),
        (
            lambda: bootstrap_ci(np.ones(3), np.ones(2), statistic=np.mean),
            "different lengths",
        ),
        (lambda: summarize_repeats([]), "at least one value"),
        (lambda: summarize_repeats([0.1, float("nan")]), "NaN"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
