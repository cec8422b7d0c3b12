import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from tests.data.chips import make_chip_folder
from tests.data.pools import tiny_pool
from torchgeo_composition.cli import main
from torchgeo_composition.commands.compose import build_parser
from torchgeo_composition.sampling import manifest_lock, read_manifest

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "compose"


@pytest.fixture(scope="module")
def pool_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool")
    tiny_pool(root)
    return root


def _args(pool_root: Path, manifest: Path, *extra: str) -> list[str]:
    return [
        "compose",
        "--pool=torchgeo_composition.datasets.SyntheticSentinel2Pool",
        f"--pool.root={pool_root}",
        "--pool.num_chips=60",
        "--pool.size=8",
        f"--manifest_path={manifest}",
        *extra,
    ]


def test_config_file_writes_manifest_summary_map(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "europe.yaml"
    manifest = tmp_path / "out" / "europe.parquet"
    config.write_text(
        yaml.safe_dump(
            {
                "pool": {
                    "class_path": "torchgeo_composition.datasets.SyntheticSentinel2Pool",
                    "init_args": {"root": str(pool_root), "num_chips": 60, "size": 8},
                },
                "composition": "Europe",
                "num_samples": 6,
                "seed": 0,
                "manifest_path": str(manifest),
            }
        )
    )
    assert main(["compose", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "| europe" in out and str(manifest) in out
    summary = tmp_path / "out" / "europe.summary.json"
    png = tmp_path / "out" / "europe.map.png"
    assert manifest.exists() and summary.exists()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    stamp = manifest.stat().st_mtime_ns
    assert main(["compose", "--config", str(config)]) == 0  # reused
    assert manifest.stat().st_mtime_ns == stamp
    # same inputs, another path: byte-identical manifest
    other = tmp_path / "again" / "europe.parquet"
    assert main(["compose", "--config", str(config), f"--manifest_path={other}"]) == 0
    assert other.read_bytes() == manifest.read_bytes()


def test_flags_mapping_and_overwrite(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "mix.csv"
    args = _args(
        pool_root, manifest, '--composition={"europe": 1, "asia": 2}', "--num_samples=9"
    )
    assert main(args) == 0
    text = manifest.read_text()
    assert text.count(",europe\n") == 3 and text.count(",asia\n") == 6
    assert main([*args[:-1], "--num_samples=6"]) == 2
    assert "num_samples" in capsys.readouterr().err
    assert main([*args[:-1], "--num_samples=6", "--overwrite=true"]) == 0
    assert len(manifest.read_text().splitlines()) == 7


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--composition=atlantis", "--num_samples=5"], "atlantis"),
        (['--composition={"europe": -1, "asia": 1}', "--num_samples=5"], ">= 0"),
        (['--composition={"europe": 0, "asia": 0}', "--num_samples=5"], "sum to 0"),
        (["--composition=global", "--num_samples=0"], "num_samples"),
        (["--composition=europe", "--num_samples=50"], "europe"),
        (["--composition=global", "--num_samples=6", "--on_shortfall=ignore"], None),
    ],
)
def test_bad_inputs(
    pool_root: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str | None,
) -> None:
    manifest = tmp_path / "bad.parquet"
    if message is None:  # rejected by the parser itself
        try:
            code = main(_args(pool_root, manifest, *extra))
        except SystemExit as exc:
            code = int(exc.code or 0)
        assert code == 2
        assert "on_shortfall" in capsys.readouterr().err
    else:
        assert main(_args(pool_root, manifest, *extra)) == 2
        assert message in capsys.readouterr().err
    # nothing written half-way (the lock file may stay; no one holds it)
    assert [p.name for p in tmp_path.iterdir()] in ([], ["bad.parquet.lock"])


def test_empty_pool_and_unwritable_output(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [
        "compose",
        "--pool=torchgeo_composition.datasets.ChipFolder",
        f"--pool.root={empty}",
        f"--manifest_path={tmp_path / 'm.parquet'}",
    ]
    assert main(args) == 2
    assert "no chip" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    bad = blocker / "sub" / "m.parquet"
    assert main(_args(pool_root, bad, "--num_samples=6")) == 2
    err = capsys.readouterr().err
    assert "manifest_path" in err and "not a directory" in err


def test_manifest_from_another_pool(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.parquet"
    assert main(_args(pool_root, manifest, "--num_samples=6")) == 0
    other = tmp_path / "other"
    tiny_pool(other, num_chips=30)
    args = _args(other, manifest, "--num_samples=6")
    args[3] = "--pool.num_chips=30"
    assert main(args) == 2
    assert "another pool" in capsys.readouterr().err


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_parse(config: Path) -> None:
    cfg = build_parser().parse_args(["--config", str(config)])
    assert cfg.num_samples > 0
    assert cfg.pool.class_path.startswith("torchgeo_composition.datasets.")


def test_demo_europe_config_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["compose", "--config", str(CONFIGS / "demo_europe.yaml")]) == 0
    assert (tmp_path / "demo_output" / "sets" / "europe.map.png").exists()
    assert "| europe" in capsys.readouterr().out


def test_custom_region_layer(pool_root: Path, tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    layer = tmp_path / "halves.geojson"
    gpd.GeoDataFrame(
        {"half": ["west", "east"]},
        geometry=[box(-180, -90, 0, 90), box(0, -90, 180, 90)],
        crs="EPSG:4326",
    ).to_file(layer)
    manifest = tmp_path / "halves.csv"
    args = _args(
        pool_root,
        manifest,
        '--composition={"west": 1, "east": 1}',
        "--num_samples=10",
        f"--layer.path={layer}",
        "--layer.attribute=half",
    )
    assert main(args) == 0
    text = manifest.read_text()
    assert text.count(",west\n") == 5 and text.count(",east\n") == 5


_CLI = "import sys; from torchgeo_composition.cli import main; sys.exit(main(sys.argv[1:]))"


def test_concurrent_runs_never_both_succeed_differently(
    pool_root: Path, tmp_path: Path
) -> None:
    """Three compose processes start while the manifest is locked, then race."""
    manifest = tmp_path / "m.parquet"
    seeds = (0, 0, 1)
    with manifest_lock(manifest):
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _CLI,
                    *_args(pool_root, manifest, "--num_samples=6", f"--seed={seed}"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for seed in seeds
        ]
        for run in runs:  # every run waits for the lock, naming its holder
            assert run.stderr is not None
            line = run.stderr.readline()
            while line and not line.startswith(f"manifest {str(manifest)!r} is locked"):
                line = run.stderr.readline()
            assert f"pid {os.getpid()}" in line, line
    results = [(run, *run.communicate()) for run in runs]
    winners = [
        seed
        for seed, (run, _, _) in zip(seeds, results, strict=True)
        if run.returncode == 0
    ]
    assert winners and len(set(winners)) == 1  # every success is the same set
    outs = {out for run, out, _ in results if run.returncode == 0}
    assert len(outs) == 1
    assert read_manifest(manifest)[1]["seed"] == winners[0]
    for seed, (run, _, err) in zip(seeds, results, strict=True):
        if seed != winners[0]:  # the other seed waited, then saw the mismatch
            assert run.returncode == 2
            assert "does not match" in err and "seed" in err
            assert "error: manifest" in err.strip().splitlines()[-1]


def test_lock_held_too_long_is_one_error_line(
    pool_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.parquet"
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:  # another thread: the lock is re-entrant only in one
        with manifest_lock(manifest):
            locked.set()
            done.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait()
    try:
        code = main(_args(pool_root, manifest, "--num_samples=6", "--lock_timeout=0"))
    finally:
        done.set()
        holder.join()
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"is locked by pid {os.getpid()}" in err and "manifest" in err
    assert not manifest.exists()


def test_check_pixels_names_bad_files_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_chip_folder(tmp_path / "chips", ["europe"], per_continent=3, size=16)
    broken = root / "europe" / "europe_001.tif"
    with broken.open("r+b") as f:
        f.truncate(broken.stat().st_size // 2)
    manifest = tmp_path / "out" / "m.parquet"
    args = [
        "compose",
        "--pool=ChipFolder",
        f"--pool.root={root}",
        "--composition=europe",
        "--num_samples=3",
        f"--manifest_path={manifest}",
    ]
    assert main([*args, "--check_pixels=true"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")
    assert "check_pixels: 1 of 3 samples" in err[0]
    assert str(broken) in err[0] and "could not read it" in err[0]
    assert not manifest.exists()  # refused before anything was written
    assert main(args) == 0  # without the check the set is composed
    assert manifest.exists()
