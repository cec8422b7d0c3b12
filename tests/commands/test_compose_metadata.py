"""``compose --stratify_by --filters`` on every metadata pool, through the CLI."""

from __future__ import annotations

import json
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

POINTS = [p for points in LAND_POINTS.values() for p in points]


def _table(root: Path) -> list[str]:
    root.mkdir(parents=True)
    rows = []
    for i, (lon, lat) in enumerate(POINTS):
        write_chip(root / f"c{i}.tif", lon, lat, count=4, size=4, seed=i)
        rows.append({"path": f"c{i}.tif", "lon": lon, "lat": lat, "biome": i % 3})
    pd.DataFrame(rows).to_parquet(root / "items.parquet")
    table = f"--pool.table={root / 'items.parquet'}"
    return ["--pool=TablePool", table, "--pool.all_bands=[B2, B3, B4, B8]"]


#: pool arguments; stratify_by, composition, filters; what every row satisfies
Case = tuple[
    Callable[[Path], list[str]],
    list[str],
    Callable[[pd.DataFrame], pd.Series],
]

CASES: dict[str, Case] = {
    "ssl4eo_v11": (
        lambda r: [
            "--pool=SSL4EOS12V11Pool",
            f"--pool.root={make_ssl4eo_v11(r, POINTS, split='train')}",
        ],
        [
            "--stratify_by=time_id",
            "--composition={'0': 1, '2': 1}",
            "--filters={tile_crs: '!= 0'}",
        ],
        lambda m: m["stratum"].isin(["0", "2"]),
    ),
    "majortom": (
        lambda r: [
            "--pool=MajorTOMPool",
            f"--pool.root={make_majortom(r, POINTS)}",
            "--pool.cell_size=24",
        ],
        [
            "--stratify_by=crs",
            "--composition=proportional",
            "--filters=cloud_cover < 30 and nodata <= 0.1",
        ],
        lambda m: m["stratum"].str.startswith("EPSG:"),
    ),
    "fmow_sentinel": (
        lambda r: [
            "--pool=FMoWSentinelPool",
            f"--pool.root={make_fmow_sentinel(r, POINTS)}",
        ],
        [
            "--stratify_by=category",
            "--composition={airport: 1, port: 1}",
            "--filters={image_id: '< 100'}",
        ],
        lambda m: (
            m["stratum"].isin(["airport", "port"]) & m["sample_id"].str.endswith("_0")
        ),
    ),
    "terramesh": (
        lambda r: [
            "--pool=TerraMeshPool",
            f"--pool.root={make_terramesh(r, POINTS, split='train')}",
        ],
        [
            "--stratify_by=source",
            "--composition=uniform",
            "--filters=lat > -35",
        ],
        lambda m: m["lat"] > -35,
    ),
    "table": (
        _table,
        ["--stratify_by=biome", "--composition=2", "--filters={biome: 2}"],
        lambda m: m["stratum"] == "2",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_compose_stratifies_by_a_column_and_filters_each_pool(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pool, options, check = CASES[name]
    manifest = tmp_path / "set.parquet"
    args = [
        "compose",
        *pool(tmp_path / "pool"),
        *options,
        "--num_samples=4",
        "--on_shortfall=redistribute",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0, capsys.readouterr().err
    frame = pd.read_parquet(manifest)
    assert len(frame) == 4
    assert check(frame).all()
    summary = json.loads((tmp_path / "set.summary.json").read_text())
    assert summary["stratify_by"] == options[0].split("=", 1)[1]
    assert summary["filters"] is not None
    assert summary["pool_size"] < summary["pool_size_before_filters"] or name in (
        "ssl4eo_v11",  # its filter keeps every sample
    )
    assert "| stratum" in capsys.readouterr().out  # the counts table


def test_compose_names_the_valid_columns_on_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_fmow_sentinel(tmp_path / "pool", POINTS)
    base = ["compose", "--pool=FMoWSentinelPool", f"--pool.root={root}"]
    out = f"--manifest_path={tmp_path / 'set.parquet'}"
    assert main([*base, "--filters={cloud: '< 1'}", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: filters names column")
    assert "'category', 'location_id', 'image_id', 'timestamp'" in err
    assert main([*base, "--stratify_by=kind", out]) == 2
    assert "stratify_by 'kind' is not a column" in capsys.readouterr().err
    assert main([*base, "--filters=image_id > 1000", out]) == 2
    assert "removes every one of the pool's 54 samples" in capsys.readouterr().err
    assert not (tmp_path / "set.parquet").exists()
