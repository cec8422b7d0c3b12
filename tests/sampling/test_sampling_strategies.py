"""Selection strategies inside each stratum's quota, through select()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from tests.sampling.conftest import build_index
from torchgeo_composition.sampling import select


def _index(seed: int = 0) -> pd.DataFrame:
    index = build_index({"europe": 400, "africa": 400}, seed=seed)
    rng = np.random.default_rng(seed + 1)
    europe = (index["stratum"] == "europe").to_numpy()
    # Europe's entropies are high, Africa's spread wide; one sample is empty.
    values = np.where(
        europe, rng.normal(2.5, 0.2, len(index)), rng.uniform(0, 3, len(index))
    )
    values[0] = np.nan
    return index.assign(spectral_entropy=values)


def test_random_ignores_the_entropy_column_and_draws_as_before() -> None:
    index = _index()
    plain = select(index.drop(columns="spectral_entropy"), "proportional", 100, seed=3)
    with_column = select(index, "proportional", 100, seed=3)
    pd.testing.assert_frame_equal(plain.manifest, with_column.manifest)
    assert "spectral_entropy" not in with_column.manifest.columns
    assert "selection" not in with_column.summary


def test_entropy_top_takes_the_highest_entropies_of_each_stratum() -> None:
    index = _index()
    top = select(index, {"africa": 1.0}, 50, seed=0, selection="entropy_top")
    africa = index[index["stratum"] == "africa"]["spectral_entropy"]
    expected = np.sort(africa.dropna().to_numpy())[::-1][:50]
    np.testing.assert_allclose(
        np.sort(top.manifest["spectral_entropy"])[::-1], expected
    )
    rand = select(index, {"africa": 1.0}, 50, seed=0, selection="entropy_top")
    pd.testing.assert_frame_equal(top.manifest, rand.manifest)  # deterministic
    info = top.summary["selection"]
    assert info["strategy"] == "entropy_top"
    assert info["achieved"]["mean"] == pytest.approx(float(expected.mean()))
    assert info["shortfall"] == {}


def test_entropy_range_in_nats_and_quantiles() -> None:
    index = _index()
    chosen = select(
        index,
        {"africa": 1.0},
        60,
        seed=1,
        selection="entropy_range",
        entropy_range=[1.0, 2.0],
    )
    values = chosen.manifest["spectral_entropy"]
    assert values.between(1.0, 2.0).all()
    quantile = select(
        index,
        {"africa": 1.0},
        40,
        selection="entropy_range",
        entropy_range=["q0.5", "q1"],
    )
    median = np.nanquantile(index["spectral_entropy"], 0.5)
    assert (quantile.manifest["spectral_entropy"] >= median).all()


def test_entropy_range_shortfall_is_filled_by_the_nearest_and_reported() -> None:
    index = _index()
    chosen = select(
        index,
        {"europe": 1.0},
        100,
        selection="entropy_range",
        entropy_range=[0.0, 2.0],
    )
    europe = index[index["stratum"] == "europe"]["spectral_entropy"]
    inside = int(europe.between(0.0, 2.0).sum())
    assert chosen.summary["selection"]["shortfall"] == {"europe": 100 - inside}
    assert len(chosen.manifest) == 100


def test_entropy_uniform_flattens_the_distribution() -> None:
    index = _index()
    chosen = select(index, {"africa": 1.0}, 100, selection="entropy_uniform")
    values = index["spectral_entropy"].dropna()
    edges = np.linspace(values.min(), values.max(), 11)
    counts, _ = np.histogram(chosen.manifest["spectral_entropy"], bins=edges)
    assert counts.max() - counts.min() <= 2


def test_entropy_matched_reproduces_the_reference_distribution() -> None:
    index = _index()
    europe = select(index, {"europe": 1.0}, 150, seed=0)
    reference = (
        index.set_index("sample_id")
        .loc[europe.manifest["sample_id"], "spectral_entropy"]
        .to_numpy()
    )
    matched = select(
        index,
        {"africa": 1.0},
        60,
        seed=0,
        selection="entropy_matched",
        reference_entropy=reference,
    )
    assert sum(matched.summary["selection"]["shortfall"].values()) <= 6
    random_africa = select(index, {"africa": 1.0}, 60, seed=0)
    random_values = (
        index.set_index("sample_id")
        .loc[random_africa.manifest["sample_id"], "spectral_entropy"]
        .to_numpy()
    )
    test = ks_2samp(matched.manifest["spectral_entropy"], reference)
    assert test.pvalue > 0.05
    recorded = matched.summary["selection"]["reference"]
    assert recorded["ks_pvalue"] == pytest.approx(test.pvalue)
    assert recorded["size"] == 150
    assert ks_2samp(random_values, reference).pvalue < 0.01


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selection": "best"}, "selection must be one of"),
        (
            {"selection": "entropy_range", "entropy_range": [2.0, 1.0]},
            r"entropy_range=\[2.0, 1.0\] is empty",
        ),
        (
            {"selection": "entropy_range", "entropy_range": [10.0, 11.0]},
            "holds no pool sample; the pool's entropies lie in",
        ),
        (
            {"selection": "entropy_range", "entropy_range": ["q2", "q3"]},
            "is not a quantile",
        ),
        ({"selection": "entropy_matched"}, "needs selection_reference"),
        ({"entropy_range": [0, 1]}, "entropy_range is for selection='entropy_range'"),
    ],
)
def test_bad_strategy_arguments_are_refused(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        select(_index(), "proportional", 10, **kwargs)  # type: ignore[arg-type]


def test_a_strategy_without_entropies_names_the_command() -> None:
    index = _index().drop(columns="spectral_entropy")
    with pytest.raises(ValueError, match=r"diversity --pool \.\.\. --index"):
        select(index, "proportional", 10, selection="entropy_top")
