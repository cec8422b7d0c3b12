"""Per-region test metrics through the CLI, and the bad-input table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from lightning.pytorch import Trainer
from torch import Tensor
from torch.utils.data import Dataset

from tests.data.fusion_data import SyntheticFusionDataModule
from tests.trainers.evaluation_data import BANDS, TINY, write_config
from torchgeo_composition.cli import lightning_main, main
from torchgeo_composition.geography import CONTINENTS
from torchgeo_composition.trainers import (
    PROTOCOLS,
    FusionSegmentationTask,
    protocol_model,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Found .* in eval mode", "ignore:.*configure_optimizers. returned .None"
)

INIT = {"backbones": [TINY], "bands": BANDS, "num_classes": 6}


def test_linear_probe_per_continent(tmp_path: Path) -> None:
    model = protocol_model(
        "linear", INIT | {"regions": "continent", "min_region_samples": 4}
    )
    config = write_config(tmp_path, model, data={"num_samples": 120})
    assert main(["fit", f"--config={config}"]) == 0
    cli = lightning_main(["test", f"--config={config}"])
    metrics = cli.trainer.callback_metrics
    folder = Path(cli.trainer.log_dir)
    summary = json.loads((folder / "test_summary.json").read_text())
    regions = summary["regions"]
    assert set(CONTINENTS) <= set(regions)  # every continent reported
    assert regions["antarctica"]["count"] == 0  # a region with no test sample
    assert float(metrics["test_num_samples/antarctica"]) == 0.0
    assert "test_OverallAccuracy/antarctica" not in metrics
    assert sum(r["count"] for r in regions.values()) == 24
    for name, entry in regions.items():
        assert float(metrics[f"test_num_samples/{name}"]) == entry["count"]
        if entry["count"] >= 4:
            assert entry["enough"]
            logged = float(metrics[f"test_OverallAccuracy/{name}"])
            assert logged == pytest.approx(entry["value"], abs=1e-6)
        else:  # flagged, never averaged
            assert not entry["enough"] and entry["value"] is None
            assert f"test_OverallAccuracy/{name}" not in metrics
    frame = pd.read_csv(folder / "test_predictions.csv")
    assert frame["region"].value_counts().to_dict() == {
        n: e["count"] for n, e in regions.items() if e["count"]
    }


def test_unknown_protocol() -> None:
    with pytest.raises(ValueError, match=r"protocol='svm' is invalid; valid choices"):
        protocol_model("svm", INIT)
    assert PROTOCOLS == ("linear", "knn", "finetune")


@pytest.mark.parametrize(
    ("model_args", "data", "message"),
    [
        (
            {"regions": "continent"},
            {"locations": False},
            "regions='continent' needs test samples with 'lon' and 'lat'",
        ),
        ({"regions": "continental"}, {}, "regions='continental' is neither"),
        ({"min_region_samples": 0}, {}, "min_region_samples=0 is invalid"),
    ],
)
def test_bad_input_is_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    model_args: dict[str, object],
    data: dict[str, object],
    message: str,
) -> None:
    model = protocol_model("knn", INIT | {"k": 3} | model_args)
    config = write_config(tmp_path, model, data=data)
    assert main(["test", f"--config={config}"]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
    assert len(errors) == 1 and errors[0].startswith("error: ")
    assert message in errors[0]


class _Located(Dataset[dict[str, Tensor]]):
    """Segmentation samples in Europe (even) and Africa (odd)."""

    def __init__(self, base: Dataset[dict[str, Tensor]], length: int) -> None:
        self.base, self.length = base, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        lon, lat = (10.0, 50.0) if i % 2 == 0 else (20.0, 5.0)
        return self.base[i] | {"lon": torch.tensor(lon), "lat": torch.tensor(lat)}


def test_segmentation_per_region(tmp_path: Path) -> None:
    dm = SyntheticFusionDataModule(kind="segmentation", length=8, size=32)
    dm.setup("test")
    dm.test_dataset = _Located(dm.test_dataset, 8)
    dm.setup = lambda stage: None  # type: ignore[method-assign]
    task = FusionSegmentationTask(
        backbones=[{"name": "timm:test_resnet"}],
        bands=["B2", "B3", "B4", "B8"],
        num_classes=3,
        regions="continent",
        min_region_samples=2,
    )
    trainer = Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.test(task, datamodule=dm)
    metrics = trainer.callback_metrics
    assert float(metrics["test_num_samples/europe"]) == 4
    assert {"test_JaccardIndex/europe", "test_Accuracy/africa"} <= set(metrics)
    summary = json.loads((tmp_path / "test_summary.json").read_text())
    assert summary["metric"] == "SampleAccuracy"
    assert summary["regions"]["africa"]["count"] == 4
    frame = pd.read_csv(tmp_path / "test_predictions.csv")
    assert len(frame) == 8 and frame["target"].isna().all()
    assert frame["score"].between(0, 1).all()


def test_knn_on_geobench_per_continent(tmp_path: Path) -> None:
    from torchgeo_composition.datamodules import GeoBenchDataModule
    from torchgeo_composition.datasets.geobench_fixture import make_geobench

    root = make_geobench(tmp_path / "geobench", ["m-brick-kiln"], num_samples=24)
    bands = list(GeoBenchDataModule(root, "m-brick-kiln").bands)
    model = protocol_model(
        "knn",
        {"backbones": [TINY], "bands": bands, "num_classes": 2, "k": 3}
        | {"regions": "continent", "min_region_samples": 1},
    )
    data = {
        "class_path": "torchgeo_composition.datamodules.GeoBenchDataModule",
        "init_args": {"root": str(root), "task": "m-brick-kiln", "batch_size": 4},
    }
    config = write_config(tmp_path, model, data=data)
    args = [f"--config={config}"]
    cli = lightning_main(["test", *args])
    metrics = cli.trainer.callback_metrics
    counts = {
        k.split("/")[1]: float(v)
        for k, v in metrics.items()
        if k.startswith("test_num_samples/")
    }
    assert sum(counts.values()) == len(cli.datamodule.test_dataset)
    assert counts["antarctica"] == 0
    for region, count in counts.items():
        assert (f"test_OverallAccuracy/{region}" in metrics) == (count >= 1)
