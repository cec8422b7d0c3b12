from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from tests.data.chips import LAND_POINTS, write_chip
from torchgeo_composition.cli import main
from torchgeo_composition.datasets import TablePool
from torchgeo_composition.sampling import compose, read_manifest

POINTS = LAND_POINTS["europe"][:3] + LAND_POINTS["oceania"][:3]


def make_files(root: Path, count: int = 4) -> list[str]:
    paths = []
    for i, (lon, lat) in enumerate(POINTS):
        data = np.stack(
            [np.full((6, 6), b * 1000 + i, dtype=np.uint16) for b in range(count)]
        )
        rel = f"chips/{i:03d}.tif"
        write_chip(root / rel, lon, lat, data=data)
        paths.append(rel)
    return paths


def test_csv_with_lon_lat_and_extra_columns(tmp_path: Path) -> None:
    paths = make_files(tmp_path)
    frame = pd.DataFrame(
        {
            "path": paths,
            "lon": [p[0] for p in POINTS],
            "lat": [p[1] for p in POINTS],
            "biome": list("abcabc"),
        }
    )
    frame.to_csv(tmp_path / "items.csv", index=False)
    pool = TablePool(
        tmp_path / "items.csv", all_bands=["B2", "B3", "B4", "B8"], bands=["B8", "B2"]
    )
    index = pool.index()
    assert index.columns.tolist() == ["sample_id", "path", "lon", "lat", "biome"]
    assert index["sample_id"].iloc[0] == "chips/000"
    assert pool[4]["image"][:, 0, 0].tolist() == [3004.0, 4.0]
    assert pool[4]["image"].shape == (2, 6, 6)


def test_geoparquet_geometry_in_another_crs(tmp_path: Path) -> None:
    paths = make_files(tmp_path)
    gdf = gpd.GeoDataFrame(
        {"file": paths, "id": [f"item-{i}" for i in range(len(paths))]},
        geometry=[Point(lon, lat) for lon, lat in POINTS],
        crs="EPSG:4326",
    ).to_crs("EPSG:3857")
    gdf.to_parquet(tmp_path / "stac.parquet")
    pool = TablePool(
        tmp_path / "stac.parquet",
        path_column="file",
        id_column="id",
        all_bands=["a", "b", "c", "d"],
    )
    index = pool.index()
    assert index["sample_id"].tolist() == [f"item-{i}" for i in range(len(paths))]
    assert index[["lon", "lat"]].to_numpy() == pytest.approx(np.array(POINTS), abs=1e-6)
    assert "geometry" not in index


def test_band_names_from_the_first_file_or_b1_bn_with_a_warning(tmp_path: Path) -> None:
    paths = make_files(tmp_path, count=3)
    pd.DataFrame(
        {"path": paths, "lon": [p[0] for p in POINTS], "lat": [p[1] for p in POINTS]}
    ).to_csv(tmp_path / "t.csv", index=False)
    with pytest.warns(UserWarning, match="no band descriptions.*band1 ... band3"):
        pool = TablePool(tmp_path / "t.csv")
    assert pool.bands == ("band1", "band2", "band3")
    import rasterio

    with rasterio.open(tmp_path / paths[0], "r+") as dst:
        dst.descriptions = ("B4", "B3", "B2")
    assert TablePool(tmp_path / "t.csv").bands == ("B4", "B3", "B2")


def test_indexes_and_composes_without_readable_files(tmp_path: Path) -> None:
    paths = make_files(tmp_path)
    pd.DataFrame(
        {
            "path": paths,
            "latitude": [p[1] for p in POINTS],
            "longitude": [p[0] for p in POINTS],
        }
    ).to_parquet(tmp_path / "t.parquet")
    for path in paths:
        (tmp_path / path).write_bytes(b"")
    pool = TablePool(tmp_path / "t.parquet", all_bands=["B2", "B3", "B4", "B8"])
    composed = compose(
        pool,
        {"europe": 1, "oceania": 1},
        num_samples=4,
        manifest_path=tmp_path / "out" / "set.parquet",
    )
    manifest, _ = read_manifest(composed.manifest_path)
    assert sorted(manifest["stratum"].value_counts().tolist()) == [2, 2]


def test_compose_command_with_the_short_class_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = make_files(tmp_path)
    pd.DataFrame(
        {"path": paths, "lon": [p[0] for p in POINTS], "lat": [p[1] for p in POINTS]}
    ).to_csv(tmp_path / "t.csv", index=False)
    manifest = tmp_path / "out.parquet"
    args = [
        "compose",
        "--pool=TablePool",
        f"--pool.table={tmp_path / 't.csv'}",
        '--pool.all_bands=["B2","B3","B4","B8"]',
    ]
    args += [
        '--composition={"europe": 1, "oceania": 1}',
        "--num_samples=4",
        f"--manifest_path={manifest}",
    ]
    assert main(args) == 0
    assert "| oceania" in capsys.readouterr().out


def test_bad_tables(tmp_path: Path) -> None:
    paths = make_files(tmp_path)
    pd.DataFrame({"path": paths, "x": range(len(paths))}).to_csv(
        tmp_path / "nocoords.csv", index=False
    )
    with pytest.raises(ValueError, match="has no coordinate columns"):
        TablePool(tmp_path / "nocoords.csv", all_bands=["a", "b", "c", "d"])
    pd.DataFrame({"file": paths, "lon": 0.0, "lat": 0.0}).to_csv(
        tmp_path / "nopath.csv", index=False
    )
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['path'\]"):
        TablePool(tmp_path / "nopath.csv", all_bands=["a", "b", "c", "d"])
    pd.DataFrame({"path": paths, "lon": [0.0] * 5 + [np.nan], "lat": 0.0}).to_csv(
        tmp_path / "nan.csv", index=False
    )
    with pytest.raises(
        ValueError, match=r"nan.csv.*NaN or outside.*sample_id='chips/005'"
    ):
        TablePool(tmp_path / "nan.csv", all_bands=["a", "b", "c", "d"])
    pd.DataFrame({"path": paths, "lon": 0.0, "lat": 0.0, "k": 1}).to_csv(
        tmp_path / "dup.csv", index=False
    )
    with pytest.raises(ValueError, match="gives 5 sample id"):
        TablePool(tmp_path / "dup.csv", id_column="k", all_bands=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="lon_column and lat_column go together"):
        TablePool(tmp_path / "dup.csv", lon_column="lon")
    (tmp_path / "t.json").write_text("{}")
    with pytest.raises(ValueError, match=r"suffix '.json'"):
        TablePool(tmp_path / "t.json")
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        TablePool(tmp_path / "missing.csv")
    pd.DataFrame({"path": [*paths, "chips/none.tif"], "lon": 0.0, "lat": 0.0}).to_csv(
        tmp_path / "gone.csv", index=False
    )
    with pytest.raises(FileNotFoundError, match=r"1 file\(s\).*none.tif"):
        TablePool(tmp_path / "gone.csv", all_bands=["a", "b", "c", "d"])
