from pathlib import Path

import pytest

from tests.data.pools import tiny_pool
from torchgeo_composition.datamodules import build_manifest, stratified_index
from torchgeo_composition.datasets import SyntheticSentinel2Pool


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSentinel2Pool:
    return tiny_pool(tmp_path_factory.mktemp("pool"))


def test_index_strata(pool: SyntheticSentinel2Pool) -> None:
    index = stratified_index(pool)
    intended = index["sample_id"].str.rsplit("_", n=1).str[0]
    assert (index["stratum"] == intended).all()


def test_write_then_reuse(pool: SyntheticSentinel2Pool, tmp_path: Path) -> None:
    path = tmp_path / "sets" / "eu.parquet"
    first = build_manifest(pool, "Europe", 6, seed=1, manifest_path=path)
    assert set(first.manifest["stratum"]) == {"europe"}
    assert (tmp_path / "sets" / "eu.summary.json").exists()
    stamp = path.stat().st_mtime_ns
    again = build_manifest(pool, "eu", 6, seed=1, manifest_path=path)  # alias
    assert path.stat().st_mtime_ns == stamp
    assert again.manifest["sample_id"].tolist() == first.manifest["sample_id"].tolist()
    in_memory = build_manifest(pool, "europe", 6, seed=1)
    assert (
        in_memory.manifest["sample_id"].tolist() == first.manifest["sample_id"].tolist()
    )


def test_mismatch_errors(pool: SyntheticSentinel2Pool, tmp_path: Path) -> None:
    path = tmp_path / "g.parquet"
    build_manifest(pool, "global", 12, seed=0, manifest_path=path)
    with pytest.raises(ValueError, match=r"seed: manifest has 0, expected 1"):
        build_manifest(pool, "global", 12, seed=1, manifest_path=path)
    with pytest.raises(ValueError, match="num_samples"):
        build_manifest(pool, "global", 18, seed=0, manifest_path=path)
    other = tiny_pool(tmp_path / "other", num_chips=30)
    with pytest.raises(ValueError, match="another pool"):
        build_manifest(other, "global", 12, seed=0, manifest_path=path)


def test_bad_inputs(pool: SyntheticSentinel2Pool) -> None:
    with pytest.raises(ValueError, match="on_shortfall"):
        build_manifest(pool, "global", 12, on_shortfall="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atlantis"):
        build_manifest(pool, "atlantis", 12)
    with pytest.raises(ValueError, match="num_samples"):
        build_manifest(pool, "global", 0)
    replaced = build_manifest(pool, "oceania", 10, on_shortfall="replace")
    assert len(replaced.manifest) == 10
