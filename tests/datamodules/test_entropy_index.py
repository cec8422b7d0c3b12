"""The pool entropy index: built through the CLI, reused, resumed, refused."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor

from torchgeo_composition.cli import main
from torchgeo_composition.datamodules.entropy_index import (
    build_entropy_index,
    entropy_index_path,
    load_entropy_index,
)
from torchgeo_composition.datasets import PoolDataset, SyntheticSentinel2Pool
from torchgeo_composition.diversity import spectral_entropy

POOL_ARGS = ["--pool.num_chips", "24", "--pool.size", "8"]


def _pool(root: Path) -> SyntheticSentinel2Pool:
    return SyntheticSentinel2Pool(root, num_chips=24, size=8)


def _index_cli(root: Path, *extra: str) -> list[str]:
    return [
        "diversity",
        "--pool",
        "SyntheticSentinel2Pool",
        "--pool.root",
        str(root),
        *POOL_ARGS,
        "--index",
        *extra,
    ]


def test_cli_builds_the_index_beside_the_pool_and_reuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "pool"
    pool = _pool(root)
    assert main(_index_cli(root, "--entropy_recipe", "olmoearth")) == 0
    out = capsys.readouterr().out
    assert "entropy index (olmoearth): 24 samples, 0 without valid pixels" in out
    path = root / "entropy_index.olmoearth.parquet"
    assert entropy_index_path(pool, "olmoearth") == path
    frame = pd.read_parquet(path)
    assert list(frame.columns) == ["sample_id", "spectral_entropy", "is_empty"]
    assert frame["sample_id"].tolist() == pool.index()["sample_id"].tolist()
    # The stored value is the olmoearth entropy of the raw chip (SatMAE's bands).
    bands = [
        pool.bands.index(b)
        for b in ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
    ]
    raw = pool[3]["image"][bands][None]
    expected = spectral_entropy(raw, recipe="olmoearth").item()
    assert frame["spectral_entropy"][3] == pytest.approx(expected, abs=1e-6)
    stamp = path.stat().st_mtime_ns
    assert main(_index_cli(root, "--entropy_recipe", "olmoearth")) == 0
    assert path.stat().st_mtime_ns == stamp
    # The default recipe has its own file.
    assert load_entropy_index(pool, "default") is None


def test_an_unknown_recipe_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_index_cli(tmp_path / "pool", "--entropy_recipe", "olmo")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: entropy_recipe must be one of ['default', 'olmoearth']; got 'olmo'"
    ]


class _TinyPool(PoolDataset):
    """Three 2-band samples; the middle one has no valid pixel."""

    bands = ("B4", "B8")

    def __init__(self, root: Path, lon: float = 10.0) -> None:
        self.root = root
        self.fill_value = 0.0
        self.lon = lon

    def index(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "sample_id": ["a", "b", "c"],
                "path": ["a.tif", "b.tif", "c.tif"],
                "lon": [self.lon, 11.0, 12.0],
                "lat": [50.0, 51.0, 52.0],
            }
        )

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if index == 1:
            image = torch.zeros(2, 4, 4)
        else:
            image = torch.arange(32, dtype=torch.float32).reshape(2, 4, 4) * 300.0
        return {"image": image, "lon": torch.tensor(0.0), "lat": torch.tensor(0.0)}


def test_samples_without_valid_pixels_are_marked_not_scored_zero(
    tmp_path: Path,
) -> None:
    frame = build_entropy_index(_TinyPool(tmp_path), "olmoearth", progress=False)
    assert frame["is_empty"].tolist() == [False, True, False]
    assert math.isnan(frame["spectral_entropy"][1])
    assert frame["spectral_entropy"][0] > 0


def test_a_stale_index_is_refused_with_the_command_and_rebuilt_by_build(
    tmp_path: Path,
) -> None:
    build_entropy_index(_TinyPool(tmp_path), "olmoearth", progress=False)
    changed = _TinyPool(tmp_path, lon=20.0)
    with pytest.raises(ValueError, match="another state of the pool") as info:
        load_entropy_index(changed, "olmoearth")
    assert "--index --entropy_recipe olmoearth" in str(info.value)
    build_entropy_index(changed, "olmoearth", progress=False)
    assert load_entropy_index(changed, "olmoearth") is not None
    # A file of another recipe, renamed, is refused too.
    os.replace(
        entropy_index_path(changed, "olmoearth"),
        entropy_index_path(changed, "default"),
    )
    with pytest.raises(ValueError, match="another recipe"):
        load_entropy_index(changed, "default")


class _Counting(SyntheticSentinel2Pool):
    reads = 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        type(self).reads += 1
        return super().__getitem__(index)


def test_a_killed_build_resumes_from_its_finished_chunks(tmp_path: Path) -> None:
    root = tmp_path / "pool"
    _pool(root)
    code = (
        "from torchgeo_composition.datasets import SyntheticSentinel2Pool\n"
        "from torchgeo_composition.datamodules.entropy_index import "
        "build_entropy_index\n"
        f"pool = SyntheticSentinel2Pool({str(root)!r}, num_chips=24, size=8)\n"
        "build_entropy_index(pool, chunk_size=8, progress=False)\n"
    )
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TORCHGEO_COMPOSITION_ENTROPY_INDEX_STOP_AFTER": "2",
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, check=False)
    assert done.returncode == 3
    parts = root / "entropy_index.default.parquet.parts"
    assert sorted(p.name for p in parts.glob("chunk-*.parquet")) == [
        "chunk-000000.parquet",
        "chunk-000001.parquet",
    ]
    assert not (root / "entropy_index.default.parquet").exists()
    pool = _Counting(root, num_chips=24, size=8)
    resumed = build_entropy_index(pool, chunk_size=8, progress=False)
    assert _Counting.reads == 8  # only the third chunk was read
    assert not parts.exists()
    fresh = build_entropy_index(
        pool, index_path=tmp_path / "fresh.parquet", progress=False
    )
    np.testing.assert_array_equal(
        resumed["spectral_entropy"].to_numpy(), fresh["spectral_entropy"].to_numpy()
    )


def test_the_datamodule_selects_by_entropy(tmp_path: Path) -> None:
    from torchgeo_composition.datamodules import ContinentStratifiedDataModule

    pool = _pool(tmp_path / "pool")
    kwargs: dict[str, Any] = {"composition": "proportional", "num_samples": 6}
    top = ContinentStratifiedDataModule(pool, selection="entropy_top", **kwargs)
    top.setup("fit")
    rand = ContinentStratifiedDataModule(pool, **kwargs)
    rand.setup("fit")
    assert top.manifest is not None and rand.manifest is not None
    assert top.summary is not None and "selection" not in (rand.summary or {})
    assert top.summary["selection"]["strategy"] == "entropy_top"
    index = load_entropy_index(pool)
    assert index is not None
    by_id = index.set_index("sample_id")["spectral_entropy"]
    top_mean = by_id.loc[top.manifest["sample_id"]].mean()
    assert top_mean > by_id.loc[rand.manifest["sample_id"]].mean()
