from pathlib import Path

import pytest
from torchgeo.datasets import DatasetNotFoundError

from tests.data.ssl4eo_s12 import make_ssl4eo_s12
from torchgeo_composition.datasets import SSL4EOS12Pool

POINTS = [(10.0, 50.0), (-60.0, -10.0), (135.0, -25.0)]


def test_index_lonlat_and_sample(tmp_path: Path) -> None:
    make_ssl4eo_s12(tmp_path, POINTS)
    pool = SSL4EOS12Pool(tmp_path, split="s2c", bands=["B4", "B3", "B2"])
    assert len(pool) == 3  # not TorchGeo's fixed 251,079
    index = pool.index()
    assert index["sample_id"].tolist() == ["0000000", "0000001", "0000002"]
    assert index["path"][1] == "s2c/0000001"
    for (lon, lat), row in zip(POINTS, index.itertuples(), strict=True):
        assert (row.lon, row.lat) == pytest.approx((lon, lat), abs=1e-6)
    assert (tmp_path / "s2c" / ".tgc_index.parquet").exists()
    sample = pool[1]
    assert sample["image"].shape == (3, 264, 264)
    assert float(sample["lon"]) == pytest.approx(-60.0, abs=1e-4)
    assert pool.bands == ("B4", "B3", "B2")
    assert len(SSL4EOS12Pool(tmp_path).fingerprint()) == 64


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        SSL4EOS12Pool(tmp_path)
    make_ssl4eo_s12(tmp_path, POINTS[:1])
    with pytest.raises(ValueError, match="'B99'"):
        SSL4EOS12Pool(tmp_path, bands=["B99"])
    with pytest.raises(ValueError, match="split"):
        SSL4EOS12Pool(tmp_path, split="s3")  # type: ignore[arg-type]


def test_two_seasons(tmp_path: Path) -> None:
    make_ssl4eo_s12(tmp_path, POINTS[:1], split="s2a")
    pool = SSL4EOS12Pool(tmp_path, split="s2a", seasons=2, bands=["B8", "B4"])
    assert pool.bands == ("B8", "B4", "B8", "B4")
    assert pool[0]["image"].shape == (4, 264, 264)
