"""GeoBenchDataModule on the GEO-Bench v1 fixture, directly and through the CLI."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import pytest
import torch

from torchgeo_composition.cli import main
from torchgeo_composition.datamodules import GeoBenchDataModule
from torchgeo_composition.datasets.geobench_fixture import make_geobench

PROBES = Path(__file__).parents[2] / "configs" / "probe"
TINY_SATMAE = [
    {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 16, "depth": 1}
]
TASKS = ["m-eurosat", "m-brick-kiln", "m-pv4ger", "m-cashew-plant"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_geobench(tmp_path_factory.mktemp("geobench"), TASKS, num_samples=8)


def _batch(dm: GeoBenchDataModule, split: str = "train") -> dict[str, Any]:
    dm.setup("fit" if split != "test" else "test")
    loader = {"train": dm.train_dataloader, "test": dm.test_dataloader}[split]()
    return dict(dm.aug(next(iter(loader))))


def test_classification_batches(root: Path) -> None:
    dm = GeoBenchDataModule(root, "m-brick-kiln", batch_size=4)
    assert (dm.num_classes, dm.task_type, len(dm.bands)) == (2, "multiclass", 13)
    batch = _batch(dm)
    assert batch["image"].shape == (4, 13, 16, 16)
    assert batch["label"].shape == (4,) and batch["label"].dtype == torch.int64
    expected = ["africa", "asia", "europe", "north_america"]  # training is shuffled
    assert sorted(batch["continent"]) == expected
    assert sorted(batch["lon"].tolist()) == [-100.0, 10.0, 25.0, 100.0]
    # standard normalisation with band_stats.json: about zero mean, unit std
    assert float(batch["image"].mean().abs()) < 0.5
    assert dm.mean is not None and dm.mean.shape == (13,)


def test_segmentation_batches(root: Path) -> None:
    dm = GeoBenchDataModule(root, "m-cashew-plant", batch_size=2, bands=["B4", "B8"])
    assert (dm.num_classes, dm.task_type) == (7, "segmentation")
    batch = _batch(dm)
    assert batch["image"].shape == (2, 2, 16, 16)
    assert batch["mask"].shape == (2, 16, 16) and batch["mask"].dtype == torch.int64
    assert set(batch["continent"]) <= {"europe", "africa", "asia", "north_america"}


def test_satmae_normalisation_and_few_shot(root: Path) -> None:
    dm = GeoBenchDataModule(
        root, "m-eurosat", partition="0.50x_train", normalization="satmae"
    )
    batch = _batch(dm)
    assert len(batch["image"]) == 2  # half of the 4 training samples
    assert float(batch["image"].min()) >= 0 and float(batch["image"].max()) <= 1
    assert dm.mean is None and dm.std is None  # nothing for a task to undo
    assert torch.isnan(batch["lon"]).all() and batch["continent"] == ["", ""]


def test_index_gives_locations(root: Path) -> None:
    index = GeoBenchDataModule(root, "m-pv4ger").index("test")
    assert list(index.columns) == ["sample_id", "path", "lon", "lat", "continent"]
    assert index["continent"].tolist() == ["europe", "africa"]  # ids 6 and 7


def _error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert code == 2, stderr
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def _fit_args(
    root: Path, tmp: Path, config: str = "geobench_linear_probe"
) -> list[str]:
    return [
        "fit",
        f"--config={PROBES / (config + '.yaml')}",
        f"--model.init_args.backbones={json.dumps(TINY_SATMAE)}",
        f"--data.init_args.root={root}",
        "--data.init_args.num_workers=0",
        "--data.init_args.batch_size=4",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=1",
        "--trainer.limit_val_batches=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={tmp / 'runs'}",
    ]


def _crafted(root: Path, tmp: Path) -> Path:
    copy = tmp / "copy" / "m-eurosat"
    source = root / "classification_v1.0" / "m-eurosat"
    copy.mkdir(parents=True)
    for path in source.iterdir():
        copy.joinpath(path.name).write_bytes(path.read_bytes())
    marker = tmp / "pwned"

    class CreatesAFile:
        def __reduce__(self) -> tuple[Any, ...]:
            return (open, (str(marker), "w"))

    with h5py.File(copy / "id_0000.hdf5", "a") as f:
        f.attrs["pickle"] = str(pickle.dumps({"label": CreatesAFile()}))
    return copy.parent


BAD: list[tuple[str, Callable[[Path, Path], list[str]], str]] = [
    ("unknown task", lambda r, t: ["--data.init_args.task=m-eurosatt"], "'m-eurosat'"),
    (
        "unknown partition",
        lambda r, t: ["--data.init_args.partition=0.3x_train"],
        "valid choices are ['0.01x_train'",
    ),
    (
        "crafted pickle",
        lambda r, t: [f"--data.init_args.root={_crafted(r, t)}"],
        "io.open, which is not one of the types",
    ),
    (
        "model bands of another task",
        lambda r, t: [
            "--data.init_args.task=m-pv4ger",
            "--model.init_args.num_classes=2",
        ],
        "model bands ['B1'",
    ),
    (
        "bands SatMAE cannot take",
        lambda r, t: [
            "--data.init_args.task=m-pv4ger",
            "--model.init_args.bands=[Red, Green, Blue]",
        ],
        "B2",
    ),
]


@pytest.mark.parametrize(
    ("extra", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_through_the_cli(
    root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: Callable[[Path, Path], list[str]],
    expected: str,
) -> None:
    line = _error_line([*_fit_args(root, tmp_path), *extra(root, tmp_path)], capsys)
    assert expected in line
    assert not (tmp_path / "pwned").exists()


def test_missing_band_stats_through_the_cli(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _crafted(root, tmp_path)
    (copy / "m-eurosat" / "band_stats.json").unlink()
    line = _error_line([*_fit_args(copy, tmp_path)], capsys)
    assert "has no band_stats.json" in line


def test_linear_probe_fit(root: Path, tmp_path: Path) -> None:
    args = [
        *_fit_args(root, tmp_path),
        f"--model.init_args.feature_cache={tmp_path / 'c'}",
    ]
    assert main(args) == 0
    assert (tmp_path / "runs" / "checkpoints" / "last.ckpt").is_file()
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "c").iterdir()) == [
        "train",
        "val",
    ]


def test_segmentation_probe_fit(root: Path, tmp_path: Path) -> None:
    args = _fit_args(root, tmp_path, "geobench_segmentation_probe")
    assert main([*args, "--model.init_args.decoder_channels=8"]) == 0
    assert (tmp_path / "runs" / "checkpoints" / "last.ckpt").is_file()


def test_a_later_sample_missing_a_band_fails_at_setup(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _crafted(root, tmp_path)  # its first sample is refused: restore it
    source = root / "classification_v1.0" / "m-eurosat"
    for name in ("id_0000.hdf5", "id_0003.hdf5"):
        (copy / "m-eurosat" / name).write_bytes((source / name).read_bytes())
    with h5py.File(copy / "m-eurosat" / "id_0003.hdf5", "a") as f:
        del f["04 - Red"]
    dm = GeoBenchDataModule(copy, "m-eurosat")  # reads the first sample only
    assert dm.bands[3] == "B4"
    line = _error_line(_fit_args(copy, tmp_path), capsys)
    assert "id_0003.hdf5" in line and "'04 - Red'" in line
