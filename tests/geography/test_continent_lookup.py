import numpy as np
import pytest
import shapely
from pyproj import Geod

from torchgeo_composition.geography import (
    CONTINENTS,
    INHABITED,
    continent_layer,
    continent_of,
)

CITIES = {
    "paris": (2.35, 48.86, "europe"),
    "nairobi": (36.82, -1.29, "africa"),
    "tokyo": (139.69, 35.69, "asia"),
    "sydney": (151.21, -33.87, "oceania"),
    "sao_paulo": (-46.63, -23.55, "south_america"),
    "denver": (-104.99, 39.74, "north_america"),
    "mcmurdo": (166.67, -77.85, "antarctica"),
    # overseas parts follow their country in Natural Earth
    "cayenne": (-52.33, 4.92, "europe"),
    "honolulu": (-157.86, 21.31, "north_america"),
}


def test_constants() -> None:
    assert CONTINENTS == (
        "africa",
        "antarctica",
        "asia",
        "europe",
        "north_america",
        "oceania",
        "south_america",
    )
    assert INHABITED == tuple(c for c in CONTINENTS if c != "antarctica")
    assert continent_layer().values == CONTINENTS


@pytest.mark.parametrize("city", sorted(CITIES))
def test_known_cities(city: str) -> None:
    lon, lat, expected = CITIES[city]
    assert continent_of(lon, lat).item() == expected


def test_vectorised_matches_scalar_and_keeps_shape() -> None:
    lon = np.array([v[0] for v in CITIES.values()])
    lat = np.array([v[1] for v in CITIES.values()])
    result = continent_of(lon, lat)
    assert result.dtype == object and result.shape == lon.shape
    assert list(result) == [v[2] for v in CITIES.values()]
    grid = continent_of(lon.reshape(3, 3), lat.reshape(3, 3))
    assert grid.shape == (3, 3)
    assert list(grid.ravel()) == list(result)
    scalar = continent_of(2.35, 48.86)
    assert scalar.shape == () and scalar.item() == "europe"
    empty = continent_of(np.zeros(0), np.zeros(0))
    assert empty.shape == (0,)


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (-74.006, 40.7128, "north_america"),  # New York City
        (-70.0, 41.5, "north_america"),  # off the coarse Massachusetts coast
        (-9.5, 38.7, "europe"),  # Lisbon coast
        (-10.1, 38.7, "europe"),  # ~50 km off Portugal
        (-5.6, 36.0, "europe"),  # Strait of Gibraltar
    ],
)
def test_coastal_points_resolve(lon: float, lat: float, expected: str) -> None:
    assert continent_of(lon, lat).item() == expected


def test_mid_ocean_is_none() -> None:
    result = continent_of([-150.0, -30.0, 70.0], [0.0, 30.0, -30.0])
    assert list(result) == [None, None, None]


def test_radius_is_respected() -> None:
    # ~128 km west of the vendored Portuguese coastline
    assert continent_of(-11.0, 38.7, max_distance_km=100).item() is None
    assert continent_of(-11.0, 38.7, max_distance_km=150).item() == "europe"
    assert continent_of(-11.0, 38.7).item() == "europe"
    assert continent_of(-10.1, 38.7, max_distance_km=0).item() is None
    assert continent_of(2.35, 48.86, max_distance_km=0).item() == "europe"


def test_radius_is_geodesic() -> None:
    # 300 km due west of Lisbon (geodesic), then bracket the measured distance.
    geod = Geod(ellps="WGS84")
    lon0, lat0 = -9.5, 38.7
    lon, lat, _ = geod.fwd(lon0, lat0, 270.0, 300_000.0)  # 300 km west, at sea
    lookup = continent_layer()._get_lookup()
    _, dist = lookup.nearest(np.array([lon]), np.array([lat]), 1000.0)
    assert 200 < dist[0] <= 300 + 1
    assert continent_of(lon, lat, max_distance_km=dist[0] - 1).item() is None
    assert continent_of(lon, lat, max_distance_km=dist[0] + 1).item() == "europe"


def test_exact_against_shapely_reference() -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(-180, 180, 20_000)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 20_000)))
    frame = continent_layer().geodataframe
    expected = np.full(lon.shape, None, dtype=object)
    for slug, geom in frame.dissolve("continent").geometry.items():
        expected[shapely.intersects_xy(geom, lon, lat)] = slug
    got = continent_of(lon, lat, max_distance_km=0)
    assert (got == expected).all()


def test_seven_seas_is_no_continent() -> None:
    frame = continent_layer().geodataframe
    assert set(frame["continent"]) == set(CONTINENTS)
    assert "Fr. S. Antarctic Lands" not in set(frame["name"])
    # Kerguelen is > 500 km from any continent's land
    assert continent_of(69.5, -49.3).item() is None


@pytest.mark.parametrize(
    ("lon", "lat", "match"),
    [
        (float("nan"), 0.0, "lon"),
        (0.0, float("nan"), "lat"),
        (180.5, 0.0, "lon"),
        (-181.0, 0.0, "lon"),
        (0.0, 91.0, "lat"),
        (0.0, -90.01, "lat"),
        ([0.0, 1.0], [0.0], "same shape"),
        ("x", 0.0, "lon"),
    ],
)
def test_bad_coordinates(lon: object, lat: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        continent_of(lon, lat)  # type: ignore[arg-type]


def test_bad_coordinate_message_names_value() -> None:
    with pytest.raises(ValueError, match=r"lat .*95\.0"):
        continent_of([0.0, 0.0], [0.0, 95.0])


@pytest.mark.parametrize("radius", [-1.0, float("nan"), float("inf")])
def test_bad_radius(radius: float) -> None:
    with pytest.raises(ValueError, match="max_distance_km"):
        continent_of(0.0, 0.0, max_distance_km=radius)


def test_edges_of_the_world() -> None:
    result = continent_of([180.0, -180.0, 0.0, 0.0], [-90.0, -90.0, 90.0, -90.0])
    assert list(result) == ["antarctica", "antarctica", None, "antarctica"]
