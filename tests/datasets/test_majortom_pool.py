from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.data.chips import LAND_POINTS
from tests.data.majortom import make_majortom, part_files, pixel_value
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import MajorTOMPool
from torchgeo_composition.sampling import compose, read_manifest

POINTS = LAND_POINTS["europe"][:3] + LAND_POINTS["asia"][:3]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_majortom(tmp_path_factory.mktemp("majortom"), POINTS)


def _position(pool: MajorTOMPool, root: Path, row: int) -> int:
    """The position of the cell of metadata row ``row`` (cells are in id order)."""
    meta = pd.read_parquet(root / "metadata.parquet")
    return pool.positions([f"{meta['grid_cell'][row]}/{meta['product_id'][row]}"])[0]


def _edit_metadata(root: Path, **columns: object) -> None:
    meta = pd.read_parquet(root / "metadata.parquet")
    for name, value in columns.items():
        meta[name] = value
    meta.to_parquet(root / "metadata.parquet", index=False)


def test_cells_from_metadata_read_in_band_order(root: Path) -> None:
    pool = MajorTOMPool(root, bands=["B8A", "B04", "B2"], cell_size=24)
    index = pool.index().set_index("sample_id", drop=False)
    assert len(pool) == len(POINTS)
    assert index["sample_id"].is_monotonic_increasing
    meta = pd.read_parquet(root / "metadata.parquet")
    ids = meta["grid_cell"] + "/" + meta["product_id"]
    assert index.loc[ids, "path"].astype(str).tolist() == (
        ["part_00001.parquet"] * 3 + ["part_00002.parquet"] * 3
    )
    assert ids[0].startswith("500U_100R/S2A_MSIL2A_")
    assert {
        "cloud_cover",
        "nodata",
        "timestamp",
        "crs",
        "parquet_url",
        "parquet_row",
    } <= set(index.columns)
    fifth = _position(pool, root, 4)
    assert (index["lon"].iloc[fifth], index["lat"].iloc[fifth]) == POINTS[4]
    image = pool[fifth]["image"]
    assert image.shape == (3, 24, 24)
    # B8A (20 m, column 8) upsampled to 10 m; B04 and B02 at 10 m
    assert image[:, 5, 7].tolist() == [
        pixel_value(8, 4, 6),
        pixel_value(3, 5, 7),
        pixel_value(1, 5, 7),
    ]
    assert MajorTOMPool(root, cell_size=24, size=12)[0]["image"].shape == (12, 12, 12)


def test_chip_grid_ids_centres_and_pixels(root: Path) -> None:
    cells = MajorTOMPool(root, cell_size=24)
    pool = MajorTOMPool(root, bands=["B04", "B8A"], cell_size=24, chip_size=8)
    index = pool.index()
    assert len(pool) == 9 * len(POINTS)
    first = 9 * _position(cells, root, 0)  # the chips of metadata row 0
    cell_id = cells.index()["sample_id"].iloc[first // 9]
    assert index["sample_id"].iloc[first : first + 3].tolist() == [
        f"{cell_id}/0_0",
        f"{cell_id}/0_1",
        f"{cell_id}/0_2",
    ]
    index = index.iloc[first : first + 9]
    centre = index.iloc[4]  # chip (1, 1): the middle of the cell
    assert (centre.lon, centre.lat) == pytest.approx(POINTS[0], abs=1e-6)
    top_left, bottom_right = index.iloc[0], index.iloc[8]
    assert top_left.lat > centre.lat > bottom_right.lat
    assert top_left.lon < centre.lon < bottom_right.lon
    assert (centre.lat - bottom_right.lat) * 111_320 == pytest.approx(
        80, rel=0.02
    )  # 8 px of 10 m
    image = pool[first + 5]["image"]  # chip (1, 2)
    assert image.shape == (2, 8, 8)
    assert image[:, 0, 0].tolist() == [pixel_value(3, 8, 16), pixel_value(8, 8, 16)]


def test_filters_at_index_time(root: Path) -> None:
    meta = pd.read_parquet(root / "metadata.parquet")
    limit = float(meta["cloud_cover"].median())
    pool = MajorTOMPool(root, cell_size=24, max_cloud_cover=limit, max_nodata=1.0)
    assert len(pool) == int((meta["cloud_cover"] <= limit).sum())
    assert (pool.index()["cloud_cover"] <= limit).all()
    with pytest.raises(ValueError, match=r"max_cloud_cover=-1.0 removes every cell"):
        MajorTOMPool(root, cell_size=24, max_cloud_cover=-1.0)


def test_indexes_and_composes_without_readable_parts(tmp_path: Path) -> None:
    root = make_majortom(tmp_path / "pool", POINTS)
    for part in part_files(root):
        part.write_bytes(b"")
    pool = MajorTOMPool(root, cell_size=24, chip_size=12)
    composed = compose(
        pool,
        {"europe": 1, "asia": 1},
        num_samples=6,
        manifest_path=tmp_path / "set.csv",
    )
    manifest, _ = read_manifest(composed.manifest_path)
    assert sorted(manifest["stratum"].value_counts().tolist()) == [3, 3]
    assert manifest["sample_id"].str.count("/").eq(2).all()


def test_compose_command_with_the_short_class_name(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "out.parquet"
    args = [
        "compose",
        "--pool=MajorTOMPool",
        f"--pool.root={root}",
        "--pool.cell_size=24",
        "--pool.max_cloud_cover=100",
    ]
    args += [
        '--composition={"europe": 1, "asia": 1}',
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0
    assert "| asia" in capsys.readouterr().out
    assert len(pd.read_parquet(manifest)) == 4


def test_part_without_local_copy_or_remote(tmp_path: Path) -> None:
    root = make_majortom(tmp_path, POINTS)
    part_files(root)[1].unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"1 part file\(s\) named by 3 row\(s\).*'part_00002.parquet'",
    ):
        MajorTOMPool(root, cell_size=24, remote=False)
    with pytest.warns(UserWarning, match="left out"):
        assert (
            len(MajorTOMPool(root, cell_size=24, remote=False, on_missing="skip")) == 3
        )
    meta = pd.read_parquet(root / "metadata.parquet")
    urls = meta["parquet_url"].str.replace(
        r"^https://.*/images/", f"file://{tmp_path}/nowhere/", regex=True
    )
    _edit_metadata(root, parquet_url=urls)
    pool = MajorTOMPool(root, cell_size=24)  # remote reads are tried only when reading
    local = _position(pool, root, 0)  # a cell of part_00001, which is local
    assert pool[local]["image"].shape == (12, 24, 24)
    with pytest.raises(
        FileNotFoundError,
        match=r"'part_00002.parquet' has no local copy under root.*could not be read",
    ):
        pool[_position(pool, root, 3)]


def test_row_group_out_of_range_and_bad_geotiff_bytes(tmp_path: Path) -> None:
    root = make_majortom(tmp_path, POINTS[:2])
    _edit_metadata(root, parquet_row=[0, 7])
    pool = MajorTOMPool(root, cell_size=24)
    with pytest.raises(
        ValueError,
        match=r"parquet_row 7 .* out of range: part file .*part_00001.parquet' has 2 row groups",
    ):
        pool[_position(pool, root, 1)]
    part = part_files(root)[0]
    table = pq.read_table(part)
    column = table.schema.get_field_index("B04")
    table = table.set_column(
        column, "B04", pa.array([b"not a tiff"] * 2, type=pa.binary())
    )
    pq.write_table(table, part, row_group_size=1)
    pool = MajorTOMPool(root, cell_size=24)  # a fresh pool: no part opened yet
    with pytest.raises(
        ValueError,
        match=r"band 'B04' of row group 0 of part file .*part_00001.parquet' is not a readable GeoTIFF",
    ):
        pool[_position(pool, root, 0)]


def test_bad_arguments_and_metadata(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="modality 'S1'"):
        MajorTOMPool(root, modality="S1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'B10'"):
        MajorTOMPool(root, bands=["B10"])  # L2A has no B10
    with pytest.raises(ValueError, match="chip_size 30"):
        MajorTOMPool(root, cell_size=24, chip_size=30)
    with pytest.raises(FileNotFoundError, match="metadata"):
        MajorTOMPool(tmp_path)
    bad = make_majortom(tmp_path / "bad", POINTS[:2])
    _edit_metadata(bad, centre_lat=[np.nan, 10.0])
    with pytest.raises(ValueError, match="NaN or outside"):
        MajorTOMPool(bad, cell_size=24)
    meta = pd.read_parquet(bad / "metadata.parquet").drop(columns=["parquet_row"])
    meta.to_parquet(bad / "metadata.parquet", index=False)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['parquet_row'\]"):
        MajorTOMPool(bad, cell_size=24)
