"""``diversity`` on any datamodule: TorchGeo's EuroSAT, band order from the source."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.data.eurosat import EUROSAT_BANDS, make_eurosat
from torchgeo_composition.cli import main

EUROSAT = "torchgeo.datamodules.EuroSATDataModule"


@pytest.fixture(scope="module")
def eurosat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_eurosat(tmp_path_factory.mktemp("eurosat"), size=16)


@pytest.mark.parametrize(("split", "count"), [("test", 10), (None, 10)])
def test_eurosat_datamodule(
    eurosat: Path, tmp_path: Path, split: str | None, count: int
) -> None:
    args = ["diversity", f"--data={EUROSAT}", f"--data.dict_kwargs.root={eurosat}"]
    args += [f"--out_dir={tmp_path}"] + ([f"--split={split}"] if split else [])
    assert main(args) == 0
    report = json.loads((tmp_path / "diversity.json").read_text())
    assert report["settings"]["source"] == "EuroSATDataModule"
    per_sample = pd.read_csv(tmp_path / "per_sample.csv")
    assert len(per_sample) == count  # one image per class in each split
    text = (tmp_path / "diversity.md").read_text()
    for band in EUROSAT_BANDS:  # EuroSAT's own band order, B8A last
        assert f"| {band} " in text
    assert text.index("| B12 ") < text.index("| B8A ")


def test_band_names_from_the_user_when_the_source_has_none(tmp_path: Path) -> None:
    data = "tests.data.fusion_data.SyntheticFusionDataModule"
    base = ["diversity", f"--data={data}", f"--out_dir={tmp_path}", "--split=train"]
    assert main([*base, "--bands=[B02, B03, B04, B08]"]) == 0
    assert "| B08 " in (tmp_path / "diversity.md").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "bands: SyntheticFusionDataModule does not name its channels"),
        (["--bands=[B02, B03, B04, B08]", "--split=predict"], "builds no dataset"),
    ],
)
def test_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    data = "tests.data.fusion_data.SyntheticFusionDataModule"
    args = ["diversity", f"--data={data}", f"--out_dir={tmp_path}", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_bands_that_disagree_with_the_source(
    eurosat: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["diversity", f"--data={EUROSAT}", f"--data.dict_kwargs.root={eurosat}"]
    assert main([*args, f"--out_dir={tmp_path}", "--bands=[B04, B03, B02]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "disagree with the band order of EuroSATDataModule" in err[0]
    )


def test_geobench_datamodule(tmp_path: Path) -> None:
    from torchgeo_composition.datasets.geobench_fixture import make_geobench

    root = make_geobench(tmp_path / "geobench", ["m-brick-kiln"], num_samples=8)
    args = ["diversity", "--data=GeoBenchDataModule", f"--data.root={root}"]
    args += ["--data.task=m-brick-kiln", "--split=train", f"--out_dir={tmp_path / 'r'}"]
    assert main(args) == 0
    report = json.loads((tmp_path / "r" / "diversity.json").read_text())
    assert report["settings"]["source"] == "GeoBenchDataModule"
    text = (tmp_path / "r" / "diversity.md").read_text()
    assert "| B8A " in text and "| B12 " in text  # the dataset's own band names
