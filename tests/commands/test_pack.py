import shutil
from pathlib import Path

import pytest
import yaml

from tests.data.packs import POOL_ARGS, make_manifest
from torchgeo_composition.cli import main
from torchgeo_composition.commands.pack import build_parser

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs" / "pack"


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pack_command")
    return make_manifest(root, "europe", 6)[1]


def _args(manifest: Path, output: Path, *extra: str) -> list[str]:
    return [
        "pack",
        *POOL_ARGS,
        f"--pool.root={manifest.parent / 'pool'}",
        f"--manifest_path={manifest}",
        f"--output_dir={output}",
        "--chunk_bytes=16KB",
        *extra,
    ]


def test_pack_prints_counts_then_keeps_the_finished_pack(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pack"
    assert main(_args(manifest, out, "--num_workers=2")) == 0
    printed = capsys.readouterr().out
    assert "| europe  |       6 |" in printed and f"pack:    {out}" in printed
    assert "uint16 [13, 8, 8]" in printed
    assert (out / "pack.json").is_file() and (out / "europe" / "index.json").is_file()
    assert main(_args(manifest, out)) == 0
    assert "already complete: nothing written" in capsys.readouterr().out


def test_config_with_the_same_keys(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load((CONFIGS / "demo_europe.yaml").read_text())
    config["pool"]["init_args"] = {"root": str(manifest.parent / "pool"),
                                   "num_chips": 60, "size": 8}  # fmt: skip
    config.update(manifest_path=str(manifest), output_dir=str(tmp_path / "p"))
    config["chunk_bytes"] = "16KB"
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["pack", "--config", str(path)]) == 0
    assert "| europe" in capsys.readouterr().out


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_parse(config: Path) -> None:
    cfg = build_parser().parse_args(["--config", str(config)])
    assert cfg.output_dir and cfg.manifest_path and cfg.pool.class_path


def test_bad_inputs_are_one_error_line(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [
        (_args(tmp_path / "missing.parquet", tmp_path / "a"), "does not exist"),
        (_args(manifest, tmp_path / "b", "--dtype=int8"), "dtype"),
        (_args(manifest, tmp_path / "c", "--num_workers=0"), "num_workers"),
    ]
    for args, message in cases:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and err.count("\n") == 1, err
        assert message in err
    other = tmp_path / "other.parquet"
    shutil.copy(manifest, other)
    shutil.copy(
        manifest.with_name("set.summary.json"), other.with_name("other.summary.json")
    )
    out = tmp_path / "d"
    assert main(_args(manifest, out)) == 0
    capsys.readouterr()
    (out / "pack.json").write_text(
        (out / "pack.json").read_text().replace('"seed": 0', '"seed": 5')
    )
    assert main(_args(manifest, out)) == 2
    err = capsys.readouterr().err
    assert "another manifest" in err and "--overwrite true" in err
