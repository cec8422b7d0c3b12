"""Bad datamodule input is refused before training, by name."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.data.chips import make_chip_folder
from tests.data.pools import tiny_pool
from tests.data.ssl4eo_s12 import make_ssl4eo_s12
from torchgeo_composition.datamodules import (
    ContinentStratifiedDataModule,
    build_normalization,
)
from torchgeo_composition.datamodules.pool_source import PoolSource
from torchgeo_composition.datasets import (
    ChipFolder,
    SSL4EOS12Pool,
    SyntheticSentinel2Pool,
)

BANDS = ["B2", "B3", "B4"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> SyntheticSentinel2Pool:
    return tiny_pool(tmp_path_factory.mktemp("pool"))


def _dm(pool: Any, **kwargs: Any) -> ContinentStratifiedDataModule:
    args: dict[str, Any] = {"num_samples": 12, "batch_size": 4, "crop_size": None}
    return ContinentStratifiedDataModule(pool, **(args | kwargs))


@pytest.mark.parametrize("kind", ["satmae", "standard"])
@pytest.mark.parametrize(
    ("mean", "std", "message"),
    [
        (
            [1.0, 2.0, 3.0],
            [1.0, 0.0, 1.0],
            r"std must be finite and > 0 .*'B3'.*std=0\.0",
        ),
        ([1.0, 2.0, 3.0], [1.0, -2.0, 1.0], r"std must be finite and > 0 .*std=-2\.0"),
        (
            [1.0, 2.0, 3.0],
            [1.0, math.nan, 1.0],
            r"std must be finite and > 0 .*std=nan",
        ),
        (
            [1.0, math.inf, 3.0],
            [1.0, 1.0, 1.0],
            r"mean must be finite .*'B3'.*mean=inf",
        ),
        ([1.0, 2.0], [1.0, 1.0, 1.0], r"mean has 2 values but bands has 3"),
        ([1.0, 2.0, 3.0], [1.0], r"std has 1 values but bands has 3"),
    ],
)
def test_normalisation_statistics(
    pool: SyntheticSentinel2Pool,
    kind: str,
    mean: list[float],
    std: list[float],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        _dm(pool, bands=BANDS, normalization=kind, mean=mean, std=std)
    with pytest.raises(ValueError, match=message):
        build_normalization(kind, BANDS, mean, std)


def test_bands_named_twice(pool: SyntheticSentinel2Pool) -> None:
    with pytest.raises(ValueError, match=r"bands names \['B4'\] more than once"):
        _dm(pool, bands=["B4", "B3", "B4"])
    with pytest.raises(ValueError, match="more than once"):
        PoolSource(pool, bands=["B2", "B02"])  # an alias of the same band


def test_val_fraction_that_leaves_no_training_sample(
    pool: SyntheticSentinel2Pool,
) -> None:
    dm = _dm(pool, num_samples=6, val_fraction=0.9)  # one sample per continent
    with pytest.raises(ValueError, match=r"val_fraction=0\.9 leaves no training"):
        dm.setup("fit")
    dm.setup("validate")  # validation alone needs no training sample
    assert len(dm.val_dataset) == 6  # type: ignore[arg-type]


def test_check_pixels_names_bad_files_at_setup(tmp_path: Path) -> None:
    root = make_chip_folder(tmp_path, ["europe", "asia"], per_continent=3, size=16)
    broken = root / "asia" / "asia_002.tif"
    with broken.open("r+b") as f:
        f.truncate(broken.stat().st_size // 2)
    chips = ChipFolder(root)
    dm = _dm(
        chips,
        composition={"europe": 1, "asia": 1},
        num_samples=6,
        val_fraction=0,
        check_pixels=True,
    )
    with pytest.raises(ValueError, match=r"check_pixels: 1 of 6 samples.*asia_002"):
        dm.setup("fit")
    unchecked = _dm(
        chips, composition={"europe": 1, "asia": 1}, num_samples=6, val_fraction=0
    )
    unchecked.setup("fit")  # without the check, it surfaces only when read


@pytest.fixture(scope="module")
def seasons_pool(tmp_path_factory: pytest.TempPathFactory) -> SSL4EOS12Pool:
    root = make_ssl4eo_s12(
        tmp_path_factory.mktemp("ssl4eo"),
        [(10.0, 50.0), (-60.0, -10.0), (135.0, -25.0)],
    )
    return SSL4EOS12Pool(root, seasons=1, bands=["B4"], seed=7)


def test_two_seasons_are_not_selected_by_name(tmp_path: Path) -> None:
    root = make_ssl4eo_s12(tmp_path, [(10.0, 50.0)])
    two = SSL4EOS12Pool(root, seasons=2, bands=["B4", "B3"])
    with pytest.raises(ValueError, match=r"cannot select channels .* by name.*seasons"):
        _dm(two, bands=["B4"], composition="europe", num_samples=1)
    dm = _dm(two, composition="europe", num_samples=1, val_fraction=0)
    assert dm.bands == ("B4", "B3", "B4", "B3") and dm.channels is None
    source = PoolSource(two)  # all channels, not the first season's
    source.setup("predict")
    assert source.predict_dataset is not None
    assert source.predict_dataset[0]["image"].shape[0] == 4


def test_epoch_reaches_the_pool_through_the_sampler(
    seasons_pool: SSL4EOS12Pool,
) -> None:
    composition = {"europe": 1, "south_america": 1, "oceania": 1}
    dm = _dm(
        seasons_pool,
        composition=composition,
        num_samples=3,
        val_fraction=0,
        num_workers=1,
        normalization="none",
    )
    dm.setup("fit")
    loader = dm.train_dataloader()
    assert loader.persistent_workers is False  # fresh workers see every epoch
    images = {}
    for epoch in range(4):
        loader.sampler.set_epoch(epoch)  # type: ignore[union-attr]
        assert seasons_pool.epoch == epoch
        batch = next(iter(loader))  # read in a worker process
        expected = []
        for index in loader.sampler:  # type: ignore[union-attr]
            position = dm.train_dataset.positions[index]  # type: ignore[union-attr]
            expected.append(seasons_pool[position]["image"])
        assert torch.equal(batch["image"], torch.stack(expected))
        images[epoch] = batch["image"]
    assert any(not torch.equal(images[0], images[e]) for e in range(1, 4))
    seasons_pool.set_epoch(0)
