from pathlib import Path

import torch
import yaml

from torchgeo_composition.callbacks import CHECKPOINT_KEY, CompositionSummary
from torchgeo_composition.cli import lightning_main

ROOT = Path(__file__).parents[2]


BANDS = ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"]


def _config(tmp_path: Path) -> Path:
    config = {
        "seed_everything": 0,
        "trainer": {
            "accelerator": "cpu",
            "max_epochs": 1,
            "limit_train_batches": 2,
            "limit_val_batches": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(tmp_path / "run"),
            "logger": {
                "class_path": "lightning.pytorch.loggers.TensorBoardLogger",
                "init_args": {"save_dir": str(tmp_path / "run")},
            },
        },
        "model": {
            "class_path": "torchgeo_composition.trainers.SatMAETask",
            "init_args": {
                "model": "satmae_vit_small_patch8_96",
                "img_size": 8,
                "patch_size": 4,
                "embed_dim": 32,
                "depth": 1,
                "num_heads": 2,
                "channel_embed": 8,
                "decoder_embed_dim": 16,
                "decoder_depth": 1,
                "decoder_num_heads": 2,
                "decoder_channel_embed": 4,
                "plot_every_n_epochs": 0,
                "bands": BANDS,
            },
        },
        "data": {
            "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule",
            "init_args": {
                "pool": {
                    "class_path": "torchgeo_composition.datasets.SyntheticSentinel2Pool",
                    "init_args": {
                        "root": str(tmp_path / "pool"),
                        "num_chips": 24,
                        "size": 8,
                    },
                },
                "composition": "uniform",
                "num_samples": 12,
                "val_fraction": 0.0,
                "batch_size": 4,
                "crop_size": 8,
                "bands": BANDS,
            },
        },
    }
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_callbacks_through_cli_fast_dev_run(tmp_path: Path) -> None:
    cli = lightning_main(
        [
            "fit",
            "--config",
            str(_config(tmp_path)),
            "--config",
            str(ROOT / "configs/callbacks/spectral_entropy.yaml"),
            "--trainer.fast_dev_run",
            "true",
        ]
    )
    metrics = cli.trainer.callback_metrics
    mean = float(metrics["train_spectral_entropy/mean"])
    assert 0.0 < mean < torch.log(torch.tensor(32.0)).item()
    assert "train_spectral_entropy/epoch_mean" in metrics
    # CompositionSummary picked up the datamodule's selection and stores it
    (summary_cb,) = [
        c for c in cli.trainer.callbacks if isinstance(c, CompositionSummary)
    ]
    assert summary_cb.summary == cli.datamodule.summary
    assert sum(summary_cb.summary["counts"].values()) == 12
    assert summary_cb.metrics()["composition/num_samples"] == 12
    checkpoint: dict[str, object] = {}
    summary_cb.on_save_checkpoint(cli.trainer, cli.model, checkpoint)
    assert checkpoint[CHECKPOINT_KEY] == cli.datamodule.summary
