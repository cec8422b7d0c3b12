"""The Major TOM index: categorical columns, cached and checked, usable as strata."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from tests.data.chips import LAND_POINTS
from tests.data.majortom import make_majortom
from torchgeo_composition.datasets import MajorTOMPool
from torchgeo_composition.sampling import build_manifest, pool_fingerprint

POINTS = [p for points in LAND_POINTS.values() for p in points]


def test_repeated_columns_are_categorical_and_the_cache_loads_them(
    tmp_path: Path,
) -> None:
    root = make_majortom(tmp_path, POINTS)
    first = MajorTOMPool(root, cell_size=24).index()
    for column in ("path", "parquet_url", "crs"):
        assert isinstance(first[column].dtype, pd.CategoricalDtype), column
    meta = pd.read_parquet(root / "metadata.parquet")
    ids = meta["grid_cell"] + "/" + meta["product_id"]
    assert first["sample_id"].tolist() == sorted(ids)  # kept in id order
    by_id = first.set_index("sample_id")
    assert by_id.loc[ids, "parquet_url"].astype(str).tolist() == (
        meta["parquet_url"].tolist()
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged cache would warn
        again = MajorTOMPool(root, cell_size=24).index()
    pd.testing.assert_frame_equal(again, first)
    assert pool_fingerprint(again) == pool_fingerprint(first.astype({"path": str}))
    pool = MajorTOMPool(root, cell_size=24)
    selection = build_manifest(
        pool, "proportional", 6, stratify_by="crs", filters={"crs": "!= 'EPSG:1'"}
    )
    assert selection.manifest["stratum"].str.startswith("EPSG:32").all()
