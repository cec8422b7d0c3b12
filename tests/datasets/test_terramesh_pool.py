import tarfile
from pathlib import Path

import pandas as pd
import pytest

from tests.data.chips import LAND_POINTS
from tests.data.terramesh import make_terramesh, pixel_value, shard_files
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import TerraMeshPool
from torchgeo_composition.datasets.terramesh import shard_members
from torchgeo_composition.sampling import compose, read_manifest

POINTS = LAND_POINTS["europe"][:3] + LAND_POINTS["south_america"][:3]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_terramesh(
        tmp_path_factory.mktemp("terramesh"), POINTS, modalities=("S2L2A", "S1RTC")
    )


def test_index_from_metadata_and_random_access_by_offset(root: Path) -> None:
    pool = TerraMeshPool(root, split="val", bands=["B08", "B04"])
    index = pool.index()
    assert index["sample_id"].tolist()[:2] == [
        "majortom_val_0000000",
        "majortom_val_0000001",
    ]
    assert index["path"].iloc[4] == "val/S2L2A/ssl4eos12_shard_000001.tar"
    assert {"time", "source", "shard"} <= set(index.columns)
    for i in (5, 0, 3):  # any order
        sample = pool[i]
        assert sample["image"].shape == (2, 8, 8)
        assert sample["image"][:, 0, 0].tolist() == [
            pixel_value(7, i),
            pixel_value(3, i),
        ]
    assert TerraMeshPool(root, split="val", modality="S1RTC")[2]["image"][
        :, 0, 0
    ].tolist() == [
        pixel_value(0, 2),
        pixel_value(1, 2),
    ]


def test_member_offsets_point_at_the_zip(root: Path) -> None:
    shard = shard_files(root)[0]
    members = shard_members(shard)
    with tarfile.open(shard) as archive:
        names = archive.getnames()
    assert sorted(members) == sorted(n.removesuffix(".zarr.zip") for n in names)
    offset, _ = members["majortom_val_0000001"]
    with open(shard, "rb") as f:
        f.seek(offset)
        assert f.read(4) == b"PK\x03\x04"  # a zip's first local header


def test_without_a_shard_column_the_listing_is_cached(tmp_path: Path) -> None:
    root = make_terramesh(tmp_path, POINTS, shard_column=False)
    pool = TerraMeshPool(root, split="val")
    assert pool.index()["path"].iloc[0] == "val/S2L2A"
    assert pool[4]["image"][0, 0, 0].item() == pixel_value(0, 4)
    assert (root / "val" / "S2L2A" / ".tgc_members.parquet").exists()


def test_indexes_and_composes_without_readable_shards(tmp_path: Path) -> None:
    root = make_terramesh(tmp_path / "pool", POINTS)
    for shard in shard_files(root):
        shard.write_bytes(b"")
    pool = TerraMeshPool(root, split="val")
    composed = compose(
        pool,
        {"europe": 1, "south_america": 1},
        num_samples=4,
        manifest_path=tmp_path / "set.parquet",
    )
    manifest, _ = read_manifest(composed.manifest_path)
    assert sorted(manifest["stratum"].value_counts().tolist()) == [2, 2]
    with pytest.raises(
        ValueError, match=r"shard .*majortom_shard_000001.tar' is not a readable tar"
    ):
        pool[0]


def test_compose_command_with_the_short_class_name(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "out.parquet"
    args = [
        "compose",
        "--pool=TerraMeshPool",
        f"--pool.root={root}",
        "--pool.split=val",
    ]
    args += [
        '--composition={"europe": 1, "south_america": 1}',
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0
    assert "| south_america" in capsys.readouterr().out
    assert len(pd.read_parquet(manifest)) == 4


def test_bad_inputs(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="modality 'S3'"):
        TerraMeshPool(root, split="val", modality="S3")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"train_metadata\.parquet"):
        TerraMeshPool(root, split="train")
    with pytest.raises(FileNotFoundError, match=r"modality folder .*val/DEM"):
        TerraMeshPool(root, split="val", modality="DEM")
    odd = tmp_path / "odd"
    make_terramesh(odd, POINTS)
    meta = pd.read_parquet(odd / "val_metadata.parquet").rename(
        columns={"__key__": "id", "center_lon": "x"}
    )
    meta.to_parquet(odd / "val_metadata.parquet", index=False)
    with pytest.raises(ValueError, match="no recognised key or centre columns"):
        TerraMeshPool(odd, split="val")
    pool = TerraMeshPool(
        odd, split="val", key_column="id", lon_column="x", lat_column="center_lat"
    )
    assert pool[1]["image"][0, 0, 0].item() == pixel_value(0, 1)
    shard_files(odd)[0].unlink()
    with pytest.raises(FileNotFoundError, match=r"majortom_shard_000001.tar"):
        TerraMeshPool(
            odd, split="val", key_column="id", lon_column="x", lat_column="center_lat"
        )


def test_parallel_threads_read_the_same_samples(root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    pool = TerraMeshPool(root, split="val", bands=["B02"])
    order = [i % len(pool) for i in range(4 * len(pool))]
    with ThreadPoolExecutor(4) as executor:
        values = list(executor.map(lambda i: pool[i]["image"][0, 0, 0].item(), order))
    assert values == [pixel_value(1, i) for i in order]
