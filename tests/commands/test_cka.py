import json
from pathlib import Path

import pandas as pd
import pytest

from torchgeo_composition.commands.cka import main

VIT = {"name": "timm:vit_small_patch16_224", "input_size": 16, "depth": 1}
VIT |= {"embed_dim": 32, "num_heads": 2}
DATA = [
    "--data=tests.data.fusion_data.SyntheticFusionDataModule",
    "--data.init_args.size=16",
]


def test_cka_table_and_heatmap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backbones = [VIT, VIT, {"name": "timm:test_resnet"}]
    code = main(
        [
            *DATA,
            f"--backbones={json.dumps(backbones)}",
            "--bands=[B2,B3,B4,B8]",
            f"--output={tmp_path}",
            "--num_samples=6",
        ]
    )
    assert code == 0
    table = pd.read_csv(tmp_path / "cka.csv", index_col=0)
    assert table.shape == (3, 3)
    assert (table.to_numpy().diagonal() == 1.0).all()
    assert ((table.to_numpy() >= 0) & (table.to_numpy() <= 1 + 1e-6)).all()
    assert (tmp_path / "cka.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| timm:test_resnet")]
    assert len(rows) == 1 and rows[0].rstrip().endswith("1.000 |")
    assert "(6 samples)" in out
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporaries


def test_cka_reads_a_fusion_config(tmp_path: Path) -> None:
    config = tmp_path / "fit.yaml"
    config.write_text(
        json.dumps(
            {
                "model": {
                    "class_path": "FusionClassificationTask",
                    "init_args": {
                        "backbones": [VIT, {"name": "timm:test_resnet"}],
                        "bands": ["B2", "B3", "B4", "B8"],
                        "input_normalization": "backbone",
                    },
                },
                "data": {
                    "class_path": "tests.data.fusion_data.SyntheticFusionDataModule",
                    "init_args": {"size": 16},
                },
                "trainer": {"max_epochs": 1},
            }
        )
    )
    assert main([f"--config={config}", f"--output={tmp_path}", "--num_samples=4"]) == 0
    assert pd.read_csv(tmp_path / "cka.csv", index_col=0).shape == (2, 2)


def test_cka_bad_input_is_one_error_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([*DATA, f"--backbones={json.dumps([VIT])}", "--bands=[B2]"]) == 2
    assert "error: backbones=" in capsys.readouterr().err
    assert main([*DATA, f"--backbones={json.dumps([VIT, VIT])}"]) == 2
    assert "error: bands is missing" in capsys.readouterr().err
