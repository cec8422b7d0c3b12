from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
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


def test_seasons_are_seeded_per_sample_and_epoch(tmp_path: Path) -> None:
    make_ssl4eo_s12(tmp_path, POINTS)
    a = SSL4EOS12Pool(tmp_path, bands=["B4"], seed=3)
    b = SSL4EOS12Pool(tmp_path, bands=["B4"], seed=3)
    for i in range(len(a)):  # same seed: same samples, in any process or run
        assert torch.equal(a[i]["image"], b[i]["image"])
    first = [a.seasons_of(i) for i in range(len(a))]
    epochs = []
    for epoch in range(8):
        a.set_epoch(epoch)
        epochs.append([a.seasons_of(i) for i in range(len(a))])
    assert epochs[0] == first  # epoch 0 is the default
    assert len({str(e) for e in epochs}) > 1  # later epochs draw other seasons
    a.set_epoch(5)
    assert [a.seasons_of(i) for i in range(len(a))] == epochs[5]  # reproducible
    other = SSL4EOS12Pool(tmp_path, bands=["B4"], seed=4)
    draws = []
    for epoch in range(8):
        other.set_epoch(epoch)
        draws.append([other.seasons_of(i) for i in range(len(other))])
    assert draws != epochs  # another seed, other draws
    # the pixels are those of the drawn season's band file, resampled to 264 px
    a.set_epoch(2)
    (season,) = a.seasons_of(1)
    with rasterio.open(tmp_path / "s2c" / "0000001" / season / "B4.tif") as src:
        expected = src.read(out_shape=(1, 264, 264)).astype(np.float32)
    assert torch.equal(a[1]["image"], torch.from_numpy(expected))


def test_missing_root_says_what_to_download_and_where(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as err:
        SSL4EOS12Pool(tmp_path / "nowhere", split="s2a")
    message = str(err.value)
    assert "download=True" not in message and "does not download" in message
    assert "s2_l2a.tar.gz.part" in message and str(tmp_path / "nowhere") in message
    with pytest.raises(ValueError, match="seasons must be 1, 2, 3 or 4"):
        SSL4EOS12Pool(tmp_path, seasons=5)  # type: ignore[arg-type]
