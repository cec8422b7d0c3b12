from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

from torchgeo_composition.geography import (
    bounds_center_lonlat,
    continent_of,
    raster_center_lonlat,
)


def write_chip(path: Path, crs: str | None, x0: float, y0: float) -> Path:
    profile = {
        "driver": "GTiff",
        "height": 16,
        "width": 16,
        "count": 2,
        "dtype": "uint16",
        "transform": from_origin(x0, y0, 10.0, 10.0),
    }
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((2, 16, 16), dtype="uint16"))
    return path


def test_utm_chip_centre(tmp_path: Path) -> None:
    # UTM 33N chip whose centre is (easting 500000, northing 5000000)
    path = write_chip(tmp_path / "chip.tif", "EPSG:32633", 499_920.0, 5_000_080.0)
    lon, lat = raster_center_lonlat(path)
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    want_lon, want_lat = to_lonlat.transform(500_000.0, 5_000_000.0)
    assert lon == pytest.approx(want_lon, abs=1e-9)
    assert lat == pytest.approx(want_lat, abs=1e-9)
    assert lon == pytest.approx(15.0, abs=1e-6)
    assert continent_of(lon, lat).item() == "europe"


def test_raster_without_crs(tmp_path: Path) -> None:
    path = write_chip(tmp_path / "nocrs.tif", None, 0.0, 0.0)
    with pytest.raises(ValueError, match=r"nocrs\.tif.*no CRS"):
        raster_center_lonlat(path)


def test_not_a_raster(tmp_path: Path) -> None:
    path = tmp_path / "readme.tif"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a raster"):
        raster_center_lonlat(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.tif"):
        raster_center_lonlat(tmp_path / "missing.tif")


def test_bounds_center_vectorised() -> None:
    bounds = np.array(
        [
            [499_920.0, 4_999_920.0, 500_080.0, 5_000_080.0],
            [600_000.0, 4_000_000.0, 600_960.0, 4_000_960.0],
        ]
    )
    lon, lat = bounds_center_lonlat(bounds, 32633)
    assert lon.shape == (2,) and lat.shape == (2,)
    to_lonlat = Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True)
    want = to_lonlat.transform([500_000.0, 600_480.0], [5_000_000.0, 4_000_480.0])
    np.testing.assert_allclose(lon, want[0])
    np.testing.assert_allclose(lat, want[1])
    one_lon, one_lat = bounds_center_lonlat((0.0, 0.0, 2.0, 2.0), "EPSG:4326")
    assert (float(one_lon), float(one_lat)) == (1.0, 1.0)
    # a geographic box crossing the antimeridian
    lon, _ = bounds_center_lonlat((179.0, 0.0, -179.0, 1.0), "EPSG:4326")
    assert float(lon) == pytest.approx(180.0) or float(lon) == pytest.approx(-180.0)


@pytest.mark.parametrize(
    ("bounds", "crs", "match"),
    [
        ((0.0, 0.0, 1.0), "EPSG:4326", "shape"),
        ((0.0, float("nan"), 1.0, 1.0), "EPSG:4326", "finite"),
        ((0.0, 2.0, 1.0, 1.0), "EPSG:4326", "bottom <= top"),
        ((0.0, 0.0, 1.0, 1.0), "EPSG:999999", "crs"),
        ((0.0, 0.0, 1.0, 1.0), None, "crs"),
    ],
)
def test_bad_bounds(bounds: tuple[float, ...], crs: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        bounds_center_lonlat(bounds, crs)
