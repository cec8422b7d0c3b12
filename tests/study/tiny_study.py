"""A tiny study (2 compositions, 1 probe, 16 px SatMAE with one block) for the tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from torchgeo_composition.bands import SATMAE_BANDS

_TRAINER: dict[str, Any] = {
    "max_epochs": 1,
    "accelerator": "cpu",
    "devices": 1,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "num_sanity_val_steps": 0,
    "log_every_n_steps": 1,
}


def tiny_study(
    root: Path, output_dir: Path | None = None, baseline: bool = False
) -> dict[str, Any]:
    """Return the config of a tiny study on a 120-chip, 16 px synthetic pool.

    Args:
        root: Folder of the pool (shared between studies of one test).
        output_dir: Study directory (default ``root / "study"``).
        baseline: Add the no-pretraining baseline.

    Returns:
        The study config as plain data.
    """
    bands = list(SATMAE_BANDS)
    return {
        "name": "tiny",
        "output_dir": str(output_dir or root / "study"),
        "pool": {
            "class_path": "torchgeo_composition.datasets.SyntheticSentinel2Pool",
            "init_args": {"root": str(root / "pool"), "num_chips": 120, "size": 16},
        },
        "compositions": [
            "europe",
            {"name": "eu_af", "composition": {"europe": 1, "africa": 1}},
        ],
        "budget": 12,
        "seeds": [0],
        "pretrain": {
            "trainer": copy.deepcopy(_TRAINER),
            "model": {
                "class_path": "SatMAETask",
                "init_args": {
                    "model": "satmae_vit_tiny_patch8_96",
                    "bands": bands,
                    "img_size": 16,
                    "embed_dim": 32,
                    "depth": 1,
                    "num_heads": 2,
                    "channel_embed": 8,
                    "decoder_embed_dim": 16,
                    "decoder_depth": 1,
                    "decoder_num_heads": 2,
                    "decoder_channel_embed": 8,
                    "warmup_epochs": 0,
                    "plot_every_n_epochs": 0,
                },
            },
            "data": {
                "class_path": "ContinentStratifiedDataModule",
                "init_args": {
                    "batch_size": 6,
                    "val_fraction": 0.0,
                    "bands": bands,
                    "crop_size": 16,
                },
            },
        },
        "downstream": [
            {
                "name": "landcover",
                "repeats": 1,
                "metric": "val_OverallAccuracy",
                "data": {
                    "class_path": "SyntheticLandCoverDataModule",
                    "init_args": {"num_samples": 24, "size": 16, "batch_size": 8},
                },
                "model": {
                    "class_path": "FusionClassificationTask",
                    "init_args": {
                        "backbones": [
                            {
                                "name": "satmae:satmae_vit_tiny_patch8_96",
                                "checkpoint": "{encoder}",
                            }
                        ],
                        "bands": bands,
                        "num_classes": 6,
                        "lr": 0.01,
                    },
                },
                "trainer": copy.deepcopy(_TRAINER),
            }
        ],
        "diversity": {"bins": 16, "batch_size": 16},
        "baseline": baseline,
    }


def write_study(path: Path, config: dict[str, Any]) -> Path:
    """Write a study config as YAML.

    Args:
        path: Destination file.
        config: The config.

    Returns:
        ``path``.
    """
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
