"""FMoWSentinelDataModule on a tiny FMoW-Sentinel download, directly and by the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.data.fmow_sentinel import CATEGORIES, SPLIT_CSV, make_fmow_sentinel
from torchgeo_composition.cli import main
from torchgeo_composition.datamodules import FMoWSentinelDataModule
from torchgeo_composition.datasets import FMOW_CATEGORIES, FMoWSentinelClassification

CONFIG = (
    Path(__file__).parents[2] / "configs" / "probe" / "fmow_sentinel_linear_probe.yaml"
)
POINTS = [(10.0, 50.0), (25.0, 0.0), (100.0, 30.0), (-100.0, 40.0)]
TINY_SATMAE = [
    {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 16, "depth": 1}
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fmow")
    for seed, split in enumerate(SPLIT_CSV):
        make_fmow_sentinel(root, POINTS, split=split, seed=seed)
    return root


def test_labels_and_locations(root: Path) -> None:
    ds = FMoWSentinelClassification(root, split="val", size=8)
    table = pd.read_csv(root / "val.csv")
    for i in range(len(ds)):
        sample = ds[i]
        assert int(sample["label"]) == FMOW_CATEGORIES.index(table["category"][i])
    assert [ds[i]["continent"] for i in (0, 2, 4, 6)] == [
        "europe",
        "africa",
        "asia",
        "north_america",
    ]
    assert set(CATEGORIES) <= set(FMOW_CATEGORIES) and len(FMOW_CATEGORIES) == 62


def test_batches_are_normalised_like_satmae(root: Path) -> None:
    dm = FMoWSentinelDataModule(root, size=16, batch_size=4)
    assert (dm.num_classes, dm.task_type, dm.bands[8]) == (62, "multiclass", "B8A")
    dm.setup("fit")
    batch = dm.aug(next(iter(dm.val_dataloader())))
    assert batch["image"].shape == (4, 13, 16, 16)
    assert float(batch["image"].min()) >= 0 and float(batch["image"].max()) <= 1
    assert batch["label"].dtype == torch.int64 and len(batch["continent"]) == 4
    assert dm.mean is None  # SatMAE's scaling is not undone by a task
    big = FMoWSentinelDataModule(root, size=16, batch_size=64)
    big.setup("fit")  # 8 training images: one incomplete batch, not none
    assert [len(b["label"]) for b in big.train_dataloader()] == [8]
    standard = FMoWSentinelDataModule(
        root, bands=["B2", "B3"], normalization="standard"
    )
    assert standard.mean is not None and standard.mean.tolist() == pytest.approx(
        [1184.38, 1120.77]
    )


def test_unknown_category(root: Path, tmp_path: Path) -> None:
    make_fmow_sentinel(tmp_path, POINTS[:1], split="train")
    table = pd.read_csv(tmp_path / "train.csv", index_col=0)
    table["category"] = "volcano"
    table.to_csv(tmp_path / "train.csv")
    with pytest.raises(ValueError, match="volcano"):
        FMoWSentinelClassification(tmp_path, on_missing="ignore")


def _fit(root: Path, tmp: Path, *extra: str) -> int:
    return main(
        [
            "fit",
            f"--config={CONFIG}",
            f"--model.init_args.backbones={json.dumps(TINY_SATMAE)}",
            f"--model.init_args.feature_cache={tmp / 'cache'}",
            f"--data.init_args.root={root}",
            "--data.init_args.size=16",
            "--data.init_args.num_workers=0",
            "--data.init_args.batch_size=4",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=2",
            "--trainer.enable_progress_bar=false",
            "--trainer.enable_model_summary=false",
            f"--trainer.default_root_dir={tmp / 'runs'}",
            *extra,
        ]
    )


def test_linear_probe_fit(root: Path, tmp_path: Path) -> None:
    assert _fit(root, tmp_path) == 0
    assert (tmp_path / "runs" / "checkpoints" / "last.ckpt").is_file()
    assert {p.name.split("-")[0] for p in (tmp_path / "cache").iterdir()} == {
        "train",
        "val",
    }


def test_bad_bands_through_the_cli(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _fit(root, tmp_path, "--data.init_args.bands=[B2, B3, B4]") == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "model bands ['B1'" in errors[0]
