"""Compositions with selection strategies: the entropy-controls study."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from tiny_study import tiny_study, write_study

from torchgeo_composition.commands.study import main
from torchgeo_composition.study import build_steps, parse_study

CONFIG = Path(__file__).parents[2] / "configs" / "study" / "entropy_controls.yaml"


def _controls(root: Path) -> dict[str, Any]:
    """The shipped study on a 16 px demo pool, with the tiny study's training."""
    config = yaml.safe_load(CONFIG.read_text())
    tiny = tiny_study(root)
    config["output_dir"] = str(root / "study")
    config["pool"]["init_args"] |= {"root": str(root / "pool"), "size": 16}
    for key in ("pretrain", "downstream"):
        config[key] = tiny[key]
    return config


def test_entropy_controls_study_runs_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _controls(tmp_path)
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 0, (
        capsys.readouterr().err
    )
    root = Path(config["output_dir"])
    plan = {s["id"]: s for s in json.loads((root / "plan.json").read_text())}
    assert plan["compose-africa_matched"]["depends_on"] == ["compose-europe"]
    ids = list(plan)
    assert ids.index("compose-europe") < ids.index("compose-africa_matched")

    curation = pd.read_csv(root / "curation.csv").set_index("composition")
    assert list(curation.index) == [
        "europe",
        "global",
        "global_top",
        "africa",
        "africa_matched",
    ]
    mean = curation["entropy_mean"]
    assert mean["global_top"] > mean["global"]
    pvalue = curation["ks_pvalue_vs_europe"]
    assert pvalue["africa_matched"] > 0.05  # matched to Europe: not told apart
    assert pvalue["africa"] < 0.05  # a random Africa set is
    assert curation.loc["africa_matched", "selection_reference"] == "europe"
    assert "Selection by spectral entropy" in (root / "results.md").read_text()

    steps = root / "steps"
    done = json.loads((steps / "compose-africa_matched" / "DONE.json").read_text())
    outputs = done["outputs"]
    assert outputs["selection"] == "entropy_matched"
    assert outputs["ks_pvalue"] == pytest.approx(pvalue["africa_matched"])
    manifest = pd.read_parquet(outputs["manifest"])
    assert set(manifest["stratum"]) == {"africa"}
    assert "spectral_entropy" in manifest.columns
    # the pretraining datamodule reused the matched set with its reference
    fit = yaml.safe_load((steps / "pretrain-africa_matched-s0/config.yaml").read_text())
    init = fit["data"]["init_args"]
    assert init["selection"] == "entropy_matched"
    assert init["selection_reference"] == str(
        steps / "compose-europe" / "manifest.parquet"
    )
    report = json.loads((steps / "diversity-global_top" / "diversity.json").read_text())
    assert report["settings"]["recipe"] == "default"
    results = pd.read_csv(root / "results.csv")
    assert results["spectral_entropy"].notna().all()
    assert results["landcover_n"].tolist() == [1] * 5


def test_strategy_options_enter_the_hashes_only_when_given(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    default = {s.id: s.hash for s in build_steps(parse_study(config))}
    explicit = copy.deepcopy(config)
    explicit["compositions"] = [
        {"name": "europe", "composition": "europe", "selection": "random"},
        {
            "name": "eu_af",
            "composition": {"europe": 1, "africa": 1},
            "entropy_recipe": None,
        },
    ]
    assert {s.id: s.hash for s in build_steps(parse_study(explicit))} == default
    top = copy.deepcopy(config)
    top["compositions"][0] = {
        "name": "europe",
        "composition": "europe",
        "selection": "entropy_top",
    }
    changed = {s.id: s.hash for s in build_steps(parse_study(top))}
    assert changed["compose-europe"] != default["compose-europe"]
    assert changed["compose-eu_af"] == default["compose-eu_af"]


def test_a_reference_listed_later_is_composed_first(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    config["compositions"] = [
        {
            "name": "af_matched",
            "composition": "africa",
            "selection": "entropy_matched",
            "selection_reference": "europe",
        },
        "europe",
    ]
    steps = build_steps(parse_study(config))
    ids = [s.id for s in steps]
    assert ids.index("compose-europe") < ids.index("compose-af_matched")
    by_id = {s.id: s for s in steps}
    assert by_id["compose-af_matched"].depends_on == ("compose-europe",)
    # the results keep the study order
    assert by_id["collect"].params["compositions"] == ["af_matched", "europe"]


_MATCHED = {"name": "m", "composition": "africa", "selection": "entropy_matched"}


@pytest.mark.parametrize(
    ("compositions", "message"),
    [
        ([{**_MATCHED, "selection_reference": "asia"}, "europe"], "valid choices"),
        ([_MATCHED, "europe"], "selection_reference goes with"),
        (
            [{"name": "e", "composition": "europe", "selection_reference": "m"}],
            "selection_reference goes with",
        ),
        ([{**_MATCHED, "selection_reference": "m"}], "names the composition itself"),
        (
            [
                {**_MATCHED, "selection_reference": "n"},
                {**_MATCHED, "name": "n", "selection_reference": "m"},
            ],
            r"form a cycle \(m -> n -> m\)",
        ),
        (
            [{"name": "t", "composition": "europe", "selection": "entropy_best"}],
            "selection 'entropy_best' is not valid; valid choices",
        ),
        (
            [{"name": "r", "composition": "europe", "selection": "entropy_range"}],
            "entropy_range",
        ),
        (
            [
                {"name": "t", "composition": "europe", "selection": "entropy_top"},
                {
                    "name": "u",
                    "composition": "asia",
                    "selection": "entropy_top",
                    "entropy_recipe": "olmoearth",
                },
            ],
            "same entropy_recipe",
        ),
        (
            [{"name": "t", "composition": "europe", "entropy_recipe": "olmo"}],
            "entropy_recipe must be one of",
        ),
        (
            [{"name": "t", "composition": "europe", "selecton": "entropy_top"}],
            "a composition must be a preset name or a mapping with keys",
        ),
    ],
)
def test_bad_strategies_are_refused_before_any_step(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    compositions: list[Any],
    message: str,
) -> None:
    config = tiny_study(tmp_path)
    config["compositions"] = compositions
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert re.search(message, err), err
    assert not (tmp_path / "study" / "steps").exists()


def test_diversity_recipe_excludes_bins(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)  # diversity.bins: 16
    config["diversity"]["entropy_recipe"] = "olmoearth"
    with pytest.raises(ValueError, match=r"leave diversity\.bins"):
        parse_study(config)
    config["diversity"] = {"entropy_recipe": "olmoearth"}
    study = parse_study(config)
    assert study.diversity.to_dict()["entropy_recipe"] == "olmoearth"
    assert (
        "entropy_recipe" not in parse_study(tiny_study(tmp_path)).to_dict()["diversity"]
    )
