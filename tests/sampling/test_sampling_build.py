from pathlib import Path

import pandas as pd
import pytest

from tests.data.pools import tiny_pool
from torchgeo_composition.datamodules import build_manifest as reexported
from torchgeo_composition.datasets import SyntheticSentinel2Pool
from torchgeo_composition.geography import RegionLayer
from torchgeo_composition.sampling import (
    build_manifest,
    compose,
    read_manifest,
    stratified_index,
)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSentinel2Pool:
    return tiny_pool(tmp_path_factory.mktemp("pool"))


class _IndexOnly:
    """Anything with an index() is a pool for sampling."""

    def __init__(self, index: pd.DataFrame) -> None:
        self._index = index

    def index(self) -> pd.DataFrame:
        return self._index


def test_index_strata(pool: SyntheticSentinel2Pool) -> None:
    index = stratified_index(pool)
    intended = index["sample_id"].str.rsplit("_", n=1).str[0]
    assert (index["stratum"] == intended).all()


def test_any_object_with_an_index_is_a_pool(pool: SyntheticSentinel2Pool) -> None:
    plain = _IndexOnly(pool.index())
    a = build_manifest(plain, "global", 12, seed=2)
    b = build_manifest(pool, "global", 12, seed=2)
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    assert a.summary == b.summary
    assert reexported is build_manifest


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


def _halves(tmp_path: Path, names: tuple[str, str]) -> RegionLayer:
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / f"{names[0]}.geojson"
    gpd.GeoDataFrame(
        {"half": list(names)},
        geometry=[box(-180, -90, 0, 90), box(0, -90, 180, 90)],
        crs="EPSG:4326",
    ).to_file(path)
    return RegionLayer(path, attribute="half")


def test_saved_manifest_of_another_region_layer_is_refused(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    path = tmp_path / "halves.parquet"
    layer = _halves(tmp_path, ("west", "east"))
    first = build_manifest(pool, "uniform", 10, manifest_path=path, layer=layer)
    assert set(first.manifest["stratum"]) <= {"west", "east"}
    flipped = _halves(tmp_path, ("east", "west"))
    with pytest.raises(ValueError, match="another region layer"):
        build_manifest(pool, "uniform", 10, manifest_path=path, layer=flipped)


def test_bad_inputs(pool: SyntheticSentinel2Pool) -> None:
    with pytest.raises(ValueError, match="on_shortfall"):
        build_manifest(pool, "global", 12, on_shortfall="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="atlantis"):
        build_manifest(pool, "atlantis", 12)
    with pytest.raises(ValueError, match="num_samples"):
        build_manifest(pool, "global", 0)
    replaced = build_manifest(pool, "oceania", 10, on_shortfall="replace")
    assert len(replaced.manifest) == 10


def test_compose_writes_manifest_summary_and_map(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    path = tmp_path / "out" / "asia.csv"
    composed = compose(pool, "asia", 6, seed=3, manifest_path=path)
    manifest, summary = read_manifest(path)
    assert composed.manifest_path == path
    assert composed.summary_path == tmp_path / "out" / "asia.summary.json"
    assert composed.map_path == tmp_path / "out" / "asia.map.png"
    assert composed.map_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert manifest["sample_id"].tolist() == (
        composed.selection.manifest["sample_id"].tolist()
    )
    assert summary["counts"] == {"asia": 6}
    selection, *paths = composed  # unpacks like a tuple
    assert selection is composed.selection and len(paths) == 3


def test_compose_reuses_or_overwrites(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    path = tmp_path / "set.parquet"
    png = tmp_path / "maps" / "set.png"
    compose(pool, "global", 12, manifest_path=path, map_path=png, title="a title")
    assert png.exists()
    stamp = path.stat().st_mtime_ns
    compose(pool, "global", 12, manifest_path=path, map_path=png)
    assert path.stat().st_mtime_ns == stamp  # reused
    with pytest.raises(ValueError, match="num_samples"):
        compose(pool, "global", 18, manifest_path=path, map_path=png)
    again = compose(pool, "global", 18, manifest_path=path, overwrite=True)
    assert read_manifest(path)[1]["num_samples"] == 18
    assert again.map_path == tmp_path / "set.map.png"


def test_compose_checks_outputs_before_drawing(
    pool: SyntheticSentinel2Pool, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match="map_path"):
        compose(
            pool,
            "global",
            12,
            manifest_path=tmp_path / "m.csv",
            map_path=blocker / "m.png",
        )
    assert not (tmp_path / "m.csv").exists()
