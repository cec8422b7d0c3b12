"""The shipped compose configs of the metadata pools run on fixture data."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.data.chips import LAND_POINTS, write_chip
from tests.data.fmow_sentinel import make_fmow_sentinel
from tests.data.majortom import make_majortom
from tests.data.ssl4eo_v11 import make_ssl4eo_v11
from tests.data.terramesh import make_terramesh
from torchgeo_composition.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "compose"
POINTS = [p for points in LAND_POINTS.values() for p in points]


def _table(root: Path) -> list[str]:
    paths = []
    for i, (lon, lat) in enumerate(POINTS):
        write_chip(root / f"c{i}.tif", lon, lat, count=13, size=4, seed=i)
        paths.append(f"c{i}.tif")
    table = pd.DataFrame(
        {"path": paths, "lon": [p[0] for p in POINTS], "lat": [p[1] for p in POINTS]}
    )
    table.to_parquet(root / "items.parquet")
    return [f"--pool.table={root / 'items.parquet'}"]


CASES: dict[str, Callable[[Path], list[str]]] = {
    "ssl4eo_v11_europe": lambda r: [
        f"--pool.root={make_ssl4eo_v11(r, POINTS, split='train', per_file=9)}"
    ],
    "majortom_global": lambda r: [
        f"--pool.root={make_majortom(r, POINTS)}",
        "--pool.cell_size=24",
        "--pool.max_cloud_cover=100",
    ],
    "majortom_chips_europe": lambda r: [
        f"--pool.root={make_majortom(r, POINTS)}",
        "--pool.cell_size=24",
        "--pool.chip_size=8",
        "--pool.max_cloud_cover=100",
    ],
    "fmow_sentinel_global": lambda r: [f"--pool.root={make_fmow_sentinel(r, POINTS)}"],
    "fmow_sentinel_categories": lambda r: [
        f"--pool.root={make_fmow_sentinel(r, POINTS)}"
    ],
    "terramesh_global": lambda r: [
        f"--pool.root={make_terramesh(r, POINTS, split='train')}"
    ],
    "table_europe": _table,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_config_runs_on_fixture_data(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = CASES[name](tmp_path / "pool")
    manifest = tmp_path / "set.parquet"
    args = [
        "compose",
        "--config",
        str(CONFIGS / f"{name}.yaml"),
        *overrides,
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0, capsys.readouterr().err
    assert len(pd.read_parquet(manifest)) == 4
