"""``study --plan`` and bad study configs (nothing is trained here)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import build_steps, load_study, parse_study
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


def _edit(edit: Callable[[dict[str, Any]], None], tmp_path: Path) -> dict[str, Any]:
    config = tiny_study(tmp_path)
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["compositions"].append("atlantis"),
            "unknown composition 'atlantis'",
        ),
        (lambda c: c["compositions"].append("Europe"), "duplicate composition name"),
        (
            lambda c: c["downstream"].append(copy.deepcopy(c["downstream"][0])),
            "duplicate downstream name 'landcover'",
        ),
        (
            lambda c: c["downstream"][0].pop("data"),
            "downstream 'landcover' has no 'data'",
        ),
        (
            lambda c: c["downstream"][0]["data"].update(class_path="NoSuchDataModule"),
            "downstream 'landcover' config is invalid",
        ),
        (
            lambda c: c["compositions"].append({"composition": {"europe": 1}}),
            "give it a 'name'",
        ),
        (
            lambda c: c["downstream"][0]["model"]["init_args"]["backbones"][0].update(
                checkpoint=None
            ),
            "never uses the pretrained encoder",
        ),
        (lambda c: c.update(budget=0), "budget must be > 0"),
        (lambda c: c.update(colour="red"), "unknown study keys ['colour']"),
        (
            lambda c: c["pretrain"]["model"]["init_args"].update(no_such_arg=1),
            "pretrain config is invalid",
        ),
    ],
)
def test_bad_study_config(
    edit: Callable[[dict[str, Any]], None],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_study(tmp_path / "study.yaml", _edit(edit, tmp_path))
    assert main(["--config", str(path), "--plan"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "study").exists()  # nothing written


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


def test_missing_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_shipped_study_configs_parse(tmp_path: Path) -> None:
    root = Path(__file__).parents[2] / "configs" / "study"
    for name in ("demo.yaml", "pretrain_where.yaml"):
        raw = yaml.safe_load((root / name).read_text())
        study = load_study(root / name, output_dir=str(tmp_path / name))
        steps = build_steps(study)
        assert steps[-1].kind == "collect"
        assert len(study.compositions) == len(raw["compositions"])
    where = load_study(root / "pretrain_where.yaml", output_dir=str(tmp_path / "w"))
    assert [c.name for c in where.compositions] == [
        "africa",
        "asia",
        "europe",
        "north_america",
        "oceania",
        "south_america",
        "global",
    ]
    assert where.budget == 700_000


def test_interrupted_run_is_not_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lightning exits with code 0 after SIGTERM; only the completion marker counts
    from torchgeo_composition.study import lightning

    monkeypatch.setattr(lightning, "_run_cli", lambda args, log, executor: None)
    with pytest.raises(RuntimeError, match="ended without completing"):
        lightning.run_cli(["fit", "--config", "x.yaml"], tmp_path / "log.txt")


def test_baseline_steps(tmp_path: Path) -> None:
    config = tiny_study(tmp_path, baseline=True)
    steps = {s.id: s for s in build_steps(parse_study(config))}
    export = steps["export-no_pretraining-s0"]
    assert export.kind == "random_encoder" and export.depends_on == ()
    probe = steps["probe-no_pretraining-s0-landcover-r0"]
    assert probe.depends_on == ("export-no_pretraining-s0",)
    assert probe.id in steps["collect"].depends_on
    assert steps["collect"].params["compositions"][-1] == "no_pretraining"
    config["compositions"].append({"name": "no_pretraining", "composition": "asia"})
    with pytest.raises(ValueError, match="taken by the baseline"):
        parse_study(config)
