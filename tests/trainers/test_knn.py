"""k-NN probe through the real CLI: fit collects, test classifies and writes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from lightning.pytorch import Trainer

from tests.data.fusion_data import SyntheticFusionDataModule
from tests.trainers.evaluation_data import BANDS, TINY, write_config
from torchgeo_composition.cli import lightning_main, main
from torchgeo_composition.models import FeatureFusion
from torchgeo_composition.trainers import KNNClassificationTask, protocol_model

pytestmark = pytest.mark.filterwarnings(
    "ignore:Found .* in eval mode", "ignore:.*configure_optimizers. returned .None"
)


def _knn(tmp: Path, **args: object) -> dict[str, object]:
    init = {"backbones": [TINY], "bands": BANDS, "num_classes": 6, "k": 5}
    return protocol_model("knn", init | {"feature_cache": str(tmp / "cache")} | args)


def test_fit_then_test_through_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, _knn(tmp_path))
    cli = lightning_main(["fit", f"--config={config}"])
    assert "val_OverallAccuracy" in cli.trainer.callback_metrics
    assert cli.trainer.global_step == 0  # no optimiser step
    entries = sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir())
    assert entries == ["train", "val"]

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("backbones ran although the cache holds the features")

    assert main(["test", f"--config={config}"]) == 0  # a separate run: test entry
    with monkeypatch.context() as m:  # every split cached now: no backbone runs
        m.setattr(FeatureFusion, "backbone_features", boom)
        cli = lightning_main(["test", f"--config={config}"])
    accuracy = float(cli.trainer.callback_metrics["test_OverallAccuracy"])
    folder = Path(cli.trainer.log_dir)
    frame = pd.read_csv(folder / "test_predictions.csv")
    assert len(frame) == round(0.2 * 96)
    assert frame["score"].mean() == pytest.approx(accuracy)
    summary = json.loads((folder / "test_summary.json").read_text())
    assert summary["overall"]["value"] == pytest.approx(accuracy)
    assert summary["overall"]["low"] <= accuracy <= summary["overall"]["high"]


def test_multilabel_knn_through_trainer(tmp_path: Path) -> None:
    task = KNNClassificationTask(
        backbones=[{"name": "timm:test_resnet"}],
        bands=["B2", "B3", "B4", "B8"],
        task="multilabel",
        num_classes=3,
        k=3,
        vote="majority",
    )
    dm = SyntheticFusionDataModule(kind="multilabel", length=12, size=32)
    trainer = Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.test(task, datamodule=dm)
    frame = pd.read_csv(tmp_path / "test_predictions.csv", dtype={"target": str})
    assert len(frame) == 12
    assert set((frame["score"] * 3).round()) <= {0.0, 1.0, 2.0, 3.0}
    assert "test_OverallAccuracy" in trainer.callback_metrics


def test_k_larger_than_train_set_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, _knn(tmp_path, k=500))
    assert main(["fit", f"--config={config}"]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if "error" in x]
    assert len(errors) == 1 and errors[0].startswith("error: ")
    assert "k=500 is larger than the training set (58 samples)" in errors[0]
