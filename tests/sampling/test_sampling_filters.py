"""Strata from a metadata column (stratify_by) and filters on the pool index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from torchgeo_composition.geography import RegionLayer
from torchgeo_composition.sampling import (
    apply_filters,
    build_manifest,
    pool_fingerprint,
    read_manifest,
    stratified_index,
)


class _Pool:
    """A pool given by its index (sampling needs nothing else)."""

    def __init__(self, index: pd.DataFrame) -> None:
        self._index = index

    def index(self) -> pd.DataFrame:
        return self._index


@pytest.fixture
def pool() -> _Pool:
    rng = np.random.default_rng(0)
    n = 120
    ids = [f"s{i:04d}" for i in range(n)]
    category = np.array(["airport", "dam", "port"])[np.arange(n) % 3]
    cloud = rng.uniform(0, 50, n)
    cloud[5] = np.nan
    return _Pool(
        pd.DataFrame(
            {
                "sample_id": ids,
                "path": [f"{i}.tif" for i in ids],
                "lon": rng.uniform(0, 30, n),  # Europe / Africa
                "lat": rng.uniform(10, 55, n),
                "category": category,
                "cloud_cover": cloud,
                "time_id": (np.arange(n) % 4).astype(np.int64),
                "product": np.where(np.arange(n) % 2 == 0, "S2L2A", "S2L1C"),
                "land cover": np.where(np.arange(n) % 5 == 0, "water", "land"),
            }
        )
    )


def test_stratify_by_column_gives_its_values_as_strata(pool: _Pool) -> None:
    index = stratified_index(pool, stratify_by="category")
    assert (index["stratum"] == index["category"]).all()
    selection = build_manifest(
        pool, {"airport": 1, "Dam": 3}, 40, seed=1, stratify_by="category"
    )
    assert selection.manifest["stratum"].value_counts().to_dict() == {
        "dam": 30,
        "airport": 10,
    }
    assert set(selection.manifest["sample_id"]) <= set(
        pool.index().loc[lambda f: f["category"].isin(["airport", "dam"]), "sample_id"]
    )
    assert selection.summary["stratify_by"] == "category"
    assert selection.summary["pool_counts"] == {"airport": 40, "dam": 40, "port": 40}
    one = build_manifest(pool, "port", 5, stratify_by="category")
    assert set(one.manifest["stratum"]) == {"port"}


def test_integer_column_strata_and_missing_values_are_unassigned(
    pool: _Pool,
) -> None:
    selection = build_manifest(pool, {"0": 1, "3": 1}, 10, stratify_by="time_id")
    assert sorted(selection.manifest["stratum"].unique()) == ["0", "3"]
    index = stratified_index(pool, stratify_by="cloud_cover")
    assert index["stratum"].isna().sum() == 1  # the NaN cloud cover


def test_default_options_leave_the_summary_as_it_was(pool: _Pool) -> None:
    selection = build_manifest(pool, "proportional", 20, seed=0)
    assert not {"stratify_by", "filters", "pool_size_before_filters"} & set(
        selection.summary
    )
    same = build_manifest(pool, "proportional", 20, seed=0, filters=None)
    assert same.summary == selection.summary


def test_mapping_and_query_filters(pool: _Pool) -> None:
    frame = pool.index()
    kept = apply_filters(frame, {"cloud_cover": "< 10", "product": "S2L2A"})
    expected = frame[(frame["cloud_cover"] < 10) & (frame["product"] == "S2L2A")]
    assert kept["sample_id"].tolist() == expected["sample_id"].tolist()
    query = apply_filters(frame, "cloud_cover < 10 and product == 'S2L2A'")
    assert query["sample_id"].tolist() == kept["sample_id"].tolist()
    listed = apply_filters(frame, {"category": "in ['dam', 'port']", "time_id": 2})
    assert set(listed["category"]) == {"dam", "port"}
    assert set(listed["time_id"]) == {2}
    assert len(apply_filters(frame, {"time_id": "2"})) == 30  # numeric text
    quoted = apply_filters(frame, "`land cover` != 'water'")
    assert set(quoted["land cover"]) == {"land"}
    not_nan = apply_filters(frame, {"cloud_cover": ">= 0"})
    assert len(not_nan) == len(frame) - 1  # NaN never passes a comparison


def test_filters_apply_before_selection_and_are_recorded(
    pool: _Pool, tmp_path: Path
) -> None:
    path = tmp_path / "set.parquet"
    filters = {"cloud_cover": "< 25"}
    selection = build_manifest(
        pool, "proportional", 15, manifest_path=path, filters=filters
    )
    low = pool.index().loc[lambda f: f["cloud_cover"] < 25, "sample_id"]
    assert set(selection.manifest["sample_id"]) <= set(low)
    manifest, summary = read_manifest(path)
    assert summary["filters"] == filters
    assert summary["pool_size_before_filters"] == 120
    assert summary["pool_size"] == len(low)
    # the pool a set was drawn from is the whole pool (e.g. for pack)
    assert summary["pool_fingerprint"] == pool_fingerprint(pool.index())
    again = build_manifest(
        pool, "proportional", 15, manifest_path=path, filters=dict(filters)
    )
    assert again.manifest.equals(manifest)
    with pytest.raises(ValueError, match=r"built with filters=\{'cloud_cover'"):
        build_manifest(pool, "proportional", 15, manifest_path=path)
    with pytest.raises(ValueError, match="built with stratify_by=None"):
        build_manifest(
            pool,
            "proportional",
            15,
            manifest_path=path,
            filters=filters,
            stratify_by="category",
        )


def test_reuse_refuses_samples_the_filters_now_leave_out(
    pool: _Pool, tmp_path: Path
) -> None:
    path = tmp_path / "set.parquet"
    selection = build_manifest(
        pool, "uniform", 10, manifest_path=path, filters="cloud_cover < 25"
    )
    changed = pool.index().copy()
    first = changed["sample_id"] == selection.manifest["sample_id"].iat[0]
    changed.loc[first, "cloud_cover"] = 40.0
    with pytest.raises(ValueError, match="that the filters now leave out"):
        build_manifest(
            _Pool(changed),
            "uniform",
            10,
            manifest_path=path,
            filters="cloud_cover < 25",
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"filters": {"clouds": "< 10"}},
            r"filters names column 'clouds', which the pool index lacks; valid "
            r"columns are \['sample_id', 'path', 'lon', 'lat', 'category'",
        ),
        ({"filters": "clouds < 10"}, "names column 'clouds'"),
        ({"filters": {"cloud_cover": "< -1"}}, "removes every one of the pool's 120"),
        (
            {"filters": {"product": "S2L2A", "category": "== 'none'"}},
            r"filters\['category'\].*removes every one.*\(60 were left by the",
        ),
        ({"filters": "cloud_cover <"}, "is not a valid query"),
        (
            {"filters": "__import__('os').getcwd()"},
            "uses 'Call', which a filter may not",
        ),
        ({"filters": "category.str.len() > 3"}, "which a filter may not"),
        ({"filters": "cloud_cover"}, "does not give True or False"),
        ({"filters": {"category": "> 3"}}, "cannot be evaluated on the pool index"),
        ({"filters": {"category": None}}, "is not a condition"),
        ({"filters": {}}, "empty mapping"),
        ({"filters": " "}, "empty query"),
        ({"stratify_by": "kind"}, r"stratify_by 'kind' is not a column.*category"),
        ({"stratify_by": "category", "composition": "global"}, "shares the set among"),
        ({"stratify_by": "category", "composition": "europe"}, "not a value of column"),
        (
            {"stratify_by": "category", "composition": {"airport": 1, "farm": 1}},
            r"'farm', which is not a value of column 'category'.*airport, dam, port",
        ),
        (
            {"stratify_by": "category", "layer": RegionLayer()},
            "leave out layer or stratify_by",
        ),
    ],
)
def test_bad_strata_and_filters_are_refused_clearly(
    pool: _Pool, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"composition": "proportional", "num_samples": 5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        build_manifest(pool, **args)  # type: ignore[arg-type]


def test_summary_is_json_with_the_query_string(pool: _Pool, tmp_path: Path) -> None:
    path = tmp_path / "set.csv"
    build_manifest(
        pool,
        "proportional",
        6,
        manifest_path=path,
        stratify_by="product",
        filters="  time_id in [0, 1]  ",
    )
    summary = json.loads((tmp_path / "set.summary.json").read_text())
    assert summary["filters"] == "time_id in [0, 1]"
    assert summary["stratify_by"] == "product"
    assert set(summary["counts"]) == {"S2L1C", "S2L2A"}
