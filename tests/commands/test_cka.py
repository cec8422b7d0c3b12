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
    assert "| timm:test_resnet |" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*"))  # atomic writes leave no temporaries


def test_cka_needs_two_backbones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least two backbones"):
        main([*DATA, f"--backbones={json.dumps([VIT])}", "--bands=[B2,B3,B4,B8]"])
    with pytest.raises(ValueError, match="bands is missing"):
        main([*DATA, f"--backbones={json.dumps([VIT, VIT])}"])
