from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from torch.utils.data import DataLoader
from torchgeo.datasets import RasterDataset, stack_samples

from torchgeo_composition.geography import continent_of
from torchgeo_composition.sampling import StratifiedGeoSampler

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

SIZE, RES = 64, 100.0
SITES = {"europe": (10.0, 50.0), "africa": (20.0, 15.0)}  # Germany, Chad


class TinyTiles(RasterDataset):
    filename_glob = "*.tif"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> RasterDataset:
    root = tmp_path_factory.mktemp("tiles")
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    rng = np.random.default_rng(0)
    for name, (lon, lat) in SITES.items():
        x, y = to_merc.transform(lon, lat)
        profile = {
            "driver": "GTiff",
            "height": SIZE,
            "width": SIZE,
            "count": 1,
            "dtype": "uint16",
            "crs": "EPSG:3857",
            "transform": from_origin(x, y, RES, RES),
        }
        with rasterio.open(root / f"{name}.tif", "w", **profile) as dst:
            dst.write(rng.integers(0, 1000, (1, SIZE, SIZE), dtype=np.uint16))
    return TinyTiles(paths=root)


def patch_centres(sampler: StratifiedGeoSampler) -> tuple[np.ndarray, list[str]]:
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    boxes = list(sampler)
    x = np.asarray([(b[0].start + b[0].stop) / 2 for b in boxes])
    y = np.asarray([(b[1].start + b[1].stop) / 2 for b in boxes])
    lon, lat = to_ll.transform(x, y)
    return np.asarray(boxes, dtype=object), list(continent_of(lon, lat))


def test_shares_follow_composition(dataset: RasterDataset) -> None:
    sampler = StratifiedGeoSampler(
        dataset, {"Europe": 3, "AF": 1}, size=16, length=20, seed=0
    )
    assert len(sampler) == 20
    assert sampler.quotas == {"africa": 5, "europe": 15}
    boxes, continents = patch_centres(sampler)
    assert sorted(continents) == ["africa"] * 5 + ["europe"] * 15
    bounds = dataset.index.total_bounds
    for xs, ys, _ in boxes:
        assert xs.stop - xs.start == pytest.approx(16 * RES)
        assert bounds[0] - 1e-6 <= xs.start and xs.stop <= bounds[2] + 1e-6
        assert bounds[1] - 1e-6 <= ys.start and ys.stop <= bounds[3] + 1e-6
    drawn = sampler.draw()
    assert drawn["stratum"].value_counts().to_dict() == {"europe": 15, "africa": 5}


def test_reads_patches_and_is_seeded(dataset: RasterDataset) -> None:
    a = StratifiedGeoSampler(dataset, "europe", size=16, length=4, seed=1)
    b = StratifiedGeoSampler(dataset, "europe", size=16, length=4, seed=1)
    c = StratifiedGeoSampler(dataset, "europe", size=16, length=4, seed=2)
    assert list(a) == list(b)
    assert list(a) != list(c)
    loader = DataLoader(dataset, sampler=a, batch_size=4, collate_fn=stack_samples)
    batch = next(iter(loader))
    assert tuple(batch["image"].shape) == (4, 1, 16, 16)


def test_uncovered_strata(dataset: RasterDataset) -> None:
    with pytest.raises(ValueError, match="covers no part of stratum 'asia'"):
        StratifiedGeoSampler(dataset, "global", size=16, length=10)
    sampler = StratifiedGeoSampler(
        dataset, "global", size=16, length=10, on_shortfall="redistribute"
    )
    assert sampler.quotas["asia"] == 0
    assert sampler.quotas["africa"] + sampler.quotas["europe"] == 10
    uniform = StratifiedGeoSampler(dataset, "uniform", size=16, length=10)
    assert len(list(uniform)) == 10
    with pytest.raises(ValueError, match="length must be an integer > 0"):
        StratifiedGeoSampler(dataset, "europe", size=16, length=0)
    with pytest.raises(ValueError, match="no tile of the dataset is large enough"):
        StratifiedGeoSampler(dataset, "europe", size=1000, length=3)


def test_tile_split_by_coastline(tmp_path: Path) -> None:
    # One 64 km tile over the Strait of Gibraltar (UTM 30N): Spain and Morocco.
    x, y = Transformer.from_crs(4326, 32630, always_xy=True).transform(-5.5, 35.9)
    profile = {
        "driver": "GTiff",
        "height": 64,
        "width": 64,
        "count": 1,
        "dtype": "uint8",
        "crs": "EPSG:32630",
        "transform": from_origin(x - 32_000, y + 32_000, 1000, 1000),
    }
    with rasterio.open(tmp_path / "strait.tif", "w", **profile) as dst:
        dst.write(np.ones((1, 64, 64), dtype=np.uint8))
    dataset = TinyTiles(paths=tmp_path)
    sampler = StratifiedGeoSampler(dataset, {"europe": 1, "africa": 1}, 4, 200)
    assert set(sampler.areas) == {"africa", "europe"}
    drawn = sampler.draw()
    to_ll = Transformer.from_crs(32630, 4326, always_xy=True)
    lon, lat = to_ll.transform(drawn["x"].to_numpy(), drawn["y"].to_numpy())
    found = continent_of(lon, lat, max_distance_km=0)
    assert list(found) == drawn["stratum"].tolist()
    assert drawn["stratum"].value_counts().to_dict() == {"europe": 100, "africa": 100}
