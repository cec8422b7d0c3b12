"""Every bad input of diversity, cka and correlate: one ``error:`` line, exit code 2.

Each row goes through the real command line (``cli.main``) and names the parameter
the line must name. No traceback is shown unless ``--debug`` (or the environment
variable) asks for it.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from torchgeo_composition.cli import main
from torchgeo_composition.commands.common import DEBUG_ENV

POOL = [
    "--pool=SyntheticSentinel2Pool",
    "--pool.root={root}/pool",
    "--pool.num_chips=6",
    "--pool.size=8",
]
RESNET = {"name": "timm:test_resnet"}
CKA = [
    "--data=tests.data.fusion_data.SyntheticFusionDataModule",
    "--data.init_args.size=16",
    f"--backbones={json.dumps([RESNET, RESNET])}",
    "--bands=[B2,B3,B4,B8]",
    "--num_samples=4",
]
RESULTS = ["{root}/results.csv", "--y=score"]

#: Where no process may create a folder, even as root (Linux).
UNWRITABLE = "/proc/tgc-cannot-write/out"

#: (command and arguments, the parameter the error line names). ``{root}`` is a
#: folder holding ``results.csv``, ``a_file``, ``bad.yaml``, ``binary.csv``,
#: ``constant.csv`` and a tiny pool.
ROWS: list[tuple[list[str], str]] = [
    # diversity
    (["diversity", *POOL, "--out_dir={root}/a_file/report"], "out_dir"),
    (["diversity", *POOL, "--out_dir={root}/a_file"], "out_dir"),
    (["diversity", *POOL, f"--out_dir={UNWRITABLE}"], "out_dir"),
    (["diversity", *POOL, "--manifest_path={root}/nope.parquet"], "manifest_path"),
    (["diversity", *POOL, "--manifest_path={root}/results.csv"], "manifest_path"),
    (["diversity", *POOL, '--measures=[{"class_path": "Entropy"}]'], "measures"),
    (
        ["diversity", *POOL, "--layer.path={root}/no.gpkg", "--layer.attribute=n"],
        "layer",
    ),
    (
        ["diversity", *POOL, "--layer.path={root}/a_file", "--layer.attribute=n"],
        "layer",
    ),
    (["diversity", "--pool=ChipFolder", "--pool.root={root}/nothing"], "pool"),
    (["diversity", *POOL, "--device=banana"], "device"),
    (["diversity", *POOL, "--bins=1"], "bins"),
    (["diversity", *POOL, "--nodata=nan"], "nodata"),
    (["diversity", *POOL, "--normalization=zscore"], "normalization"),
    (["diversity", "--fit_config={root}/nope.yaml"], "fit_config"),
    (["diversity", "--fit_config={root}/bad.yaml"], "fit_config"),
    (["diversity", "--config={root}/nope.yaml"], "config"),
    (["diversity", *POOL, "--bogus=1"], "bogus"),
    # cka
    (["cka", *CKA, "--output={root}/a_file/cka"], "output"),
    (["cka", *CKA, f"--output={UNWRITABLE}"], "output"),
    (["cka", *CKA, "--num_samples=2", "--output={root}/cka"], "num_samples"),
    (["cka", *CKA, "--bands=[B2,B3]", "--output={root}/cka"], "bands"),
    (["cka", *CKA, '--backbones=["timm:nope", "timm:test_resnet"]'], "backbone"),
    (["cka", *CKA, '--backbones=["timm:test_resnet"]'], "backbones"),
    (["cka", *CKA, "--split=holdout"], "split"),
    (["cka", *CKA, "--input_normalization=imagenet"], "input_normalization"),
    (["cka", *CKA, "--data=NoSuchDataModule"], "data"),
    (["cka", "--config={root}/nope.yaml"], "config"),
    # correlate
    (["correlate", "{root}/nope.csv", "--y=score"], "results"),
    (["correlate", "{root}", "--y=score"], "results"),
    (["correlate", "{root}/binary.csv", "--y=score"], "results"),
    (["correlate", *RESULTS[:1], "--y=accuracy"], "y="),
    (["correlate", *RESULTS, "--x=biome_entropy"], "x="),
    (["correlate", *RESULTS, "--label=name"], "label="),
    (["correlate", *RESULTS, "--method=pearsonr"], "method"),
    (["correlate", *RESULTS, "--out={root}/a_file/out"], "out"),
    (["correlate", *RESULTS, f"--out={UNWRITABLE}"], "out"),
    (["correlate", "{root}/constant.csv", "--y=score"], "constant"),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad_inputs")
    pd.DataFrame(
        {
            "set": ["africa", "asia", "europe", "global"],
            "spectral_entropy": [1.6, 2.3, 2.5, 2.1],
            "score": [0.24, 0.32, 0.36, 0.30],
        }
    ).to_csv(folder / "results.csv", index=False)
    pd.DataFrame({"h": [1.0, 1.0, 1.0], "score": [1.0, 2.0, 3.0]}).to_csv(
        folder / "constant.csv", index=False
    )
    (folder / "a_file").write_text("not a folder\n")
    (folder / "binary.csv").write_bytes(b"")
    (folder / "bad.yaml").write_text("data: [unclosed\n")
    return folder


@pytest.fixture(autouse=True)
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEBUG_ENV, "0")


def _fill(args: list[str], root: Path) -> list[str]:
    return [a.replace("{root}", str(root)) for a in args]


@pytest.mark.parametrize(
    ("args", "parameter"),
    ROWS,
    ids=[f"{a[0]}-{i}-{p.strip('=')}" for i, (a, p) in enumerate(ROWS)],
)
def test_bad_input_is_one_error_line(
    args: list[str],
    parameter: str,
    root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if UNWRITABLE in " ".join(args) and not sys.platform.startswith("linux"):
        pytest.skip("needs /proc")
    code = main(_fill(args, root))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert parameter in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["diversity", "correlate"])
def test_full_disk_is_one_error_line(
    command: str,
    root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    replace = os.replace

    def full(src: str, dst: str) -> None:
        if Path(dst).parent != out:
            return replace(src, dst)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    # every report file is written to a temporary name and renamed into place
    monkeypatch.setattr("torchgeo_composition.files.os.replace", full)
    args = {
        "diversity": ["diversity", *POOL, f"--out_dir={out}"],
        "correlate": ["correlate", *RESULTS, f"--out={out}"],
    }[command]
    assert main(_fill(args, root)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert os.strerror(errno.ENOSPC) in err and str(out) in err
    # nothing left: the folder the command made for its outputs is removed again
    assert not out.exists()


@pytest.mark.parametrize("switch", ["flag", "environment"])
def test_debug_shows_the_traceback(
    switch: str,
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["correlate", str(root / "nope.csv"), "--y=score"]
    if switch == "flag":
        args.append("--debug")
    else:
        monkeypatch.setenv(DEBUG_ENV, "1")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "FileNotFoundError" in err
    assert err.splitlines()[-1].startswith("error: results file")
