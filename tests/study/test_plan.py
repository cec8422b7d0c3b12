"""The steps of a study, their hashes and ``study --plan`` (nothing is trained here)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import build_steps, parse_study
from torchgeo_composition.study.__main__ import main as step_main


def test_plan_writes_steps_dependencies_and_commands(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--plan"]) == 0
    root = Path(config["output_dir"])
    plan = json.loads((root / "plan.json").read_text())
    ids = [s["id"] for s in plan]
    assert ids == [
        "compose-europe",
        "diversity-europe",
        "pretrain-europe-s0",
        "export-europe-s0",
        "probe-europe-s0-landcover-r0",
        "compose-eu_af",
        "diversity-eu_af",
        "pretrain-eu_af-s0",
        "export-eu_af-s0",
        "probe-eu_af-s0-landcover-r0",
        "collect",
    ]
    deps = {s["id"]: s["depends_on"] for s in plan}
    assert deps["pretrain-europe-s0"] == ["compose-europe"]
    assert deps["probe-eu_af-s0-landcover-r0"] == ["export-eu_af-s0"]
    assert set(deps["collect"]) >= {"diversity-europe", "probe-europe-s0-landcover-r0"}
    for step in plan:  # every dependency comes first
        assert all(ids.index(d) < ids.index(step["id"]) for d in step["depends_on"])
    lines = (root / "plan.sh").read_text().splitlines()
    assert len(lines) == len(plan)
    assert all("-m torchgeo_composition.study" in line for line in lines)
    assert not list(root.glob("steps/*/DONE.json"))  # nothing ran

    # a line of the plan runs its step; a step whose inputs are not done refuses
    assert step_main([str(root / "steps/probe-europe-s0-landcover-r0")]) == 1
    assert step_main([str(root / "steps/compose-europe")]) == 0
    assert (root / "steps/compose-europe/DONE.json").is_file()
    assert (root / "steps/compose-europe/manifest.parquet").is_file()
    assert step_main([str(tmp_path)]) == 2  # a folder that holds no step


def test_command_line_options_override_the_file(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    path = write_study(tmp_path / "study.yaml", config)
    other = tmp_path / "other"
    args = ["--config", str(path), "--plan", "--output-dir", str(other)]
    assert main([*args, "--budget", "7", "--seeds", "[3]"]) == 0
    ids = [s["id"] for s in json.loads((other / "plan.json").read_text())]
    assert "pretrain-europe-s3" in ids
    assert "budget: 7" in (other / "study.yaml").read_text()
    assert not Path(config["output_dir"]).exists()


def test_hashes_follow_configuration(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    before = {s.id: s.hash for s in build_steps(parse_study(config))}
    changed = copy.deepcopy(config)
    changed["downstream"][0]["model"]["init_args"]["lr"] = 0.1
    after = {s.id: s.hash for s in build_steps(parse_study(changed))}
    same = {k for k in before if before[k] == after[k]}
    assert same == {
        "compose-europe",
        "diversity-europe",
        "pretrain-europe-s0",
        "export-europe-s0",
        "compose-eu_af",
        "diversity-eu_af",
        "pretrain-eu_af-s0",
        "export-eu_af-s0",
    }


def test_clashing_step_names(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    # probe-a-s0-b-s0-c-r0 twice: (a, seed 0, b-s0-c) and (a-s0-b, seed 0, c)
    config["compositions"] = [
        {"name": "a", "composition": "europe"},
        {"name": "a-s0-b", "composition": "africa"},
    ]
    first = config["downstream"][0]
    second = copy.deepcopy(first)
    first["name"], second["name"] = "b-s0-c", "c"
    config["downstream"].append(second)
    with pytest.raises(ValueError, match="duplicate step name 'probe-a-s0-b-s0-c-r0'"):
        build_steps(parse_study(config))


def test_baseline_steps(tmp_path: Path) -> None:
    config = tiny_study(tmp_path, baseline=True)
    steps = {s.id: s for s in build_steps(parse_study(config))}
    export = steps["export-no_pretraining-s0"]
    assert export.kind == "random_encoder" and export.depends_on == ()
    probe = steps["probe-no_pretraining-s0-landcover-r0"]
    assert probe.depends_on == ("export-no_pretraining-s0",)
    assert probe.id in steps["collect"].depends_on
    assert steps["collect"].params["compositions"][-1] == "no_pretraining"
