"""Bad chips surface early and by name: unreadable, empty, mixed sizes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.data.chips import make_chip_folder, write_chip
from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.datasets import BadSample, ChipFolder


def _truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def test_truncated_geotiff_is_named_when_read_and_by_check_pixels(
    tmp_path: Path,
) -> None:
    root = make_chip_folder(tmp_path, ["europe"], per_continent=3, size=32)
    broken = root / "europe" / "europe_001.tif"
    _truncate(broken)  # its header still opens: the index is built
    pool = ChipFolder(root)
    assert len(pool) == 3
    with pytest.raises(ValueError, match="could not read chip") as err:
        pool[1]
    assert repr(str(broken)) in str(err.value) and repr(str(root)) in str(err.value)
    bad = pool.check_pixels(num_workers=2, raise_error=False)
    assert bad == [BadSample("europe/europe_001", str(broken), bad[0].reason)]
    assert bad[0].reason.startswith("could not read it: RasterioIOError")
    with pytest.raises(ValueError, match=r"1 of 2 samples .*europe_001\.tif"):
        pool.check_pixels(["europe/europe_000", "europe/europe_001"] * 2)
    assert pool.check_pixels(["europe/europe_000", "europe/europe_002"]) == []


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    make_chip_folder(tmp_path, ["asia"], per_continent=2, count=3, size=4)
    nan = np.full((3, 4, 4), np.nan, dtype=np.float32)
    write_chip(tmp_path / "all_nan.tif", 10, 50, crs="EPSG:4326", data=nan)
    nodata = np.full((3, 4, 4), 7, dtype=np.uint16)
    write_chip(tmp_path / "all_nodata.tif", 11, 50, data=nodata, nodata=7)
    return tmp_path


def test_empty_chips_error(empty_root: Path) -> None:
    pool = ChipFolder(empty_root, all_bands=["B1", "B2", "B3"])
    assert len(pool) == 4  # by default they stay in the index, and fail by name
    ids = pool.index()["sample_id"].tolist()
    with pytest.raises(ValueError, match=r"all_nan\.tif.*has no valid pixel.*exclude"):
        pool[ids.index("all_nan")]
    bad = pool.check_pixels(raise_error=False)
    assert sorted(b.sample_id for b in bad) == ["all_nan", "all_nodata"]
    with pytest.raises(ValueError, match=r"2 of 4 samples"):
        pool.check_pixels()


def test_empty_chips_exclude(empty_root: Path) -> None:
    with pytest.warns(UserWarning, match=r"2 of 4 chips .* no valid pixel.*all_nan"):
        pool = ChipFolder(
            empty_root, all_bands=["B1", "B2", "B3"], empty_chips="exclude"
        )
    assert len(pool) == 2 and sorted(pool.excluded_ids) == ["all_nan", "all_nodata"]
    assert set(pool.index()["sample_id"]) == {"asia/asia_000", "asia/asia_001"}
    assert pool.check_pixels() == []
    assert (empty_root / ".tgc_valid.parquet").exists()  # read once, then cached
    with pytest.warns(UserWarning, match="left out"):
        again = ChipFolder(
            empty_root, all_bands=["B1", "B2", "B3"], empty_chips="exclude"
        )
    assert again.excluded_ids == pool.excluded_ids


def test_empty_chips_nan(empty_root: Path) -> None:
    pool = ChipFolder(empty_root, all_bands=["B1", "B2", "B3"], empty_chips="nan")
    ids = pool.index()["sample_id"].tolist()
    assert torch.isnan(pool[ids.index("all_nodata")]["image"]).all()
    assert torch.isfinite(pool[ids.index("asia/asia_000")]["image"]).all()
    with pytest.raises(ValueError, match=r"empty_chips 'drop' is not valid.*exclude"):
        ChipFolder(empty_root, all_bands=["B1", "B2", "B3"], empty_chips="drop")  # type: ignore[arg-type]


def test_mixed_sizes_refused_with_the_size_hint(tmp_path: Path) -> None:
    make_chip_folder(tmp_path, ["europe"], per_continent=2, size=8)
    big = write_chip(tmp_path / "big.tif", 12, 48, size=16, descriptions=S2_BANDS)
    with pytest.raises(ValueError) as err:
        ChipFolder(tmp_path)
    message = str(err.value)
    assert "8x8 px (2 chips" in message and "16x16 px (1 chips" in message
    assert repr(str(big)) in message and "ChipFolder(size=...)" in message
    assert ChipFolder(tmp_path, size=8)[0]["image"].shape == (13, 8, 8)


def test_band_counts_that_differ_are_named(tmp_path: Path) -> None:
    make_chip_folder(tmp_path, ["europe"], per_continent=2)
    odd = write_chip(tmp_path / "odd.tif", 12, 48, count=4)
    with pytest.raises(ValueError) as err:
        ChipFolder(tmp_path)
    message = str(err.value)
    assert "1 of 3 files" in message and f"{str(odd)!r} (4 bands)" in message
    assert os.path.basename(str(odd)) in message
