"""The study measures the configured diversity measures: columns and correlations."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from tiny_study import tiny_study, write_study

from torchgeo_composition.study import build_steps, load_study, run_step


def test_one_column_and_one_correlation_per_configured_measure(tmp_path: Path) -> None:
    config = tiny_study(tmp_path)
    config["diversity"] = {
        "batch_size": 16,
        "measures": [
            {"class_path": "SpectralEntropy", "init_args": {"bins": 16}},
            "study_hooks.Brightness",
        ],
    }
    study = load_study(write_study(tmp_path / "study.yaml", config))
    steps = build_steps(study)
    for step in steps:  # the compositions and their diversity; no training
        if step.kind in ("compose", "diversity"):
            assert run_step(step, "inprocess").status == "done"
    assert run_step(steps[-1], "inprocess", partial=True).status == "partial"

    root = Path(config["output_dir"])
    done = json.loads((root / "steps/diversity-eu_af/DONE.json").read_text())
    for name in ("spectral_entropy", "brightness"):
        assert done["outputs"][name] > 0
        assert done["outputs"][f"{name}_std"] >= 0
    report = json.loads((root / "steps/diversity-eu_af/diversity.json").read_text())
    assert report["measures"]["spectral_entropy"]["bins"] == 16

    results = pd.read_csv(root / "results.csv")
    measures = ["spectral_entropy", "brightness", "continent_entropy"]
    assert results.columns.tolist()[:4] == ["composition", *measures]
    assert results[measures].notna().all().all()
    corr = pd.read_csv(root / "correlation/correlation.csv")
    assert corr["measure"].tolist() == measures
