from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pytest


def build_index(
    counts: Mapping[str, int], unassigned: int = 0, seed: int = 0
) -> pd.DataFrame:
    """A small synthetic pool index with the given number of samples per stratum."""
    rng = np.random.default_rng(seed)
    strata: list[str | None] = []
    for name, n in counts.items():
        strata.extend([name] * n)
    strata.extend([None] * unassigned)
    n = len(strata)
    order = rng.permutation(n)
    ids = [f"s{i:05d}" for i in range(n)]
    return pd.DataFrame(
        {
            "sample_id": ids,
            "path": [f"chips/{i}.tif" for i in ids],
            "lon": rng.uniform(-180, 180, n).round(6),
            "lat": rng.uniform(-60, 80, n).round(6),
            "stratum": pd.Series(strata, dtype=object).iloc[order].to_numpy(),
        }
    )


@pytest.fixture
def make_index() -> Callable[..., pd.DataFrame]:
    return build_index


@pytest.fixture
def continent_index() -> pd.DataFrame:
    return build_index(
        {
            "africa": 40,
            "asia": 60,
            "europe": 80,
            "north_america": 50,
            "oceania": 20,
            "south_america": 30,
        },
        unassigned=5,
    )
