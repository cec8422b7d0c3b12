"""A study accepts any pool, with a metadata column as strata and filters."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tiny_study import tiny_study, write_study

from tests.data.chips import LAND_POINTS
from tests.data.fmow_sentinel import make_fmow_sentinel
from torchgeo_composition.commands.study import main
from torchgeo_composition.study import build_steps, parse_study

POINTS = [p for points in LAND_POINTS.values() for p in points]


def _fmow_study(root: Path) -> dict[str, Any]:
    """The tiny study on an FMoW-Sentinel pool, strata = categories."""
    config = tiny_study(root)
    config["pool"] = {
        "class_path": "torchgeo_composition.datasets.FMoWSentinelPool",
        "init_args": {
            "root": str(make_fmow_sentinel(root / "fmow", POINTS)),
            "size": 16,
        },
    }
    config["compositions"] = [
        "airport",  # a value of the stratify_by column
        {"name": "ports_dams", "composition": {"port": 1, "dam": 1}},
    ]
    config["budget"] = 6
    config["stratify_by"] = "category"
    config["filters"] = {"image_id": "< 100"}
    return config


def test_study_composes_and_measures_a_metadata_pool_by_category(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _fmow_study(tmp_path)
    root = Path(config["output_dir"])
    path = write_study(tmp_path / "study.yaml", config)
    args = ["--config", str(path), "--executor", "inprocess"]
    assert main(args) == 0, capsys.readouterr().err
    step = root / "steps" / "compose-airport"
    manifest = pd.read_parquet(step / "manifest.parquet")
    assert len(manifest) == 6
    assert set(manifest["stratum"]) == {"airport"}
    assert manifest["sample_id"].str.endswith("_0").all()  # image_id < 100
    summary = json.loads((step / "manifest.summary.json").read_text())
    assert summary["stratify_by"] == "category"
    assert summary["filters"] == {"image_id": "< 100"}
    done = json.loads((root / "steps/diversity-airport/DONE.json").read_text())
    assert done["outputs"]["spectral_entropy"] >= 0  # constant fixture bands
    results = pd.read_csv(root / "results.csv")
    assert results["composition"].tolist() == ["airport", "ports_dams"]
    assert results["landcover_n"].tolist() == [1, 1]
    # the pretraining datamodule draws the same set: same strata and filters
    plan = {s.id: s for s in build_steps(parse_study(config))}
    data = plan["pretrain-airport-s0"].params["config"]
    assert data["stratify_by"] == "category"
    assert data["filters"] == {"image_id": "< 100"}


def test_selection_options_enter_the_hashes_only_when_given(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    default = {s.id: s.hash for s in build_steps(parse_study(config))}
    explicit = copy.deepcopy(config)
    explicit["stratify_by"] = None
    explicit["filters"] = None
    assert {s.id: s.hash for s in build_steps(parse_study(explicit))} == default
    assert "stratify_by" not in parse_study(explicit).to_dict()
    filtered = copy.deepcopy(config)
    filtered["filters"] = "lat > 0"
    changed = {s.id: s.hash for s in build_steps(parse_study(filtered))}
    assert changed["compose-europe"] != default["compose-europe"]
    assert changed["pretrain-europe-s0"] != default["pretrain-europe-s0"]


def test_a_stratum_value_needs_stratify_by(tmp_path: Path) -> None:
    config = _fmow_study(tmp_path)
    del config["stratify_by"]
    with pytest.raises(ValueError, match="unknown composition 'airport'"):
        parse_study(config)


def test_a_value_the_column_lacks_is_refused_before_any_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _fmow_study(tmp_path)
    config["compositions"] = ["airprot"]
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "'airprot', which is not a value of column 'category'" in err
    assert "airport, crop_field, dam, port" in err
    assert not (Path(config["output_dir"]) / "steps" / "compose-airprot").exists()
    config["compositions"] = ["airport"]
    config["filters"] = {"cloud_cover": "< 10"}  # FMoW-Sentinel has no such column
    path = write_study(tmp_path / "study.yaml", config)
    assert main(["--config", str(path), "--executor", "inprocess"]) == 2
    assert "filters names column 'cloud_cover'" in capsys.readouterr().err
