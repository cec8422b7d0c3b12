from pathlib import Path

import pandas as pd
import pytest

from tests.data.chips import LAND_POINTS
from tests.data.fmow_sentinel import image_files, make_fmow_sentinel, pixel_value
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import FMoWSentinelPool
from torchgeo_composition.sampling import compose, read_manifest

POINTS = LAND_POINTS["europe"][:3] + LAND_POINTS["africa"][:3]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fmow_sentinel(tmp_path_factory.mktemp("fmow"), POINTS)


def test_index_from_csv_and_reads_in_band_order(root: Path) -> None:
    pool = FMoWSentinelPool(
        root, split="train", bands=["B4", "B3", "B2", "B8A"], size=8
    )
    index = pool.index()
    assert len(pool) == 2 * len(POINTS)
    assert index["sample_id"].iloc[:2].tolist() == ["airport_0_0", "airport_0_101"]
    assert index["path"].iloc[1] == "train/airport/airport_0/airport_0_101.tif"
    assert index[["category", "location_id", "image_id", "timestamp"]].iloc[
        1
    ].tolist() == [
        "airport",
        0,
        101,
        "2017-02-15T00:00:00Z",
    ]
    assert (index["lon"].iloc[2], index["lat"].iloc[2]) == pytest.approx(
        POINTS[1], abs=1e-9
    )
    sample = pool[3]
    assert sample["image"].shape == (4, 8, 8)
    # S2 band order: B2=1, B3=2, B4=3, B8A=8
    assert sample["image"][:, 0, 0].tolist() == [
        pixel_value(b, 3) for b in (3, 2, 1, 8)
    ]


def test_categories_as_columns(root: Path) -> None:
    index = FMoWSentinelPool(root).index()
    assert sorted(index["category"].unique()) == [
        "airport",
        "crop_field",
        "dam",
        "port",
    ]


def test_indexes_and_composes_without_readable_images(tmp_path: Path) -> None:
    root = make_fmow_sentinel(tmp_path / "pool", POINTS)
    for path in image_files(root):
        path.write_bytes(b"")
    pool = FMoWSentinelPool(root)
    composed = compose(
        pool,
        {"europe": 1, "africa": 1},
        num_samples=4,
        manifest_path=tmp_path / "set.parquet",
    )
    manifest, _ = read_manifest(composed.manifest_path)
    assert sorted(manifest["stratum"].value_counts().tolist()) == [2, 2]
    with pytest.raises(ValueError, match="not a readable raster"):
        pool[0]


def test_compose_command_with_the_short_class_name(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "out.csv"
    args = [
        "compose",
        "--pool=FMoWSentinelPool",
        f"--pool.root={root}",
        "--pool.size=8",
    ]
    args += [
        '--composition={"europe": 1, "africa": 1}',
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0
    assert "| africa" in capsys.readouterr().out
    assert len(pd.read_csv(manifest)) == 4


def test_bad_inputs(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split 'dev'"):
        FMoWSentinelPool(root, split="dev")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match=r"val\.csv"):
        FMoWSentinelPool(root, split="val")
    with pytest.raises(ValueError, match="'B13'"):
        FMoWSentinelPool(root, bands=["B13"])
    bad = make_fmow_sentinel(tmp_path / "bad", POINTS[:2])
    csv = bad / "train.csv"
    table = pd.read_csv(csv, index_col=0)
    table.loc[1, "polygon"] = "POLYGON ((bad"
    table.to_csv(csv)
    with pytest.raises(
        ValueError,
        match=r"column 'polygon' of .*train.csv' has 1 missing, empty or invalid",
    ):
        FMoWSentinelPool(bad)
    table.drop(columns=["polygon"]).to_csv(csv)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['polygon'\]"):
        FMoWSentinelPool(bad)


def test_missing_images(tmp_path: Path) -> None:
    root = make_fmow_sentinel(tmp_path, POINTS)
    image_files(root)[0].unlink()
    with pytest.raises(FileNotFoundError, match=r"1 file\(s\) named by 1 row\(s\)"):
        FMoWSentinelPool(root)
    with pytest.warns(UserWarning, match="left out"):
        assert len(FMoWSentinelPool(root, on_missing="skip")) == 2 * len(POINTS) - 1
