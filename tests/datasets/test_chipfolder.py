import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.chips import make_chip_folder, write_chip
from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.datasets import ChipFolder, PoolDataset, indexing


def test_utm_uint16(tmp_path: Path) -> None:
    root = make_chip_folder(tmp_path, ["europe", "africa"], per_continent=2)
    ds = ChipFolder(root)
    assert isinstance(ds, PoolDataset)
    assert len(ds) == 4
    index = ds.index()
    assert list(index.columns) == ["sample_id", "path", "lon", "lat"]
    assert index["sample_id"].tolist()[0] == "africa/africa_000"
    assert index["lon"].dtype == np.float64
    row = index.set_index("sample_id").loc["europe/europe_000"]
    assert row["lon"] == pytest.approx(10.0, abs=1e-6)
    assert row["lat"] == pytest.approx(50.0, abs=1e-6)
    sample = ds[2]
    assert sample["image"].dtype == torch.float32
    assert sample["image"].shape == (13, 8, 8)
    assert float(sample["lon"]) == pytest.approx(10.0, abs=1e-4)


def test_epsg4326_float32_band_subset(tmp_path: Path) -> None:
    data = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    write_chip(tmp_path / "a.tif", 2.35, 48.85, crs="EPSG:4326", data=data)
    ds = ChipFolder(tmp_path, bands=["B3", "B1"], all_bands=["B1", "B2", "B3"])
    assert ds.bands == ("B3", "B1")
    image = ds[0]["image"]
    assert torch.equal(image[0], torch.from_numpy(data[2]))
    assert torch.equal(image[1], torch.from_numpy(data[0]))
    lon, lat = ds.index().loc[0, ["lon", "lat"]]
    assert (lon, lat) == pytest.approx((2.35, 48.85), abs=1e-9)


def test_nodata_and_nan_filled(tmp_path: Path) -> None:
    ints = np.full((1, 4, 4), 7, dtype=np.uint16)
    ints[0, 0, 0] = 0
    write_chip(tmp_path / "i.tif", 10, 50, data=ints, nodata=0)
    floats = np.ones((1, 4, 4), dtype=np.float32)
    floats[0, 1, 1] = np.nan
    floats[0, 2, 2] = -9999
    write_chip(tmp_path / "f.tif", 11, 50, data=floats)
    ds = ChipFolder(tmp_path, all_bands=["B1"], fill_value=-1.0, nodata=None)
    f, i = ds[0]["image"], ds[1]["image"]  # sorted: f.tif, i.tif
    assert i[0, 0, 0] == -1 and i[0, 1, 1] == 7  # file nodata tag used
    assert f[0, 1, 1] == -1 and f[0, 2, 2] == -9999 and not torch.isnan(f).any()
    ds = ChipFolder(tmp_path, all_bands=["B1"], nodata=-9999)  # explicit nodata
    assert ds[0]["image"][0, 2, 2] == 0 and ds[0]["image"][0, 1, 1] == 0


def test_resize_on_read(tmp_path: Path) -> None:
    make_chip_folder(tmp_path, ["asia"], per_continent=1, size=8)
    ds = ChipFolder(tmp_path, size=4)
    assert ds[0]["image"].shape == (13, 4, 4)


def test_index_cache_hit_and_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_chip_folder(tmp_path, ["europe"], per_continent=2)
    ChipFolder(root)
    cache = root / ".tgc_index.parquet"
    assert cache.exists()
    calls = []
    import torchgeo_composition.datasets.chips as chips

    real = chips.read_raster_headers

    def spy(paths, num_workers=None, descriptions=False):  # type: ignore[no-untyped-def]
        calls.append(len(paths))
        return real(paths, num_workers, descriptions)

    monkeypatch.setattr(chips, "read_raster_headers", spy)
    assert len(ChipFolder(root)) == 2
    assert calls == []  # cache hit
    write_chip(root / "europe" / "new.tif", 12, 48, descriptions=S2_BANDS)
    assert len(ChipFolder(root)) == 3
    assert calls == [3]  # rebuilt
    os.utime(root / "europe" / "new.tif", ns=(1, 1))
    ChipFolder(root)
    assert calls == [3, 3]  # mtime change -> rebuilt
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no chip"):
        ChipFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        ChipFolder(tmp_path / "missing")


def test_not_a_raster(tmp_path: Path) -> None:
    write_chip(tmp_path / "good.tif", 10, 50)
    (tmp_path / "bad.tif").write_text("hello")
    with pytest.raises(ValueError, match=r"bad\.tif.*not a readable raster"):
        ChipFolder(tmp_path)


def test_raster_without_crs(tmp_path: Path) -> None:
    write_chip(tmp_path / "nocrs.tif", 10, 50, crs=None)
    with pytest.raises(ValueError, match=r"nocrs\.tif.*has no CRS"):
        ChipFolder(tmp_path)


def test_unknown_band(tmp_path: Path) -> None:
    write_chip(tmp_path / "a.tif", 10, 50, descriptions=S2_BANDS)
    with pytest.raises(ValueError, match=r"'B99'.*valid choices.*B12"):
        ChipFolder(tmp_path, bands=["B2", "B99"])


def test_band_count_mismatch(tmp_path: Path) -> None:
    write_chip(tmp_path / "a.tif", 10, 50, count=3)
    with pytest.raises(ValueError, match=r"a\.tif.*3 bands.*all_bands"):
        ChipFolder(tmp_path, all_bands=S2_BANDS)


def test_centre_out_of_range(tmp_path: Path) -> None:
    write_chip(tmp_path / "far.tif", 200.0, 50.0, crs="EPSG:4326")
    with pytest.raises(ValueError, match=r"far\.tif.*lon=200"):
        ChipFolder(tmp_path)


def test_fill_value_must_be_finite(tmp_path: Path) -> None:
    write_chip(tmp_path / "a.tif", 10, 50)
    with pytest.raises(ValueError, match="fill_value"):
        ChipFolder(tmp_path, fill_value=float("nan"))


def test_process_pool_indexing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_chip_folder(tmp_path / "pool", ["europe", "oceania"], per_continent=3)
    threads = ChipFolder(root, index_workers=2).index()
    (root / ".tgc_index.parquet").unlink()
    monkeypatch.setattr(indexing, "PROCESS_THRESHOLD", 1)
    processes = ChipFolder(root, index_workers=2).index()
    assert processes.equals(threads)
    (root / "zz_bad.tif").write_text("not a raster")
    with pytest.raises(ValueError, match=r"zz_bad\.tif"):
        ChipFolder(root, index_workers=2)
