import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from tests.data.packs import make_pack
from tests.data.pools import tiny_pool
from torchgeo_composition.cli import main
from torchgeo_composition.datamodules import StreamingStratifiedDataModule
from torchgeo_composition.sampling import read_manifest

REPO = Path(__file__).resolve().parents[2]
PRETRAIN = REPO / "configs" / "pretrain"
SETS = [
    "africa",
    "asia",
    "europe",
    "global",
    "north_america",
    "oceania",
    "south_america",
]
TINY_MODEL = {
    "model": "satmae_vit_tiny_patch8_96", "img_size": 16, "embed_dim": 32,
    "depth": 1, "num_heads": 2, "channel_embed": 8, "decoder_embed_dim": 32,
    "decoder_depth": 1, "decoder_num_heads": 2, "decoder_channel_embed": 8,
}  # fmt: skip


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("streaming")
    return root, make_pack(root, num_samples=24)


@pytest.fixture(scope="module")
def even(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A pack of 8 Asia + 8 Europe chips (splits evenly over 2 ranks x batch 2)."""
    root = tmp_path_factory.mktemp("even")
    return make_pack(root, {"asia": 1, "europe": 1}, 16)


def _epoch(dm: StreamingStratifiedDataModule) -> tuple[list[tuple[Any, ...]], int]:
    seen: list[tuple[Any, ...]] = []
    batches = 0
    for batch in dm.train_dataloader():
        batches += 1
        assert batch["image"].dtype == torch.uint16  # integers until the device
        seen += list(
            zip(
                batch["lon"].tolist(),
                batch["lat"].tolist(),
                batch["continent"],
                strict=True,
            )
        )
    return seen, batches


def test_every_sample_once_per_epoch_with_the_pack_counts(
    packed: tuple[Path, str],
) -> None:
    root, location = packed
    manifest, _ = read_manifest(root / "set.parquet")
    dm = StreamingStratifiedDataModule(location, batch_size=4, crop_size=16)
    dm.setup("fit")
    expected = Counter(
        (round(lon, 4), round(lat, 4), s)
        for lon, lat, s in manifest[["lon", "lat", "stratum"]].itertuples(index=False)
    )
    for _ in range(2):
        seen, batches = _epoch(dm)
        assert batches == 6
        assert Counter((round(a, 4), round(b, 4), c) for a, b, c in seen) == expected
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "lon", "lat", "continent"}
    out = dm.transform(batch)  # the device pipeline (evaluation: resize)
    assert out["image"].dtype == torch.float32 and out["image"].shape == (4, 13, 16, 16)
    assert 0 <= float(out["image"].min()) and float(out["image"].max()) <= 1


def test_batches_hold_the_pools_pixels_in_the_chosen_bands(
    packed: tuple[Path, str],
) -> None:
    root, location = packed
    pool = tiny_pool(root / "pool")
    manifest, _ = read_manifest(root / "set.parquet")
    position = {
        (round(lon, 4), round(lat, 4)): pool.positions([sid])[0]
        for sid, lon, lat in manifest[["sample_id", "lon", "lat"]].itertuples(
            index=False
        )
    }
    bands = ["B12", "B2", "B8"]
    channels = [list(pool.bands).index(b) for b in bands]
    for workers in (0, 2):
        dm = StreamingStratifiedDataModule(
            location, batch_size=5, bands=bands, num_workers=workers
        )
        dm.setup("fit")
        seen = 0
        for batch in dm.train_dataloader():
            assert batch["image"].dtype == torch.uint16
            assert batch["lon"].dtype == batch["lat"].dtype == torch.float32
            for image, lon, lat in zip(
                batch["image"], batch["lon"], batch["lat"], strict=True
            ):
                at = position[(round(float(lon), 4), round(float(lat), 4))]
                expected = pool[at]["image"][channels]
                assert torch.equal(image.to(torch.float32), expected)
                seen += 1
        assert seen == len(manifest)


def test_composition_mixes_the_named_strata(packed: tuple[Path, str]) -> None:
    _, location = packed
    dm = StreamingStratifiedDataModule(
        location, composition={"Asia": 3, "europe": 1, "africa": 0}, batch_size=2
    )
    assert dm.weights == {"asia": 0.75, "europe": 0.25}
    dm.setup("fit")
    seen, _ = _epoch(dm)
    counts = Counter(c for _, _, c in seen)
    assert set(counts) <= {"asia", "europe"}
    assert len(set(seen)) == len(seen)  # no sample twice in an epoch
    # the epoch ends when the first stratum runs out
    assert counts["asia"] == 6 or counts["europe"] == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"composition": {"antarctica": 1}}, "names strata \\['antarctica'\\] that"),
        ({"composition": {"europe": 0, "asia": 0}}, "sum to 0"),
        ({"composition": "uniform"}, "'uniform' does not apply"),
        ({"composition": "atlantis"}, "unknown composition 'atlantis'"),
        ({"bands": ["B2", "B99"]}, "not all in pack"),
        ({"dtype": "float32"}, "holds images of dtype uint16"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_input_named(
    packed: tuple[Path, str], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        StreamingStratifiedDataModule(packed[1], **kwargs)


def test_no_pack(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no pack"):
        StreamingStratifiedDataModule(str(tmp_path))


@pytest.mark.parametrize("name", SETS)
def test_streaming_configs_swap_only_the_data_section(name: str) -> None:
    plain = yaml.safe_load((PRETRAIN / f"{name}.yaml").read_text())
    streamed = yaml.safe_load((PRETRAIN / f"{name}_streaming.yaml").read_text())
    assert streamed["model"] == plain["model"]
    assert streamed["checkpoint"] == plain["checkpoint"]
    plain["trainer"].pop("default_root_dir")
    assert streamed["trainer"].pop("default_root_dir").endswith(f"{name}_streaming")
    assert streamed["trainer"] == plain["trainer"]
    data = streamed["data"]
    assert data["class_path"].endswith("StreamingStratifiedDataModule")
    assert data["init_args"]["input_dir"] == f"packs/{name}"
    assert data["init_args"]["bands"] == plain["data"]["init_args"]["bands"]


def test_satmae_fits_from_a_pack_through_the_cli(
    packed: tuple[Path, str], tmp_path: Path
) -> None:
    override = {
        "trainer": {"accelerator": "cpu", "devices": 1, "precision": "32-true",
                    "default_root_dir": str(tmp_path), "enable_progress_bar": False,
                    "enable_model_summary": False},
        "model": {"init_args": TINY_MODEL},
        "data": {"init_args": {"input_dir": packed[1], "batch_size": 4,
                               "num_workers": 0, "crop_size": 16}},
    }  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(override))
    config = PRETRAIN / "europe_streaming.yaml"
    args = ["fit", "--config", str(config), "--config", str(path)]
    assert main([*args, "--trainer.fast_dev_run=2"]) == 0
    assert (tmp_path / "reconstructions" / "epoch_0000.png").exists()


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _fit(
    location: str, out: Path, *args: str, env: dict[str, str] | None = None
) -> int:
    script = REPO / "tests" / "data" / "streaming_fit.py"
    run = subprocess.run(
        [sys.executable, str(script), location, str(out), *args],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "MASTER_PORT": _port(),
             "OMP_NUM_THREADS": "1", **(env or {})},
    )  # fmt: skip
    if run.returncode not in (0, -9):
        raise AssertionError(run.stderr[-3000:])
    return run.returncode


def _seen(out: Path, rank: int = 0) -> dict[str, Any]:
    return json.loads((out / f"rank{rank}.json").read_text())


def test_two_process_ddp_sees_every_sample_once(even: str, tmp_path: Path) -> None:
    _fit(even, tmp_path, "--devices=2", "--strategy=ddp", "--batch_size=2")
    ranks = [_seen(tmp_path, r) for r in range(2)]
    assert ranks[0]["batches"] == ranks[1]["batches"] == 4
    seen = [tuple(s) for r in ranks for s in r["seen"]]
    assert len(seen) == len(set(seen)) == 16  # disjoint, every sample once
    assert Counter(s[2] for s in seen) == {"asia": 8, "europe": 8}


def _resume(location: str, out: Path, ckpt: Path, batch_size: int = 2) -> None:
    """Continue a run in this process (as streaming_fit.py would)."""
    from lightning.pytorch import Trainer

    from tests.data.streaming_fit import Record

    out.mkdir()
    dm = StreamingStratifiedDataModule(
        location, batch_size=batch_size, crop_size=None, normalization="none"
    )
    trainer = Trainer(
        accelerator="cpu", devices=1, max_epochs=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=out,
    )  # fmt: skip
    trainer.fit(Record(str(out)), datamodule=dm, ckpt_path=str(ckpt))


def test_killed_mid_epoch_resumes_where_it_stopped(
    packed: tuple[Path, str], tmp_path: Path
) -> None:
    root, location = packed
    assert _fit(location, tmp_path / "killed", "--kill_at=5") == -9
    last = tmp_path / "killed" / "ckpt" / "last.ckpt"
    with pytest.raises(ValueError, match=r"batch_size 2 -> 3.*LitData"):
        _resume(location, tmp_path / "other", last, batch_size=3)
    _resume(location, tmp_path / "resumed", last)
    killed, resumed = _seen(tmp_path / "killed"), _seen(tmp_path / "resumed")
    assert (killed["batches"], resumed["batches"]) == (5, 12 - 5)
    # the interrupted and the resumed parts make one whole epoch: every sample once
    manifest, _ = read_manifest(root / "set.parquet")
    epoch = sorted(
        (s, lon, lat)
        for lon, lat, s in manifest[["lon", "lat", "stratum"]].itertuples(index=False)
    )
    both = sorted((c, a, b) for a, b, c in killed["seen"] + resumed["seen"])
    assert [s[0] for s in both] == [s[0] for s in epoch]
    assert torch.allclose(
        torch.tensor([s[1:] for s in both], dtype=torch.float64),
        torch.tensor([s[1:] for s in epoch], dtype=torch.float64),
        atol=1e-4,
    )


@pytest.mark.slow
def test_two_process_ddp_mixes_by_weight_in_equal_batches(
    even: str, tmp_path: Path
) -> None:
    _fit(even, tmp_path, "--devices=2", "--strategy=ddp", "--epochs=2",
         '--composition={"asia": 3, "europe": 1}')  # fmt: skip
    ranks = [_seen(tmp_path, r) for r in range(2)]
    assert ranks[0]["batches"] == ranks[1]["batches"]
    counts = Counter(s[2] for r in ranks for s in r["seen"])
    assert counts["asia"] == 16 and counts["europe"] < counts["asia"]


@pytest.mark.slow
def test_two_node_simulation(even: str, tmp_path: Path) -> None:
    """Two "nodes" of one process each, as srun starts them on two machines."""
    port = _port()
    script = REPO / "tests" / "data" / "streaming_fit.py"
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                even,
                str(tmp_path),
                "--num_nodes=2",
                "--strategy=ddp",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": port,
                "NODE_RANK": str(node),
                "WORLD_SIZE": "2",
                "OMP_NUM_THREADS": "1",
            },
        )
        for node in range(2)
    ]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-3000:]
    ranks = [_seen(tmp_path, r) for r in range(2)]
    assert ranks[0]["batches"] == ranks[1]["batches"] == 4
    seen = [tuple(s) for r in ranks for s in r["seen"]]
    assert len(set(seen)) == len(seen) == 16
