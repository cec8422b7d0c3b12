from pathlib import Path

import numpy as np
import pytest
import rasterio

from torchgeo_composition.datasets import LAND_COVERS, SyntheticSentinel2Pool
from torchgeo_composition.geography import INHABITED, continent_of


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.tif"))}


def test_deterministic_and_idempotent(tmp_path: Path) -> None:
    a = SyntheticSentinel2Pool(tmp_path / "a", num_chips=12, size=8, seed=3)
    b = SyntheticSentinel2Pool(tmp_path / "b", num_chips=12, size=8, seed=3)
    assert len(a) == len(b) == 12
    files_a = _files(tmp_path / "a")
    assert files_a == _files(tmp_path / "b")
    SyntheticSentinel2Pool(tmp_path / "c", num_chips=12, size=8, seed=4)
    assert _files(tmp_path / "c") != files_a
    # second use: nothing rewritten, a deleted chip is restored identically
    victim = tmp_path / "a" / sorted(files_a)[0]
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").glob("*.tif")}
    victim.unlink()
    SyntheticSentinel2Pool(tmp_path / "a", num_chips=12, size=8, seed=3)
    assert _files(tmp_path / "a") == files_a
    for p, t in mtimes.items():
        if p != victim:
            assert p.stat().st_mtime_ns == t
    assert not list((tmp_path / "a").glob(".tmp-*"))


def test_continents_crs_and_spectra(tmp_path: Path) -> None:
    pool = SyntheticSentinel2Pool(tmp_path, num_chips=24, size=8, seed=0)
    index = pool.index()
    found = continent_of(index["lon"].to_numpy(), index["lat"].to_numpy(), 0.0)
    assert set(found) == set(INHABITED)
    intended = index["sample_id"].str.rsplit("_", n=1).str[0].to_numpy()
    assert (found == intended).all()
    with rasterio.open(tmp_path / f"{index['path'][0]}") as src:
        assert src.count == 13 and src.dtypes[0] == "uint16"
        assert src.crs.to_epsg() // 100 in (326, 327)  # UTM north / south
    sample = pool[0]
    assert sample["image"].shape == (13, 8, 8)
    assert float(sample["image"].min()) >= 1
    assert len(LAND_COVERS) == 6


def test_continent_statistics_differ(tmp_path: Path) -> None:
    pool = SyntheticSentinel2Pool(tmp_path, num_chips=60, size=8, seed=0)
    ids = pool.index()["sample_id"]
    swir = {}
    for name in ("africa", "europe"):
        rows = np.flatnonzero(ids.str.startswith(name).to_numpy())
        swir[name] = np.mean([float(pool[int(i)]["image"][11].mean()) for i in rows])
    assert swir["africa"] > swir["europe"]  # deserts are bright in B11


def test_other_arguments_refused(tmp_path: Path) -> None:
    SyntheticSentinel2Pool(tmp_path, num_chips=6, size=4, seed=0)
    with pytest.raises(ValueError, match="generated with"):
        SyntheticSentinel2Pool(tmp_path, num_chips=7, size=4, seed=0)
    with pytest.raises(ValueError, match="num_chips"):
        SyntheticSentinel2Pool(tmp_path / "x", num_chips=2)
