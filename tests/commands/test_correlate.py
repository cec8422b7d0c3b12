from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from torchgeo_composition.commands.correlate import main


@pytest.fixture
def results(tmp_path: Path) -> Path:
    table = pd.DataFrame(
        {
            "set": ["africa", "north_america", "global", "oceania", "asia", "europe"],
            "spectral_entropy": [1.62, 1.80, 2.12, 2.14, 2.30, 2.46],
            "continent_entropy": [0.0, 0.0, 1.79, 0.0, 0.0, 0.0],
            "score": [0.24, 0.35, 0.30, 0.29, 0.32, 0.36],
        }
    )
    path = tmp_path / "results.csv"
    table.to_csv(path, index=False)
    return path


def test_one_column(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        [str(results), "--x", "spectral_entropy", "--y", "score", "--out", str(out)]
    )
    assert code == 0
    table = pd.read_csv(out / "correlation.csv")
    ref = stats.spearmanr(
        [1.62, 1.80, 2.12, 2.14, 2.30, 2.46], [0.24, 0.35, 0.30, 0.29, 0.32, 0.36]
    )
    assert table["rho"][0] == pytest.approx(ref.statistic, abs=1e-12)
    assert table["p_value"][0] == pytest.approx(ref.pvalue, abs=1e-12)
    assert (out / "scatter_spectral_entropy.png").stat().st_size > 1000
    assert "spectral_entropy" in (out / "correlation.md").read_text()


def test_all_columns_default_out(results: Path) -> None:
    assert main([str(results), "--y", "score", "--method", "kendall"]) == 0
    out = results.with_name("results_correlation")
    table = pd.read_csv(out / "correlation.csv")
    assert table["measure"].tolist() == ["spectral_entropy", "continent_entropy"]
    assert (out / "scatter_continent_entropy.png").exists()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--y", "accuracy"], "accuracy"),
        (["--y", "score", "--x", "biome_entropy"], "biome_entropy"),
        (["--y", "score", "--label", "name"], "name"),
        (["--y", "score", "--x", "set"], "not numeric"),
    ],
)
def test_missing_columns(
    results: Path, args: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(results), *args]) == 2
    err = capsys.readouterr().err
    assert match in err and "error" in err


def test_constant_column_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame({"h": [1.0, 1.0, 1.0], "score": [1.0, 2.0, 3.0]}).to_csv(
        path, index=False
    )
    assert main([str(path), "--y", "score"]) == 2
    assert "undefined" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.csv"), "--y", "score"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_repeated_x_and_config_file(
    results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "repeated"
    args = ["--y", "score", "--x", "continent_entropy", "--x", "spectral_entropy"]
    assert main([str(results), *args, "--out", str(out)]) == 0
    table = pd.read_csv(out / "correlation.csv")
    assert table["measure"].tolist() == ["continent_entropy", "spectral_entropy"]
    assert "| spectral_entropy" in capsys.readouterr().out
    config = tmp_path / "correlate.yaml"
    config.write_text(
        f"results: {results}\ny: score\nx: [spectral_entropy]\n"
        f"method: pearson\nout: {tmp_path / 'from_config'}\n"
    )
    assert main(["--config", str(config)]) == 0
    table = pd.read_csv(tmp_path / "from_config" / "correlation.csv")
    assert table["measure"].tolist() == ["spectral_entropy"]
    assert table["method"].tolist() == ["pearson"]
