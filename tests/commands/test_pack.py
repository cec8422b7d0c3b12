import json
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
    assert cfg.output_dir
    if cfg.compose is None:
        assert cfg.manifest_path and cfg.pool.class_path
    else:
        assert (REPO / cfg.compose).is_file() and cfg.manifest_path is None


def _compose_config(tmp_path: Path, pool_root: Path) -> Path:
    config = yaml.safe_load(
        (REPO / "configs" / "compose" / "demo_europe.yaml").read_text()
    )
    config["pool"]["init_args"] = {"root": str(pool_root), "num_chips": 60, "size": 8}
    config.update(num_samples=6, manifest_path=str(tmp_path / "sets" / "eu.parquet"))
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_pack_composes_from_a_compose_config(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compose = _compose_config(tmp_path, manifest.parent / "pool")
    out = tmp_path / "pack"
    args = ["pack", f"--compose={compose}", f"--output_dir={out}", "--chunk_bytes=16KB"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    composed = tmp_path / "sets" / "eu.parquet"
    assert f"manifest: {composed}" in printed and "| europe  |       6 |" in printed
    summary = json.loads((out / "pack.json").read_text())
    assert summary["manifest_path"] == str(composed)
    # a pack config naming the compose config: the saved manifest is reused
    config = yaml.safe_load((CONFIGS / "demo_europe_from_compose.yaml").read_text())
    config.update(compose=str(compose), output_dir=str(out), chunk_bytes="16KB")
    path = tmp_path / "pack.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["pack", "--config", str(path)]) == 0
    assert "already complete: nothing written" in capsys.readouterr().out


def test_pack_needs_a_manifest_or_a_compose_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pack", f"--output_dir={tmp_path / 'p'}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1, err
    assert "--pool and --manifest_path not given" in err and "--compose" in err


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
