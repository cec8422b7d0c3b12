"""A Lightning callback recording what a model is pretrained on."""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger

from ..sampling import format_counts_table, plot_selection_map, read_manifest
from ..serialization import load_checkpoint

__all__ = ["CHECKPOINT_KEY", "CompositionSummary", "read_checkpoint_composition"]

#: Checkpoint entry holding the selection summary.
CHECKPOINT_KEY = "composition"


def read_checkpoint_composition(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the selection summary stored in a checkpoint by :class:`CompositionSummary`.

    The file is read with ``weights_only=True`` and the allow-list of
    :func:`~torchgeo_composition.serialization.load_checkpoint`; nothing in it
    is run.

    Args:
        path: Checkpoint file.

    Returns:
        The summary (composition, seed, counts per stratum, entropy, pool
        fingerprint ...), or ``None`` if the checkpoint has none.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a checkpoint, holds a type outside the
            allow-list, or its summary is not a mapping (the message names the
            file).
    """
    ckpt = load_checkpoint(path)
    summary = ckpt.get(CHECKPOINT_KEY)
    if summary is None:
        return None
    if not isinstance(summary, dict):
        raise ValueError(
            f"checkpoint {str(path)!r} has a {CHECKPOINT_KEY!r} entry of type "
            f"{type(summary).__name__}; expected the mapping CompositionSummary "
            "writes"
        )
    return dict(summary)


class CompositionSummary(Callback):
    """Log the composition of the pretraining set and store it in checkpoints.

    At fit start the summary comes from ``manifest_path`` (a manifest written by
    :func:`~torchgeo_composition.sampling.write_manifest`, with its sidecar
    summary) or else from the datamodule's ``summary`` and ``manifest`` attributes
    (:class:`~torchgeo_composition.datamodules.ContinentStratifiedDataModule`). On
    the global-zero rank it then logs ``composition/count/{stratum}``,
    ``composition/num_samples`` and ``composition/continent_entropy`` (or
    ``composition/stratum_entropy`` for other region layers) to every logger, the
    counts table as text and the selection map as image to TensorBoard, and writes
    the map to ``{log_dir}/{map_filename}``. Every checkpoint saved during the
    run carries the summary under ``checkpoint["composition"]``; read it back with
    :func:`read_checkpoint_composition`.
    """

    def __init__(
        self,
        manifest_path: str | None = None,
        plot_map: bool = True,
        map_filename: str = "composition_map.png",
    ) -> None:
        """Initialize a new CompositionSummary instance.

        Args:
            manifest_path: Manifest (``.parquet`` / ``.csv``) to describe; ``None``
                uses the datamodule's selection.
            plot_map: Draw the selection map.
            map_filename: File name of the map in the log directory (``.png``).

        Raises:
            FileNotFoundError: If ``manifest_path`` does not exist.
            ValueError: If ``map_filename`` does not end in ``.png``.
        """
        super().__init__()
        if manifest_path is not None and not Path(manifest_path).is_file():
            raise FileNotFoundError(f"manifest_path {manifest_path!r} does not exist")
        if not map_filename.lower().endswith(".png"):
            raise ValueError(f"map_filename must end in '.png'; got {map_filename!r}")
        self.manifest_path = manifest_path
        self.plot_map = plot_map
        self.map_filename = map_filename
        self.summary: dict[str, Any] | None = None
        self.manifest: pd.DataFrame | None = None
        self.map_path: Path | None = None

    def _load(self, trainer: Trainer) -> None:
        if self.manifest_path is not None:
            self.manifest, self.summary = read_manifest(self.manifest_path)
            return
        datamodule = getattr(trainer, "datamodule", None)
        summary = getattr(datamodule, "summary", None)
        manifest = getattr(datamodule, "manifest", None)
        self.summary = copy.deepcopy(summary) if isinstance(summary, dict) else None
        self.manifest = manifest if isinstance(manifest, pd.DataFrame) else None

    def metrics(self) -> dict[str, float]:
        """Return the numbers logged at fit start.

        Returns:
            ``composition/...`` name -> value; empty without a summary.
        """
        if self.summary is None:
            return {}
        out = {
            f"composition/count/{name}": float(n)
            for name, n in self.summary.get("counts", {}).items()
        }
        if "num_samples" in self.summary:
            out["composition/num_samples"] = float(self.summary["num_samples"])
        for key, name in (
            ("continent_entropy_nats", "continent_entropy"),
            ("stratum_entropy_nats", "stratum_entropy"),
        ):
            if self.summary.get(key) is not None:
                out[f"composition/{name}"] = float(self.summary[key])
        return out

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Read the summary and log it (global-zero rank only).

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        self._load(trainer)
        if self.summary is None:
            warnings.warn(
                "CompositionSummary found no selection summary: give manifest_path "
                "or use a datamodule with a 'summary' attribute; checkpoints will "
                "not record the pretraining composition",
                UserWarning,
                stacklevel=2,
            )
            return
        if not trainer.is_global_zero:
            return
        metrics = self.metrics()
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=0)
            logger.log_hyperparams(
                {"composition": json.dumps(self.summary.get("composition"))}
            )
        if self.plot_map and self.manifest is not None and trainer.log_dir:
            self.map_path = plot_selection_map(
                self.manifest,
                Path(trainer.log_dir) / self.map_filename,
                title=f"pretraining set: {len(self.manifest):,} samples",
            )
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                writer = logger.experiment
                writer.add_text("composition/counts", format_counts_table(self.summary))
                if self.map_path is not None:
                    from matplotlib.image import imread

                    image = imread(self.map_path)[..., :3]
                    writer.add_image("composition/map", image, 0, dataformats="HWC")

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Store the summary in the checkpoint.

        Args:
            trainer: The trainer.
            pl_module: The module.
            checkpoint: The checkpoint dict being saved.
        """
        if self.summary is not None:
            checkpoint[CHECKPOINT_KEY] = copy.deepcopy(self.summary)

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore the summary from a checkpoint (e.g. when resuming).

        Args:
            trainer: The trainer.
            pl_module: The module.
            checkpoint: The loaded checkpoint dict.
        """
        if checkpoint.get(CHECKPOINT_KEY) is not None:
            self.summary = dict(checkpoint[CHECKPOINT_KEY])
