"""A step that runs again after an interruption keeps the earlier training history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main

PRETRAIN = "steps/pretrain-europe-s0"
PROBE = "steps/probe-europe-s0-landcover-r0"


def _fail_once(marker: Path) -> list[dict[str, Any]]:
    # fails at the start of the second epoch, the first time only
    return [
        {"class_path": "study_hooks.FailOnce", "init_args": {"marker": str(marker)}}
    ]


def _done(step: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((step / "DONE.json").read_text())
    return data


def test_interrupted_pretraining_and_probe_keep_their_earlier_logs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_study(tmp_path)
    config["compositions"] = ["europe"]
    pretrain_trainer = config["pretrain"]["trainer"]
    pretrain_trainer["max_epochs"] = 2
    pretrain_trainer["callbacks"] = _fail_once(tmp_path / "pretrain_failed")
    probe_trainer = config["downstream"][0]["trainer"]
    probe_trainer["max_epochs"] = 2
    probe_trainer["callbacks"] = _fail_once(tmp_path / "probe_failed")
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    args = ["--config", str(path), "--executor", "inprocess"]

    # 1: the pretraining fails in its second epoch, after the first one's checkpoint
    assert main(args) == 1
    assert "pretrain-europe-s0" in capsys.readouterr().out
    first = (root / PRETRAIN / "logs/fit/metrics.csv").read_bytes()
    assert pd.read_csv(root / PRETRAIN / "logs/fit/metrics.csv")["epoch"].max() == 0

    # 2: the pretraining continues from it, its first attempt's logs are kept;
    # the probe fails in its second epoch
    assert main(args) == 1
    pretrain = root / PRETRAIN
    assert (pretrain / "attempts/1/logs/fit/metrics.csv").read_bytes() == first
    log = (pretrain / "log.txt").read_text()
    assert "continuing from" in log and "attempts/1" in log
    final = pd.read_csv(pretrain / "logs/fit/metrics.csv")
    assert final["epoch"].max() == 1  # the resumed run's history is the final one
    assert _done(pretrain)["outputs"]["attempts"] == [str(pretrain / "attempts/1")]
    probe_first = (root / PROBE / "logs/fit/metrics.csv").read_bytes()

    # 3: the probe starts afresh and succeeds; its failed attempt's logs are kept
    assert main(args) == 0
    probe = root / PROBE
    assert (probe / "attempts/1/logs/fit/metrics.csv").read_bytes() == probe_first
    metrics = pd.read_csv(probe / "logs/fit/metrics.csv")
    assert metrics["epoch"].max() == 1
    done = _done(probe)["outputs"]
    assert done["attempts"] == [str(probe / "attempts/1")]
    # the results use the final attempt
    assert done["score"] == metrics["val_OverallAccuracy"].dropna().iloc[-1]
    results = pd.read_csv(root / "results.csv")
    assert results["landcover_mean"].iloc[0] == pytest.approx(done["score"])
