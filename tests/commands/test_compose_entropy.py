"""Entropy strategies through the compose command on the demo pool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import ks_2samp

from torchgeo_composition.cli import main

POOL = ["--pool", "SyntheticSentinel2Pool", "--pool.num_chips", "600"]


def _compose(tmp: Path, name: str, *args: str) -> pd.DataFrame:
    path = tmp / f"{name}.parquet"
    argv = ["compose", *POOL, "--pool.root", str(tmp / "pool"), "--pool.size", "8"]
    assert main([*argv, *args, "--manifest_path", str(path)]) == 0
    return pd.read_parquet(path)


def _entropy(tmp: Path, frame: pd.DataFrame) -> pd.Series:
    index = pd.read_parquet(tmp / "pool" / "entropy_index.default.parquet")
    by_id = index.set_index("sample_id")["spectral_entropy"]
    return by_id.loc[frame["sample_id"]].reset_index(drop=True)


def test_done_when_on_the_demo_pool(tmp_path: Path) -> None:
    common = ["--composition", "proportional", "--num_samples", "100"]
    top = _compose(tmp_path, "top", *common, "--selection", "entropy_top")
    rand = _compose(tmp_path, "random", *common)
    assert "spectral_entropy" not in rand.columns
    assert top["spectral_entropy"].mean() > _entropy(tmp_path, rand).mean()

    europe = _compose(
        tmp_path,
        "europe",
        "--composition",
        "europe",
        "--num_samples",
        "80",
    )
    reference = _entropy(tmp_path, europe)
    matched = _compose(
        tmp_path,
        "africa_matched",
        "--composition",
        "africa",
        "--num_samples",
        "30",
        "--selection",
        "entropy_matched",
        "--selection_reference",
        str(tmp_path / "europe.parquet"),
    )
    africa = _compose(
        tmp_path, "africa", "--composition", "africa", "--num_samples", "100"
    )
    assert ks_2samp(matched["spectral_entropy"], reference).pvalue > 0.05
    assert ks_2samp(_entropy(tmp_path, africa), reference).pvalue < 0.05
    # Entropy strategies draw the set's histogram (with the reference's) too.
    assert (tmp_path / "africa_matched.entropy.png").stat().st_size > 0
    assert not (tmp_path / "africa.entropy.png").exists()


def test_a_reference_from_another_pool_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _compose(tmp_path, "europe", "--composition", "europe", "--num_samples", "10")
    other = tmp_path / "other"
    argv = ["compose", "--pool", "SyntheticSentinel2Pool", "--pool.num_chips", "60"]
    code = main(
        [
            *argv,
            "--pool.root",
            str(other / "pool"),
            "--pool.size",
            "8",
            "--composition",
            "africa",
            "--num_samples",
            "5",
            "--selection",
            "entropy_matched",
            "--selection_reference",
            str(tmp_path / "europe.parquet"),
            "--manifest_path",
            str(other / "m.parquet"),
        ]
    )
    assert code == 2
    # The entropy index of the other pool is built first (its progress bar).
    err = [
        x
        for x in capsys.readouterr().err.splitlines()
        if x and "entropy index" not in x
    ]
    assert len(err) == 1
    assert err[0].startswith("error: selection_reference ")
    assert "was drawn from another pool" in err[0]
