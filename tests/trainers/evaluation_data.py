"""A tiny k-NN / linear / fine-tune config on the synthetic land-cover data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

BANDS = ["B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12"]
TINY = {"name": "satmae:satmae_vit_tiny_patch8_96", "input_size": 16, "depth": 2}


def write_config(
    tmp: Path, model: dict[str, Any], data: dict[str, Any] | None = None, **trainer: Any
) -> Path:
    """Write a LightningCLI config with a quiet trainer; return its path.

    ``data`` updates the synthetic land-cover arguments, or replaces the whole
    section when it has a ``class_path``.
    """
    section = dict(data) if data and "class_path" in data else None
    config = {
        "seed_everything": 0,
        "model": model,
        "data": section
        or {
            "class_path": "torchgeo_composition.datamodules.SyntheticLandCoverDataModule",
            "init_args": {
                "num_samples": 96,
                "size": 16,
                "augment": False,
                "locations": True,
                "batch_size": 16,
            }
            | (data or {}),
        },
        "trainer": {
            "max_epochs": 1,
            "default_root_dir": str(tmp / "runs"),
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp / "runs"), "name": "logs"},
            },
        }
        | trainer,
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
