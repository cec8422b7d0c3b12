"""``fast_dev_run`` of every shipped SatMAE pretraining config, through both CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from torchgeo_composition.cli import main

ROOT = Path(__file__).resolve().parents[2]
PRETRAIN = sorted(
    p
    for p in (ROOT / "configs" / "pretrain").glob("*.yaml")
    if not p.stem.endswith("_streaming")  # streamed variants: tests/datamodules
)

TINY_MODEL = {
    "model": "satmae_vit_tiny_patch8_96",
    "img_size": 16,
    "embed_dim": 32,
    "depth": 1,
    "num_heads": 2,
    "channel_embed": 8,
    "decoder_embed_dim": 32,
    "decoder_depth": 1,
    "decoder_num_heads": 2,
    "decoder_channel_embed": 8,
}


@pytest.fixture(scope="session")
def demo_pool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from torchgeo_composition.datasets import SyntheticSentinel2Pool

    root = tmp_path_factory.mktemp("satmae_pool")
    SyntheticSentinel2Pool(root, num_chips=36, size=16, seed=0)
    return root


def tiny_overrides(tmp_path: Path, pool: Path, name: str) -> Path:
    override = {
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "default_root_dir": str(tmp_path),
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        "model": {"init_args": TINY_MODEL},
        "data": {
            "init_args": {
                "pool": {
                    "class_path": "torchgeo_composition.datasets.ChipFolder",
                    "init_args": {"root": str(pool)},
                },
                "num_samples": 8,
                "val_fraction": 0.5,
                "manifest_path": str(tmp_path / f"{name}.parquet"),
                "on_shortfall": "replace",
                "batch_size": 4,
                "num_workers": 0,
                "crop_size": 16,
            }
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(override))
    return path


def test_all_seven_sets_shipped() -> None:
    names = {p.stem for p in PRETRAIN}
    assert names == {
        "africa",
        "asia",
        "europe",
        "global",
        "north_america",
        "oceania",
        "south_america",
    }
    for path in PRETRAIN:
        cfg = yaml.safe_load(path.read_text())
        args = cfg["model"]["init_args"]
        assert args["model"] == "satmae_vit_base_patch8_96"
        assert (args["img_size"], args["patch_size"], args["mask_ratio"]) == (
            96,
            8,
            0.75,
        )
        assert (args["blr"], args["warmup_epochs"]) == (1.0e-4, 5)
        assert len(args["bands"]) == 10 and cfg["trainer"]["max_epochs"] == 50
        assert cfg["data"]["init_args"]["composition"] == path.stem


@pytest.mark.parametrize("config", PRETRAIN, ids=[p.stem for p in PRETRAIN])
def test_pretrain_config_fast_dev_run(
    config: Path, demo_pool: Path, tmp_path: Path
) -> None:
    override = tiny_overrides(tmp_path, demo_pool, config.stem)
    code = main(
        [
            "fit",
            "--config",
            str(config),
            "--config",
            str(override),
            "--trainer.fast_dev_run=1",
        ]
    )
    assert code == 0
    assert (tmp_path / "reconstructions" / "epoch_0000.png").exists()


def test_torchgeo_cli_fit(demo_pool: Path, tmp_path: Path) -> None:
    from torchgeo.main import main as torchgeo_main

    # TorchGeo's CLI has no `checkpoint` section (ours): the config says to drop it
    cfg = yaml.safe_load((ROOT / "configs" / "pretrain" / "europe.yaml").read_text())
    del cfg["checkpoint"]
    config = tmp_path / "europe.yaml"
    config.write_text(yaml.safe_dump(cfg))
    override = tiny_overrides(tmp_path, demo_pool, "europe")
    torchgeo_main(
        [
            "fit",
            "--config",
            str(config),
            "--config",
            str(override),
            "--trainer.fast_dev_run=1",
        ]
    )


def test_quickstart_fast_dev_run(demo_pool: Path, tmp_path: Path) -> None:
    override = yaml.safe_load(
        tiny_overrides(tmp_path, demo_pool, "quickstart").read_text()
    )
    override["data"]["init_args"]["pool"] = {
        "class_path": "torchgeo_composition.datasets.SyntheticSentinel2Pool",
        "init_args": {"root": str(demo_pool), "num_chips": 36, "size": 16, "seed": 0},
    }
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(override))
    config = ROOT / "configs" / "quickstart.yaml"
    cfg = yaml.safe_load(config.read_text())
    assert cfg["model"]["init_args"]["model"] == "satmae_vit_tiny_patch8_96"
    code = main(
        [
            "fit",
            "--config",
            str(config),
            "--config",
            str(path),
            "--trainer.fast_dev_run=1",
        ]
    )
    assert code == 0
    assert (tmp_path / "reconstructions" / "epoch_0000.png").exists()
