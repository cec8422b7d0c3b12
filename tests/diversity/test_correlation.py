import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from torchgeo_composition.diversity import correlate, correlation_table

# mean linear-probe score and spectral entropy of the published sets
ENTROPY = [1.62, 1.80, 2.12, 2.14, 2.30, 2.43, 2.46]
SCORE = [0.2375, 0.3475, 0.3025, 0.2875, 0.3225, 0.33, 0.36]


@pytest.mark.parametrize(
    ("method", "func"),
    [
        ("spearman", stats.spearmanr),
        ("pearson", stats.pearsonr),
        ("kendall", stats.kendalltau),
    ],
)
def test_matches_scipy_exactly(method: str, func: object) -> None:
    res = correlate(ENTROPY, SCORE, method=method)  # type: ignore[arg-type]
    ref = func(ENTROPY, SCORE)  # type: ignore[operator]
    assert res.rho == ref.statistic
    assert res.p_value == ref.pvalue
    assert res.n == 7 and res.method == method
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.rho = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        ([1.0, 2.0], [1.0, 2.0], "at least 3"),
        ([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], "x is constant.*undefined"),
        ([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], "y is constant"),
        ([1.0, np.nan, 3.0], [1.0, 2.0, 3.0], "NaN"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "same length"),
        ([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]], "one-dimensional"),
        (["a", "b", "c"], [1.0, 2.0, 3.0], "numbers"),
    ],
)
def test_bad_input(x: list[float], y: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        correlate(x, y)


def test_bad_method() -> None:
    with pytest.raises(ValueError, match="spearman"):
        correlate([1, 2, 3], [1, 2, 3], method="cosine")  # type: ignore[arg-type]


def test_table_keeps_undefined_rows_with_a_note_and_skips_missing_pairs() -> None:
    frame = pd.DataFrame(
        {
            "set": list("abcdefg"),
            "spectral_entropy": ENTROPY,
            "constant": [1.0] * 7,
            "score": [*SCORE[:6], np.nan],
        }
    )
    table = correlation_table(frame, None, "score", on_error="note")
    assert table.columns.tolist() == [
        "measure",
        "method",
        "rho",
        "p_value",
        "n",
        "note",
    ]
    entropy, constant = table.to_dict("records")
    ref = stats.spearmanr(ENTROPY[:6], SCORE[:6])
    assert entropy["rho"] == ref.statistic and entropy["n"] == 6
    assert entropy["note"] == ""
    assert np.isnan(constant["rho"]) and "constant" in constant["note"]
    with pytest.raises(ValueError, match=r"'constant' vs 'score'.*undefined"):
        correlation_table(frame, ["constant"], "score")
    with pytest.raises(ValueError, match="available columns"):
        correlation_table(frame, ["biome"], "score")
    with pytest.raises(ValueError, match="not numeric"):
        correlation_table(frame, ["set"], "score")
