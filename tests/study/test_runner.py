"""Running a study: outputs, interruption, resume, failures, its directory."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main


def _done(root: Path) -> dict[str, tuple[int, str]]:
    """Step id -> (mtime_ns, content) of every DONE.json."""
    return {
        p.parent.name: (p.stat().st_mtime_ns, p.read_text())
        for p in sorted((root / "steps").glob("*/DONE.json"))
    }


def test_study_interrupt_resume_outputs_and_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_study(tmp_path, baseline=True)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    args = ["--config", str(path), "--executor", "inprocess"]

    # interrupted after the first pretraining (compose, diversity, pretrain)
    assert main([*args, "--max-steps", "3"]) == 3
    first = _done(root)
    assert sorted(first) == [
        "compose-europe",
        "diversity-europe",
        "pretrain-europe-s0",
    ]
    assert (root / "steps/pretrain-europe-s0/checkpoints/last.ckpt").is_file()
    # a step killed half-way under another configuration is cleared and rerun
    stale = root / "steps/export-europe-s0"
    stale.mkdir(parents=True, exist_ok=True)
    (stale / "STARTED.json").write_text(json.dumps({"hash": "old"}))
    (stale / "junk.bin").write_text("partial output")

    # the rerun skips what finished and completes the study
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pretrain-europe-s0" in out and "already done" in out
    second = _done(root)
    for step, marker in first.items():
        assert second[step] == marker  # not recomputed
    assert len(second) == 13
    assert not (stale / "junk.bin").exists()

    # every output
    results = pd.read_csv(root / "results.csv")
    assert results["composition"].tolist() == ["europe", "eu_af", "no_pretraining"]
    for column in (
        "spectral_entropy",
        "continent_entropy",
        "landcover_mean",
        "landcover_std",
        "mean_score",
        "rank",
    ):
        assert column in results.columns
    assert results["spectral_entropy"][:2].gt(0).all()
    assert results["continent_entropy"][:2].tolist() == pytest.approx(
        [0.0, 0.693], abs=1e-3
    )
    assert results[["spectral_entropy", "continent_entropy"]].iloc[2].isna().all()
    assert results["landcover_n"].tolist() == [1, 1, 1]  # the baseline is probed
    assert "\n| europe " in (root / "results.md").read_text()
    corr = pd.read_csv(root / "correlation/correlation.csv")
    assert corr["measure"].tolist() == ["spectral_entropy", "continent_entropy"]
    assert corr["note"].str.contains("at least 3").all()  # n = 2: undefined, said so
    assert (root / "maps.png").stat().st_size > 0
    for name in ("europe", "eu_af"):
        assert (root / f"steps/compose-{name}/manifest.parquet").is_file()
        assert (root / f"steps/compose-{name}/map.png").is_file()
        assert (root / f"steps/diversity-{name}/diversity.json").is_file()
        assert (root / f"steps/export-{name}-s0/encoder.pth").is_file()
        assert (root / f"steps/probe-{name}-s0-landcover-r0/config.yaml").is_file()

    # a third run recomputes nothing
    assert main(args) == 0
    assert _done(root) == second

    # a pretraining killed after its last checkpoint continues from it; the
    # steps after it keep their results (their inputs' hashes did not change)
    (root / "steps/pretrain-eu_af-s0/DONE.json").unlink()
    assert main(args) == 0
    log = (root / "steps/pretrain-eu_af-s0/log.txt").read_text()
    assert "continuing from" in log and "--ckpt_path" in log
    resumed = _done(root)
    assert resumed["export-eu_af-s0"] == second["export-eu_af-s0"]
    second = resumed

    # another config in the same directory is refused without --force
    broken = copy.deepcopy(config)
    extra = copy.deepcopy(config["downstream"][0])
    extra["name"] = "broken"
    extra["metric"] = "val_NotLogged"
    broken["downstream"].append(extra)
    path2 = write_study(tmp_path / "broken.yaml", broken)
    args2 = ["--config", str(path2), "--executor", "inprocess"]
    assert main(args2) == 2
    assert "different study config" in capsys.readouterr().err

    # with --force: finished steps are kept, the failing probes are reported with
    # their log, independent steps continue, collect writes partial results
    assert main([*args2, "--force"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "val_NotLogged" in out
    assert "steps/probe-europe-s0-broken-r0/log.txt" in out
    third = _done(root)
    for step, marker in second.items():
        if step != "collect":
            assert third[step] == marker
    assert "probe-eu_af-s0-broken-r0" not in third  # failed, not marked done
    assert (root / "steps/collect/PARTIAL.txt").is_file()
    partial = pd.read_csv(root / "results.csv")
    assert partial["broken_n"].tolist() == [0, 0, 0]
    assert partial["landcover_n"].tolist() == [1, 1, 1]


def test_refuses_other_study_and_non_study_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tiny_study(tmp_path)
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--plan"]) == 0
    other = copy.deepcopy(config)
    other["budget"] = 10
    path2 = write_study(tmp_path / "other.yaml", other)
    assert main(["--config", str(path2), "--plan"]) == 2
    assert "different study config" in capsys.readouterr().err
    assert main(["--config", str(path2), "--plan", "--force"]) == 0
    # a folder with unrelated files
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    assert main(["--config", str(path), "--plan", "--output-dir", str(busy)]) == 2
    assert "holds no study.json" in capsys.readouterr().err
    assert (busy / "notes.txt").read_text() == "mine"


def test_negative_max_steps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_study(tmp_path / "study.yaml", tiny_study(tmp_path))
    assert main(["--config", str(path), "--max-steps", "-1"]) == 2
    assert "max_steps must be >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()
