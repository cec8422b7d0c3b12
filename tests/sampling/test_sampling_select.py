from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from torchgeo_composition.sampling import (
    MANIFEST_COLUMNS,
    SHORTFALL_POLICIES,
    Composition,
    largest_remainder,
    select,
)

MakeIndex = Callable[..., pd.DataFrame]


def test_global_quotas_are_exact(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "global", 100, seed=0)
    manifest, summary = sel.manifest, sel.summary
    assert list(manifest.columns) == list(MANIFEST_COLUMNS)
    assert len(manifest) == 100
    expected = largest_remainder(Composition("global").weights(), 100)
    assert summary["quotas"] == expected
    assert manifest["stratum"].value_counts().to_dict() == expected
    assert sum(summary["counts"].values()) == 100
    assert manifest["sample_id"].is_unique
    assert summary["shortfall"]["occurred"] is False
    assert summary["continent_entropy_nats"] == pytest.approx(np.log(6), abs=1e-3)
    # Rows: stratum in sorted order, unassigned never selected.
    strata = manifest["stratum"].tolist()
    assert strata == sorted(strata)
    joined = manifest.merge(continent_index, on="sample_id", suffixes=("", "_pool"))
    assert (joined["stratum"] == joined["stratum_pool"]).all()
    assert (joined["path"] == joined["path_pool"]).all()


def test_single_continent_and_mapping(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "EU", 50, seed=1)
    assert set(sel.manifest["stratum"]) == {"europe"}
    assert sel.summary["stratum_entropy_nats"] == 0.0
    sel = select(continent_index, {"europe": 3, "asia": 1}, 40, seed=1)
    assert sel.summary["counts"] == {"asia": 10, "europe": 30}


def test_proportional_follows_pool_shares(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "proportional", 140, seed=0)
    # Pool: 280 assigned samples; half of each stratum.
    assert sel.summary["counts"] == {
        "africa": 20,
        "asia": 30,
        "europe": 40,
        "north_america": 25,
        "oceania": 10,
        "south_america": 15,
    }


def test_uniform_ignores_strata(make_index: MakeIndex) -> None:
    index = make_index({"europe": 10, "asia": 10}, unassigned=80)
    sel = select(index, "uniform", 100, seed=0)
    # All samples, unassigned included; the stratum column is kept for reporting.
    assert set(sel.manifest["sample_id"]) == set(index["sample_id"])
    assert sel.manifest["stratum"].isna().sum() == 80
    assert sel.summary["counts"] == {"asia": 10, "europe": 10, "unassigned": 80}
    without = index.drop(columns="stratum")
    assert len(select(without, "uniform", 5, seed=0).manifest) == 5


def test_determinism_and_row_order(continent_index: pd.DataFrame) -> None:
    a = select(continent_index, "global", 60, seed=3)
    b = select(continent_index, "global", 60, seed=3)
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    assert a.summary == b.summary
    shuffled = continent_index.sample(frac=1.0, random_state=7)
    c = select(shuffled, "global", 60, seed=3)
    pd.testing.assert_frame_equal(a.manifest, c.manifest)
    d = select(continent_index, "global", 60, seed=4)
    assert not a.manifest["sample_id"].equals(d.manifest["sample_id"])


def test_smaller_budget_is_a_subset(continent_index: pd.DataFrame) -> None:
    small = select(continent_index, "europe", 20, seed=0).manifest
    large = select(continent_index, "europe", 60, seed=0).manifest
    assert set(small["sample_id"]) <= set(large["sample_id"])


def test_shortfall_error_names_stratum(continent_index: pd.DataFrame) -> None:
    # global 180 -> 30 each; oceania holds 20.
    with pytest.raises(ValueError) as info:
        select(continent_index, "global", 180, seed=0)
    message = str(info.value)
    for part in ("'oceania'", "holds 20", "quota is 30", "redistribute", "replace"):
        assert part in message


def test_shortfall_redistribute(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "global", 180, seed=0, on_shortfall="redistribute")
    counts = sel.summary["counts"]
    assert sum(counts.values()) == 180
    assert counts["oceania"] == 20
    # The 10 missing go to the others in proportion to their (equal) weights:
    # 32 each, which south_america (30) cannot hold, so a second round follows.
    assert counts == {
        "africa": 33,
        "asia": 33,
        "europe": 32,
        "north_america": 32,
        "oceania": 20,
        "south_america": 30,
    }
    report = sel.summary["shortfall"]
    assert report["occurred"] is True
    assert report["strata"]["oceania"] == {"available": 20, "quota": 30, "missing": 10}
    assert sum(report["received"].values()) == 10
    assert sel.manifest["sample_id"].is_unique
    with pytest.raises(ValueError, match="hold only 280 samples"):
        select(continent_index, "global", 281, seed=0, on_shortfall="redistribute")


def test_shortfall_replace(continent_index: pd.DataFrame) -> None:
    sel = select(continent_index, "global", 180, seed=0, on_shortfall="replace")
    counts = sel.summary["counts"]
    assert counts == dict.fromkeys(counts, 30)
    oceania = sel.manifest[sel.manifest["stratum"] == "oceania"]["sample_id"]
    # Balanced repeats: every oceania sample once, 10 of them twice.
    assert oceania.nunique() == 20
    assert oceania.value_counts().max() == 2
    assert sel.summary["shortfall"]["duplicates"] == {"oceania": 10}
    assert sel.summary["unique_samples"] == 170
    with pytest.raises(ValueError, match=r"'antarctica'.*holds no samples"):
        select(
            continent_index,
            {"antarctica": 1, "europe": 1},
            10,
            seed=0,
            on_shortfall="replace",
        )


def test_missing_stratum_is_a_shortfall(continent_index: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="'antarctica' holds 0 samples"):
        select(continent_index, {"antarctica": 1, "europe": 1}, 10, seed=0)
    sel = select(
        continent_index,
        {"antarctica": 1, "europe": 1},
        10,
        seed=0,
        on_shortfall="redistribute",
    )
    assert sel.summary["counts"] == {"europe": 10}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_samples": 0}, r"num_samples must be > 0, got 0"),
        ({"num_samples": -5}, r"num_samples must be > 0"),
        ({"num_samples": 2.5}, r"num_samples must be an integer"),
        ({"num_samples": 281}, r"num_samples=281 exceeds the 280 samples"),
        ({"seed": -1}, r"seed must be an integer >= 0"),
        ({"on_shortfall": "ignore"}, r"on_shortfall must be one of.*redistribute"),
        ({"composition": "mars"}, r"unknown composition 'mars'"),
    ],
)
def test_bad_arguments(
    continent_index: pd.DataFrame, kwargs: dict[str, object], match: str
) -> None:
    args: dict[str, object] = {"composition": "global", "num_samples": 10, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        select(continent_index, **args)  # type: ignore[arg-type]


def test_uniform_larger_than_pool(make_index: MakeIndex) -> None:
    index = make_index({"europe": 10})
    with pytest.raises(ValueError, match="exceeds the pool size 10"):
        select(index, "uniform", 11, seed=0)
    sel = select(index, "uniform", 25, seed=0, on_shortfall="replace")
    assert sel.manifest["sample_id"].value_counts().between(2, 3).all()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda df: df.drop(columns="path"), r"lacks column\(s\) \['path'\]"),
        (lambda df: df.drop(columns="stratum"), r"lacks column\(s\) \['stratum'\]"),
        (lambda df: df.iloc[:0], r"empty"),
        (lambda df: df.assign(lon=np.nan), r"'lon'.*NaN or outside"),
        (lambda df: df.assign(lat=95.0), r"'lat'.*outside \[-90, 90\]"),
        (
            lambda df: df.assign(sample_id=["dup"] * len(df)),
            r"duplicate sample_id.*'dup'",
        ),
        (lambda df: df.assign(path=None), r"'path' has missing values"),
        (lambda df: df["lon"], r"must be a pandas DataFrame"),
    ],
)
def test_bad_index(
    continent_index: pd.DataFrame, mutate: Callable[[pd.DataFrame], object], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        select(mutate(continent_index), "global", 10, seed=0)  # type: ignore[arg-type]


def test_absent_stratum_advice_names_it_without_going_in_a_circle(
    make_index: MakeIndex,
) -> None:
    index = make_index({"asia": 20, "africa": 20})
    mix = {"europe": 1, "asia": 1}
    for policy in ("error", "replace"):
        with pytest.raises(ValueError) as err:
            select(index, mix, 10, seed=0, on_shortfall=policy)  # type: ignore[arg-type]
        message = str(err.value)
        assert "'europe'" in message and "absent from the pool" in message
        assert "Remove 'europe' from the composition" in message
        assert "on_shortfall='redistribute'" in message  # the advice that works
        assert "'asia': 20" in message  # what the pool does hold
    followed = select(index, mix, 10, seed=0, on_shortfall="redistribute")
    assert followed.summary["counts"] == {"asia": 10}
    for policy in SHORTFALL_POLICIES:  # nothing to redistribute to: no policy helps
        with pytest.raises(ValueError) as err:
            select(index, "europe", 10, seed=0, on_shortfall=policy)  # type: ignore[arg-type]
        message = str(err.value)
        assert re.search(r"no stratum of the composition.*sample in this pool", message)
        assert "set on_shortfall" not in message and "use on_shortfall" not in message
