import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from torchgeo_composition.commands.diversity import main

POOL = "torchgeo_composition.datasets.SyntheticSentinel2Pool"


@pytest.fixture(scope="module")
def pool_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pool")


def _pool_args(root: Path) -> list[str]:
    return [
        "--pool",
        POOL,
        "--pool.root",
        str(root),
        "--pool.num_chips",
        "18",
        "--pool.size",
        "8",
    ]


def test_pool_subset_report(pool_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    args = [
        *_pool_args(pool_root),
        "--out_dir",
        str(out),
        "--num_samples",
        "12",
        "--seed",
        "3",
        "--batch_size",
        "5",
    ]
    assert main(args) == 0
    report = json.loads((out / "diversity.json").read_text())
    stats = report["spectral_entropy"]
    assert report["num_samples"] == 12 and stats["n"] == 12
    assert 0 < stats["q05"] <= stats["q50"] <= stats["q95"] < math.log(32)
    assert set(report["per_band"]) == {
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
    }
    assert sum(report["stratum_counts"].values()) == 12
    assert 0 < report["continent_entropy_nats"] <= math.log(6)
    table = pd.read_csv(out / "per_sample.csv")
    assert len(table) == 12
    assert table["spectral_entropy"].mean() == pytest.approx(stats["mean"])
    for name in ("diversity.md", "entropy_by_stratum.png", "entropy_by_band.png"):
        assert (out / name).stat().st_size > 0
    # the same seed measures the same subset; a region layer adds its entropy
    layer = ["--layer.max_distance_km", "500"]
    assert main([*args, *layer, "--out_dir", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "diversity.json").read_text())
    assert again["spectral_entropy"] == stats
    assert again["region"]["name"] == "continent"
    assert again["region"]["entropy_nats"] == pytest.approx(
        report["continent_entropy_nats"]
    )


def test_fit_config_datamodule(pool_root: Path, tmp_path: Path) -> None:
    config = {
        "trainer": {"max_epochs": 1},
        "data": {
            "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule",
            "init_args": {
                "pool": {
                    "class_path": POOL,
                    "init_args": {"root": str(pool_root), "num_chips": 18, "size": 8},
                },
                "composition": "uniform",
                "num_samples": 10,
                "crop_size": None,
                "bands": ["B4", "B3", "B2"],
            },
        },
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "report"
    assert main(["--fit_config", str(path), "--out_dir", str(out)]) == 0
    report = json.loads((out / "diversity.json").read_text())
    assert report["num_samples"] == 10
    assert list(report["per_band"]) == ["B4", "B3", "B2"]
    recipe = report["settings"]["recipe"]
    assert (recipe["composition"], recipe["num_samples"]) == ("uniform", 10)


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ([], "exactly one of data"),
        (["--manifest_path", "{tmp}/missing.parquet"], "does not exist"),
        (["--num_samples", "99"], "num_samples"),
        (["--bins", "1"], "bins"),
        (["--value_range", "[1.0, 0.0]"], "inverted"),
        (["--bands", "[B2, B99]"], "B99"),
    ],
)
def test_bad_input(
    pool_root: Path,
    tmp_path: Path,
    extra: list[str],
    match: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    args = ([] if not extra else _pool_args(pool_root)) + extra
    assert main([*args, "--out_dir", str(tmp_path / "r")]) == 2
    assert match in capsys.readouterr().err
    assert not list(tmp_path.glob("*.lock"))  # nothing written for a missing file


def test_fit_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fit_config", str(tmp_path / "nope.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    path = tmp_path / "fit.yaml"
    path.write_text("trainer: {}\n")
    assert main(["--fit_config", str(path)]) == 2
    assert "no 'data' section" in capsys.readouterr().err


def test_measures_from_the_command_line(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "measures"
    measures = (
        '[{"class_path": "torchgeo_composition.diversity.SpectralEntropy", '
        '"init_args": {"bins": 8}}]'
    )
    args = [*_pool_args(pool_root), "--measures", measures, "--out_dir", str(out)]
    assert main(args) == 0
    report = json.loads((out / "diversity.json").read_text())
    assert report["measures"]["spectral_entropy"]["bins"] == 8
    assert report["spectral_entropy"]["max"] <= math.log(8)
    assert "# Spectral entropy (nats)" in capsys.readouterr().out
    assert main([*args, "--bins", "16"]) == 2
    assert "bins and value_range configure the default" in capsys.readouterr().err


EMPTY_POOL = [
    "--pool=tests.data.empty_chips.EmptyChipsPool",
    "--pool.nan_chips=[1]",
    "--pool.filled_chips=[4, 7]",
    "--pool.half_filled=[2]",
    "--bands=[B2, B3, B4, B8]",
]


def test_empty_chips_are_counted_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main([*EMPTY_POOL, f"--out_dir={out}"]) == 0
    report = json.loads((out / "diversity.json").read_text())
    assert report["settings"]["nodata"] == 0.0  # the pool's fill_value
    assert report["empty_samples"]["count"] == 3
    assert report["spectral_entropy"]["empty"] == 3
    assert report["spectral_entropy"]["min"] > 0
    table = pd.read_csv(out / "per_sample.csv")
    assert table.loc[table["empty"], "sample_id"].tolist() == [
        "chip_1",
        "chip_4",
        "chip_7",
    ]
    shown = capsys.readouterr().out
    assert "Empty samples (no valid pixel: NaN or nodata=0.0): 3" in shown
    assert "Measures: spectral_entropy(bins=32" in shown
    # --nodata null: filled chips are measured (entropy 0), only NaN is missing
    again = tmp_path / "again"
    assert main([*EMPTY_POOL, "--nodata=null", f"--out_dir={again}"]) == 0
    report = json.loads((again / "diversity.json").read_text())
    assert report["empty_samples"]["sample_ids"] == ["chip_1"]
    assert report["spectral_entropy"]["min"] == 0.0


def test_manifest_recipe_is_reported(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from torchgeo_composition.cli import main as cli

    manifest = tmp_path / "europe.parquet"
    compose = ["compose", *_pool_args(pool_root), "--composition=uniform"]
    compose += ["--num_samples=6", "--seed=2", f"--manifest_path={manifest}"]
    assert cli(compose) == 0
    out = tmp_path / "report"
    args = [*_pool_args(pool_root), f"--manifest_path={manifest}"]
    assert main([*args, f"--out_dir={out}"]) == 0
    report = json.loads((out / "diversity.json").read_text())
    recipe = report["settings"]["recipe"]
    assert (recipe["composition"], recipe["num_samples"], recipe["seed"]) == (
        "uniform",
        6,
        2,
    )
    assert len(recipe["manifest_sha256"]) == 64
    assert "Recipe: composition=uniform, num_samples=6, seed=2" in (
        capsys.readouterr().out
    )
