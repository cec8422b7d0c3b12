from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.data.chips import LAND_POINTS
from tests.data.ssl4eo_v11 import make_ssl4eo_v11, pixel_value, zip_files
from tests.data.zarr_zip import write_zarr_zip
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import SSL4EOS12V11Pool
from torchgeo_composition.sampling import compose, read_manifest

POINTS = LAND_POINTS["europe"][:3] + LAND_POINTS["asia"][:3]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ssl4eo_v11(
        tmp_path_factory.mktemp("ssl4eo_v11"), POINTS, modalities=("S2L2A", "S1GRD")
    )


def test_index_from_metadata_and_reads_in_band_order(root: Path) -> None:
    pool = SSL4EOS12V11Pool(root, split="val", bands=["B04", "B3", "B08"])
    index = pool.index()
    assert len(pool) == len(POINTS) * 4
    assert index["sample_id"].iloc[:5].tolist() == [
        "0000000/0",
        "0000000/1",
        "0000000/2",
        "0000000/3",
        "0000001/0",
    ]
    assert (
        index["path"].iloc[0] == "val/S2L2A/ssl4eos12_val_seasonal_data_000001.zarr.zip"
    )
    assert {"time", "tile_id", "tile_crs", "time_id", "file"} <= set(index.columns)
    lon, lat = POINTS[4]
    row = index[index["sample_id"] == "0000004/2"].iloc[0]
    assert (row.lon, row.lat) == pytest.approx((lon, lat), abs=1e-9)
    i = int(row.name)
    sample = pool[i]
    assert sample["image"].shape == (3, 8, 8)
    assert sample["image"].dtype.is_floating_point
    expected = [
        pixel_value(b, 2, 4) for b in (3, 2, 7)
    ]  # B04, B03, B08 in file order 3, 2, 7
    assert sample["image"][:, 0, 0].tolist() == expected
    assert float(sample["lon"]) == pytest.approx(lon, abs=1e-5)
    assert len(pool.fingerprint()) == 64


def test_other_modality_and_fixed_timestamp(root: Path) -> None:
    pool = SSL4EOS12V11Pool(root, split="val", modality="S1GRD", timestamps=1)
    assert pool.bands == ("vv", "vh")
    assert pool.index()["sample_id"].tolist() == [
        f"{i:07d}" for i in range(len(POINTS))
    ]
    assert pool[5]["image"][:, 0, 0].tolist() == [
        pixel_value(0, 1, 5),
        pixel_value(1, 1, 5),
    ]


def test_random_timestamp_is_seeded_per_epoch(root: Path) -> None:
    pool = SSL4EOS12V11Pool(
        root, split="val", timestamps="random", seed=3, bands=["B01"]
    )
    again = SSL4EOS12V11Pool(
        root, split="val", timestamps="random", seed=3, bands=["B01"]
    )
    assert len(pool) == len(POINTS) and (pool.index()["n_timestamps"] == 4).all()
    first = [pool.timestamp(i) for i in range(len(pool))]
    assert first == [again.timestamp(i) for i in range(len(pool))]
    assert [pool[i]["image"][0, 0, 0].item() for i in range(len(pool))] == [
        pixel_value(0, t, i) for i, t in enumerate(first)
    ]
    epochs = set()
    for epoch in range(6):
        pool.set_epoch(epoch)
        epochs.add(tuple(pool.timestamp(i) for i in range(len(pool))))
    assert len(epochs) > 1  # the draw changes from epoch to epoch


def test_indexes_and_composes_without_readable_pixels(
    root: Path, tmp_path: Path
) -> None:
    copy = make_ssl4eo_v11(tmp_path / "pool", POINTS)
    for path in zip_files(copy):
        path.write_bytes(b"")  # every pixel file unreadable
    pool = SSL4EOS12V11Pool(copy, split="val")
    composed = compose(
        pool,
        {"europe": 1, "asia": 1},
        num_samples=8,
        seed=0,
        manifest_path=tmp_path / "set.parquet",
    )
    manifest, _ = read_manifest(composed.manifest_path)
    assert sorted(manifest["stratum"].value_counts().tolist()) == [4, 4]
    with pytest.raises(ValueError, match="not a readable zip"):
        pool[0]


def test_compose_command_with_the_short_class_name(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "out.parquet"
    args = [
        "compose",
        "--pool=SSL4EOS12V11Pool",
        f"--pool.root={root}",
        "--pool.split=val",
        "--pool.timestamps=random",
    ]
    args += [
        '--composition={"europe": 1, "asia": 1}',
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0
    assert "| europe" in capsys.readouterr().out
    assert len(pd.read_parquet(manifest)) == 4


def test_bad_inputs(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="modality 'S3'"):
        SSL4EOS12V11Pool(root, split="val", modality="S3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'B99'"):
        SSL4EOS12V11Pool(root, split="val", bands=["B99"])
    with pytest.raises(ValueError, match="timestamps 7 is not a time_id"):
        SSL4EOS12V11Pool(root, split="val", timestamps=7)
    with pytest.raises(FileNotFoundError, match=r"train_metadata\.parquet"):
        SSL4EOS12V11Pool(root, split="train")
    assert (
        main(
            [
                "compose",
                "--pool=SSL4EOS12V11Pool",
                f"--pool.root={root}",
                "--pool.split=train",
                f"--manifest_path={tmp_path / 'm.parquet'}",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("error:")
        and "train_metadata.parquet" in err[0]
    )


def test_missing_zips_are_refused_or_skipped(tmp_path: Path) -> None:
    root = make_ssl4eo_v11(tmp_path, POINTS)
    zip_files(root)[0].unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"1 file\(s\) named by 12 row\(s\).*seasonal_data_000001",
    ):
        SSL4EOS12V11Pool(root, split="val")
    with pytest.warns(UserWarning, match="left out"):
        pool = SSL4EOS12V11Pool(root, split="val", on_missing="skip")
    assert len(pool) == 12


def test_bad_metadata_and_bad_zips(tmp_path: Path) -> None:
    root = make_ssl4eo_v11(tmp_path, POINTS[:3])
    meta = root / "splits" / "val_metadata.parquet"
    table = pq.read_table(meta).to_pandas()
    table.drop(columns=["file"]).to_parquet(tmp_path / "nofile.parquet")
    (tmp_path / "nofile.parquet").replace(meta)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['file'\]"):
        SSL4EOS12V11Pool(root, split="val")
    root = make_ssl4eo_v11(tmp_path / "b", POINTS[:3])
    path = zip_files(root)[0]
    write_zarr_zip(path, {"other": (["x"], np.zeros(3), {})})
    pool = SSL4EOS12V11Pool(root, split="val")
    with pytest.raises(
        ValueError, match=r"lacks the variable\(s\) \['bands', 'sample'\]"
    ):
        pool[0]


def test_out_of_range_coordinates_name_the_table(tmp_path: Path) -> None:
    root = make_ssl4eo_v11(tmp_path, [(10.0, 50.0), (200.0, 95.0)])
    with pytest.raises(
        ValueError, match=r"val_metadata.parquet.*sample_id='0000001/0'"
    ):
        SSL4EOS12V11Pool(root, split="val")


def test_only_drawn_timestamps_vary_by_epoch(root: Path) -> None:
    assert SSL4EOS12V11Pool(root, split="val", timestamps="random").varies_by_epoch
    assert not SSL4EOS12V11Pool(root, split="val").varies_by_epoch
