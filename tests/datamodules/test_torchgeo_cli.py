from pathlib import Path

import pytest
import yaml
from torchgeo.main import main as torchgeo_main

from tests.data.pools import tiny_pool


def test_torchgeo_fit_print_config_full_class_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny_pool(tmp_path / "pool")
    args = [
        "fit",
        "--print_config",
        "--model=torchgeo.trainers.MoCoTask",
        "--data=torchgeo_composition.datamodules.ContinentStratifiedDataModule",
        "--data.pool=torchgeo_composition.datasets.SyntheticSentinel2Pool",
        f"--data.pool.root={tmp_path / 'pool'}",
        "--data.composition=europe",
        "--data.num_samples=8",
    ]
    with pytest.raises(SystemExit) as exc:
        torchgeo_main(args)
    assert exc.value.code in (0, None)
    config = yaml.safe_load(capsys.readouterr().out)
    data = config["data"]
    assert data["class_path"].endswith("ContinentStratifiedDataModule")
    assert data["init_args"]["composition"] == "europe"
    assert data["init_args"]["pool"]["class_path"].endswith("SyntheticSentinel2Pool")


def test_quickstart_config_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from torchgeo_composition.cli import main

    config = Path(__file__).resolve().parents[2] / "configs" / "quickstart.yaml"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(config), "--print_config"])
    assert exc.value.code in (0, None)
    data = yaml.safe_load(capsys.readouterr().out)["data"]["init_args"]
    assert data["bands"] == [
        "B2",
        "B3",
        "B4",
        "B5",
        "B6",
        "B7",
        "B8",
        "B8A",
        "B11",
        "B12",
    ]
    assert not (tmp_path / "demo_output").exists()  # printing writes nothing
