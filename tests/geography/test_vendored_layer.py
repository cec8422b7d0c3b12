from pathlib import Path

import geopandas as gpd
import numpy as np

import torchgeo_composition.geography as geography
from torchgeo_composition.geography import CONTINENTS
from torchgeo_composition.geography.regions import (
    CONTINENT_LOOKUP,
    NATURAL_EARTH,
    _build_lookup,
    _load_continent_lookup,
)


def test_vendored_files_ship_with_the_package() -> None:
    assert NATURAL_EARTH.parent == Path(geography.__file__).parent / "data"
    assert NATURAL_EARTH.stat().st_size < 1_000_000
    assert CONTINENT_LOOKUP.exists()
    assert (NATURAL_EARTH.parent / "README.md").read_text().count("public domain")


def test_run_time_code_never_reads_pyogrio_fixtures() -> None:
    package = Path(geography.__file__).parent
    for source in package.glob("*.py"):
        assert "fixtures" not in source.read_text(), source


def test_vendored_columns() -> None:
    frame = gpd.read_file(NATURAL_EARTH)
    assert list(frame.columns) == ["name", "iso_a3", "continent", "geometry"]
    assert frame.crs.to_epsg() == 4326
    assert set(frame["continent"]) == set(CONTINENTS)
    by_name = frame.set_index("name")
    assert by_name.loc["France", "iso_a3"] == "FRA"
    assert by_name.loc["France", "continent"] == "europe"  # incl. French Guiana
    assert by_name.loc["Greenland", "continent"] == "north_america"


def test_prebuilt_grid_matches_a_fresh_build() -> None:
    prebuilt = _load_continent_lookup()
    assert prebuilt is not None, "rerun scripts/vendor_naturalearth.py"
    fresh = _build_lookup(gpd.read_file(NATURAL_EARTH), "continent", CONTINENTS)
    rng = np.random.default_rng(3)
    lon = rng.uniform(-180, 180, 50_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 50_000)))
    np.testing.assert_array_equal(prebuilt._table, fresh._table)
    np.testing.assert_array_equal(
        prebuilt.assign(lon, lat, 300.0), fresh.assign(lon, lat, 300.0)
    )
