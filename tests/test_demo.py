from pathlib import Path

import pandas as pd
import pytest

from torchgeo_composition import demo


def test_demo_builds_both_sets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Run from an empty folder: the configs are found in the source tree and every
    # output lands under ./demo_output.
    monkeypatch.chdir(tmp_path)
    assert demo.main(["--no-pretrain"]) == 0
    out = capsys.readouterr().out
    for name in ("europe", "global"):
        manifest = pd.read_parquet(tmp_path / f"demo_output/sets/{name}.parquet")
        assert (tmp_path / f"demo_output/sets/{name}.map.png").stat().st_size > 0
        assert f"demo_output/sets/{name}.parquet" in out
    europe = pd.read_parquet(tmp_path / "demo_output/sets/europe.parquet")
    assert set(europe["stratum"]) == {"europe"}
    assert manifest["stratum"].nunique() == 6  # global: the six inhabited continents


def test_demo_refuses_a_tree_without_configs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"quickstart\.yaml"):
        demo.run(root=tmp_path, pretrain=False)
