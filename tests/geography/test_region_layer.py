import json
import pickle
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.figure import Figure

from torchgeo_composition.geography import (
    CONTINENTS,
    RegionLayer,
    plot_world,
    region_of,
)


def write_biomes(path: Path, crs: str | None = "EPSG:4326") -> Path:
    """Three squares of two 'biomes' near the equator."""
    frame = gpd.GeoDataFrame(
        {
            "biome": ["desert", "forest", "forest"],
            "code": [1, 2, 2],
        },
        geometry=[
            shapely.box(0, 0, 10, 10),
            shapely.box(20, 0, 30, 10),
            shapely.box(-30, -10, -20, 0),
        ],
        crs=crs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "'crs' was not provided"
        frame.to_file(path)  # driver from the suffix
    return path


@pytest.fixture
def biomes(tmp_path: Path) -> Path:
    return write_biomes(tmp_path / "biomes.geojson")


def test_region_of_file(biomes: Path) -> None:
    lon = np.array([5.0, 25.0, -25.0, 15.0, 10.5, 100.0])
    lat = np.array([5.0, 5.0, -5.0, 5.0, 5.0, 50.0])
    result = region_of(lon, lat, biomes, "biome")
    # 15E lies > 500 km from both squares; 10.5E is ~55 km east of the desert.
    assert list(result) == ["desert", "forest", "forest", None, "desert", None]
    near = region_of(15.0, 5.0, biomes, "biome", max_distance_km=600)
    assert near.item() in {"desert", "forest"}
    assert region_of(10.5, 5.0, biomes, "biome", max_distance_km=10).item() is None


def test_region_layer_api(biomes: Path) -> None:
    layer = RegionLayer(str(biomes), "biome", max_distance_km=100)
    assert layer.name == "biome"
    assert layer.values == ("desert", "forest")
    assert layer.normalize("FOREST") == "forest"
    with pytest.raises(ValueError, match="valid: desert, forest"):
        layer.normalize("tundra")
    assert len(layer.geodataframe) == 3
    assert list(layer.assign([5.0, 25.0], [5.0, 5.0])) == ["desert", "forest"]
    assert region_of(5.0, 5.0, layer).item() == "desert"
    fingerprint = layer.fingerprint()
    assert fingerprint == RegionLayer(str(biomes), "biome", 100).fingerprint()
    assert fingerprint != RegionLayer(str(biomes), "code", 100).fingerprint()
    assert fingerprint != RegionLayer(str(biomes), "biome", 50).fingerprint()
    json.dumps(layer.to_dict())
    clone = pickle.loads(pickle.dumps(layer))
    assert list(clone.assign([25.0], [5.0])) == ["forest"]


def test_numeric_attribute_becomes_strings(biomes: Path) -> None:
    layer = RegionLayer(str(biomes), "code")
    assert layer.values == ("1", "2")
    assert layer.assign(5.0, 5.0).item() == "1"


def test_reprojected_layer(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"zone": ["a"]}, geometry=[shapely.box(0, 0, 10, 10)], crs="EPSG:4326"
    ).to_crs("EPSG:3857")
    path = tmp_path / "mercator.gpkg"
    frame.to_file(path, driver="GPKG")
    assert region_of(5.0, 5.0, path, "zone").item() == "a"


def test_continent_layer_default() -> None:
    layer = RegionLayer()
    assert layer.name == "continent"
    assert layer.values == CONTINENTS
    assert layer.normalize("EU") == "europe"
    assert layer.fingerprint().startswith("naturalearth_110m_admin0:continent:500km")
    assert layer.assign(2.35, 48.86).item() == "europe"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.geojson"):
        RegionLayer(str(tmp_path / "nope.geojson"), "biome")
    with pytest.raises(FileNotFoundError, match=r"nope\.geojson"):
        region_of(0.0, 0.0, tmp_path / "nope.geojson", "biome")


def test_missing_attribute_lists_columns(biomes: Path) -> None:
    with pytest.raises(ValueError, match="columns: biome, code"):
        RegionLayer(str(biomes), "ecoregion")
    with pytest.raises(ValueError, match="attribute is required"):
        RegionLayer(str(biomes))
    with pytest.raises(ValueError, match="attribute"):
        RegionLayer(None, "biome")


def test_layer_without_crs(tmp_path: Path) -> None:
    path = write_biomes(tmp_path / "nocrs.shp", crs=None)
    with pytest.raises(ValueError, match="no CRS"):
        RegionLayer(str(path), "biome")


def test_not_a_layer(tmp_path: Path) -> None:
    path = tmp_path / "notes.geojson"
    path.write_text("not json at all")
    with pytest.raises(ValueError, match=r"notes\.geojson"):
        RegionLayer(str(path), "biome")


def test_bad_radius(biomes: Path) -> None:
    with pytest.raises(ValueError, match="max_distance_km"):
        RegionLayer(str(biomes), "biome", max_distance_km=-5)


def test_plot_world(tmp_path: Path, biomes: Path) -> None:
    figure = Figure(figsize=(4, 2))
    ax = figure.add_subplot()
    assert plot_world(ax) is ax
    assert ax.get_xlim() == (-180.0, 180.0)
    assert len(ax.collections) >= 1
    plot_world(figure.add_subplot(), RegionLayer(str(biomes), "biome"), column="biome")
    figure.savefig(tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 0
