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


def test_few_samples_warn_with_the_chance_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backbones = json.dumps([VIT, {"name": "timm:test_resnet"}])
    args = [*DATA, f"--backbones={backbones}", "--bands=[B2,B3,B4,B8]"]
    assert main([*args, f"--output={tmp_path}", "--num_samples=4"]) == 0
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("warning: CKA on 4 samples is inflated")
    assert "(timm:vit_small_patch16_224)" in line and "num_samples" in line
    assert "(4 samples)" in captured.out


def test_enough_samples_give_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    narrow = VIT | {"embed_dim": 8}
    args = [*DATA, "--data.init_args.length=24", "--data.init_args.batch_size=12"]
    args += [f"--backbones={json.dumps([narrow, narrow])}", "--bands=[B2,B3,B4,B8]"]
    assert main([*args, f"--output={tmp_path}", "--num_samples=24"]) == 0
    captured = capsys.readouterr()
    assert "(24 samples)" in captured.out
    assert "warning" not in captured.err


def test_the_library_warns_and_keeps_the_warning(tmp_path: Path) -> None:
    from tests.data.fusion_data import SyntheticFusionDataModule
    from torchgeo_composition.models.fusion.cka_report import (
        CKASampleWarning,
        cka_report,
    )

    with pytest.warns(CKASampleWarning, match="would score about"):
        report = cka_report(
            SyntheticFusionDataModule(size=16),
            [VIT, {"name": "timm:test_resnet"}],
            ["B2", "B3", "B4", "B8"],
            num_samples=3,
            output=tmp_path,
        )
    assert report.num_samples == 3 and report.warning is not None
    assert report.widths[0] == 32
    with pytest.raises(ValueError, match="1 by construction"):
        cka_report(
            SyntheticFusionDataModule(size=16),
            [VIT, VIT],
            ["B2", "B3", "B4", "B8"],
            num_samples=2,
            output=tmp_path,
        )
