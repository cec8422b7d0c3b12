"""Every metadata pool serves a ContinentStratifiedDataModule through ``fit``.

One ``torchgeo-composition fit --trainer.fast_dev_run=1`` per pool, with a tiny
SatMAE on its fixture, drawing the set with the pool's metadata columns as
strata (``stratify_by``) or filters where it has them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.data.chips import LAND_POINTS, write_chip
from tests.data.fmow_sentinel import make_fmow_sentinel
from tests.data.majortom import make_majortom
from tests.data.ssl4eo_v11 import make_ssl4eo_v11
from tests.data.terramesh import make_terramesh
from tests.trainers.satmae_tiny import TINY_TASK
from torchgeo_composition.bands import S2_BANDS, SATMAE_BANDS
from torchgeo_composition.cli import main

POINTS = [p for points in LAND_POINTS.values() for p in points]


def _table(root: Path) -> dict[str, Any]:
    root.mkdir(parents=True)
    rows = []
    for i, (lon, lat) in enumerate(POINTS):
        write_chip(root / f"c{i}.tif", lon, lat, count=13, size=6 + i % 3, seed=i)
        rows.append({"path": f"c{i}.tif", "lon": lon, "lat": lat, "tile": i % 3})
    pd.DataFrame(rows).to_csv(root / "items.csv", index=False)
    return {
        "table": str(root / "items.csv"),
        "all_bands": list(S2_BANDS),
        "size": 8,
    }


#: pool class, init_args from a fixture folder, and the selection options
CASES: dict[str, tuple[str, Callable[[Path], dict[str, Any]], dict[str, Any]]] = {
    "ssl4eo_v11": (
        "SSL4EOS12V11Pool",
        lambda r: {"root": str(make_ssl4eo_v11(r, POINTS, split="train"))},
        {"filters": {"time_id": "in [0, 1]"}},
    ),
    "majortom": (
        "MajorTOMPool",
        lambda r: {"root": str(make_majortom(r, POINTS)), "cell_size": 24},
        {"filters": "cloud_cover < 30"},
    ),
    "majortom_chips": (
        "MajorTOMPool",
        lambda r: {
            "root": str(make_majortom(r, POINTS)),
            "cell_size": 24,
            "chip_size": 8,
        },
        {},
    ),
    "fmow_sentinel": (
        "FMoWSentinelPool",
        lambda r: {"root": str(make_fmow_sentinel(r, POINTS)), "size": 8},
        {"stratify_by": "category", "composition": {"airport": 1, "dam": 1}},
    ),
    "terramesh": (
        "TerraMeshPool",
        lambda r: {"root": str(make_terramesh(r, POINTS, split="train"))},
        {},
    ),
    "table": (
        "TablePool",
        _table,
        {
            "stratify_by": "tile",
            "filters": {"tile": "!= 2"},
            "composition": "proportional",
        },
    ),
}


def _fit_config(tmp_path: Path, pool: dict[str, Any], data: dict[str, Any]) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "fast_dev_run": 1,
            "default_root_dir": str(tmp_path / "run"),
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "model": {
            "class_path": "torchgeo_composition.trainers.SatMAETask",
            "init_args": {
                **TINY_TASK,
                "bands": list(SATMAE_BANDS),
                "warmup_epochs": 0,
                "plot_every_n_epochs": 0,
            },
        },
        "data": {
            "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule",
            "init_args": {
                "pool": pool,
                "composition": {"europe": 1, "asia": 1},
                "num_samples": 6,
                "seed": 0,
                "manifest_path": str(tmp_path / "set.parquet"),
                "on_shortfall": "redistribute",
                "val_fraction": 0.34,  # one of each stratum's three samples
                "batch_size": 3,
                "bands": list(SATMAE_BANDS),
                "crop_size": 16,
                **data,
            },
        },
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_pool_serves_the_datamodule_through_fit(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cls, make, options = CASES[name]
    pool = {
        "class_path": f"torchgeo_composition.datasets.{cls}",
        "init_args": make(tmp_path / "pool"),
    }
    config = _fit_config(tmp_path, pool, options)
    assert main(["fit", "--config", str(config)]) == 0, capsys.readouterr().err
    manifest = pd.read_parquet(tmp_path / "set.parquet")
    assert len(manifest) == 6
    summary = yaml.safe_load((tmp_path / "set.summary.json").read_text())
    assert summary.get("stratify_by") == options.get("stratify_by")
    assert summary.get("filters") == options.get("filters")
    if name == "fmow_sentinel":
        assert set(manifest["stratum"]) == {"airport", "dam"}
    if name == "table":
        assert set(manifest["stratum"]) == {"0", "1"}
