"""Downstream tasks x protocols x regions in a study, and the leaderboard export."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from tiny_study import tiny_study, write_study

from tests.data.fmow_sentinel import SPLIT_CSV, make_fmow_sentinel
from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.commands.study import main
from torchgeo_composition.datasets.geobench_fixture import make_geobench
from torchgeo_composition.study import build_steps, load_study, parse_study
from torchgeo_composition.study.leaderboard import LEADERBOARD_COLUMNS

CONFIGS = Path(__file__).parents[2] / "configs" / "study"
POINTS = [(10.0, 50.0), (25.0, 0.0), (100.0, 30.0), (-100.0, 40.0)]
ENCODER = [{"name": "satmae:satmae_vit_tiny_patch8_96", "checkpoint": "{encoder}"}]
TRAINER = {
    "max_epochs": 1,
    "accelerator": "cpu",
    "devices": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 1,
}


def _task(
    name: str, data: dict[str, Any], num_classes: int, repeats: int
) -> dict[str, Any]:
    return {
        "name": name,
        "repeats": repeats,
        "protocols": ["linear", {"name": "knn", "init_args": {"k": 3}}],
        "regions": "continent",
        "min_region_samples": 1,
        "data": data,
        "model": {
            "class_path": "FusionClassificationTask",
            "init_args": {
                "backbones": copy.deepcopy(ENCODER),
                "bands": list(S2_BANDS),
                "num_classes": num_classes,
                "input_normalization": "backbone",
                "lr": 0.01,
            },
        },
        "trainer": copy.deepcopy(TRAINER),
    }


def _study(root: Path) -> dict[str, Any]:
    """The tiny study with GEO-Bench m-brick-kiln and FMoW-Sentinel downstream."""
    geobench = make_geobench(root / "geobench", ["m-brick-kiln"], num_samples=16)
    fmow = root / "fmow"
    for seed, split in enumerate(SPLIT_CSV):
        make_fmow_sentinel(fmow, POINTS, split=split, seed=seed)
    config = tiny_study(root)
    config["downstream"] = [
        _task(
            "brick_kiln",
            {
                "class_path": "GeoBenchDataModule",
                "init_args": {"root": str(geobench), "task": "m-brick-kiln"},
            },
            2,
            1,
        ),
        _task(
            "fmow",
            {
                "class_path": "FMoWSentinelDataModule",
                "init_args": {"root": str(fmow), "size": 16, "batch_size": 4},
            },
            62,
            2,
        ),
    ]
    return config


def test_tasks_protocols_and_regions_give_every_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _study(tmp_path)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 0, (
        capsys.readouterr().err
    )
    steps = {p.name for p in (root / "steps").iterdir() if p.is_dir()}
    assert "probe-europe-s0-fmow-knn-r1" in steps
    assert "probe-eu_af-s0-brick_kiln-linear-r0" in steps
    knn = yaml.safe_load(
        (root / "steps/probe-europe-s0-fmow-knn-r0/config.yaml").read_text()
    )
    assert knn["model"]["class_path"].endswith("KNNClassificationTask")
    assert knn["model"]["init_args"]["k"] == 3
    assert knn["model"]["init_args"]["regions"] == "continent"
    assert knn["trainer"]["max_epochs"] == 1

    results = pd.read_csv(root / "results.csv").set_index("composition")
    assert list(results.index) == ["europe", "eu_af"]
    for task in ("brick_kiln", "fmow"):
        for protocol in ("linear", "knn"):
            head = f"{task}_{protocol}"
            for stat in ("mean", "std", "ci_low", "ci_high", "n", "samples", "rank"):
                assert f"{head}_{stat}" in results.columns
            runs = 2 if task == "fmow" else 1  # 1 seed x the task's repeats
            assert (results[f"{head}_n"] == runs).all()
            assert (results[f"{head}_ci_low"] <= results[f"{head}_mean"] + 1e-9).all()
            assert (results[f"{head}_mean"] <= results[f"{head}_ci_high"] + 1e-9).all()
            # per-continent columns: the fixture's test samples lie on continents
            regional = [c for c in results.columns if c.startswith(f"{head}_europe")]
            assert f"{head}_europe_mean" in regional
    assert results["fmow_knn_samples"].iloc[0] == 8
    assert results["fmow_knn_std"].notna().all()  # over two repeats
    assert (
        results[[f"fmow_knn_{c}_samples" for c in ("europe", "africa")]]
        .sum(axis=1)
        .iloc[0]
        == 4
    )
    for protocol in ("linear", "knn"):
        expected = results[
            [f"brick_kiln_{protocol}_mean", f"fmow_{protocol}_mean"]
        ].mean(axis=1)
        assert results[f"mean_score_{protocol}"].tolist() == pytest.approx(
            expected.tolist()
        )
        assert set(results[f"rank_{protocol}"]) <= {1, 2}
    assert not math.isnan(results["mean_score"].iloc[0])

    by_protocol = pd.read_csv(root / "correlation" / "by_protocol.csv")
    assert set(by_protocol["protocol"]) == {"linear", "knn"}
    assert set(by_protocol["score"]) == {"mean_score_linear", "mean_score_knn"}

    runs = pd.read_csv(root / "runs.csv")
    assert len(runs) == 2 * 2 * (1 + 2)  # compositions x protocols x repeats
    assert not runs[runs["downstream"] == "fmow"]["score"].isna().any()
    board = pd.read_csv(root / "results_and_parameters.csv")
    assert list(board.columns) == list(LEADERBOARD_COLUMNS)
    assert len(board) == 12
    assert set(board["dataset"]) == {"brick_kiln", "fmow"}
    assert set(board["backbone"]) == {"tiny_europe_s0", "tiny_eu_af_s0"}
    assert set(board["decoder"]) == {"linear", "knn"}
    assert set(board["frozen_or_full_ft"]) == {"frozen"}
    assert set(board["Metric"]) == {"Overall_Accuracy"}
    assert set(board["Seed"]) == {0, 1}
    assert set(board["partition name"]) == {"1.00x train"}
    linear = board[board["decoder"] == "linear"]
    assert (linear["lr"] == 0.01).all()
    assert board["test metric"].between(0, 1).all()
    markdown = (root / "results.md").read_text()
    assert "## By protocol and region" in markdown
    assert "fmow_knn/europe" in markdown
    done = json.loads(
        (root / "steps/probe-eu_af-s0-fmow-linear-r0/DONE.json").read_text()
    )
    assert done["outputs"]["regions"]["europe"]["count"] == 2


def test_protocol_keys_enter_the_hashes_only_when_given(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    default = {s.id: s.hash for s in build_steps(parse_study(config))}
    explicit = copy.deepcopy(config)
    for key in ("protocols", "regions", "region_attribute", "min_region_samples"):
        explicit["downstream"][0][key] = None
    assert {s.id: s.hash for s in build_steps(parse_study(explicit))} == default
    probed = copy.deepcopy(config)
    probed["downstream"][0]["protocols"] = ["linear", "knn"]
    ids = [s.id for s in build_steps(parse_study(probed))]
    assert "probe-europe-s0-landcover-knn-r0" in ids
    assert "probe-europe-s0-landcover-r0" not in ids


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"protocols": ["linear", "svm"]}, "protocol='svm' is invalid"),
        ({"protocols": []}, "protocols must be a non-empty list"),
        ({"protocols": ["knn", "knn"]}, "'knn' is listed twice"),
        ({"regions": "continent"}, "regions goes with protocols"),
        (
            {"protocols": [{"name": "knn", "init": {"k": 3}}]},
            "a protocol must be a name",
        ),
        (
            {"protocols": ["linear"], "min_region_samples": 0},
            "min_region_samples=0 is invalid",
        ),
    ],
)
def test_bad_protocols_are_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, Any],
    message: str,
) -> None:
    config = tiny_study(tmp_path)
    config["downstream"][0] |= changes
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert message in err, err


def test_pretrain_where_config_lists_the_paper_tasks() -> None:
    study = load_study(CONFIGS / "pretrain_where.yaml")
    names = [e.name for e in study.downstream]
    assert "fmow_sentinel" in names
    for task in ("m-bigearthnet", "m-brick-kiln", "m-eurosat", "m-so2sat"):
        assert task in names
    protocols = {e.name: [p.name for p in e.protocols or ()] for e in study.downstream}
    assert protocols["fmow_sentinel"] == ["linear", "knn"]
    assert {e.name: e.regions for e in study.downstream}["fmow_sentinel"] == (
        "continent"
    )
