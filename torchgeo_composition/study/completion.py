"""A callback recording that a Lightning run really finished.

Lightning stops a run that receives SIGTERM gracefully and the process exits
with code 0, so the exit code cannot tell a finished run from a killed one. The
study adds :class:`RunCompletionMarker` to every step's trainer: it writes
``completed_<stage>.json`` only when ``fit`` (or ``test``) ends normally (also
after early stopping), never when the run is interrupted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

__all__ = ["RunCompletionMarker", "completion_path"]


def completion_path(step_dir: str | os.PathLike[str], stage: str) -> Path:
    """Return the marker file of a stage.

    Args:
        step_dir: The step folder.
        stage: ``fit`` or ``test``.

    Returns:
        ``<step_dir>/completed_<stage>.json``.
    """
    return Path(step_dir) / f"completed_{stage}.json"


class RunCompletionMarker(Callback):
    """Write ``completed_<stage>.json`` into a folder when a stage ends normally."""

    def __init__(self, dirpath: str) -> None:
        """Initialize a new RunCompletionMarker instance.

        Args:
            dirpath: Folder of the marker files (the study step's folder).
        """
        self.dirpath = dirpath

    def _write(self, trainer: Trainer, stage: str) -> None:
        if not trainer.is_global_zero:
            return
        from ..files import write_text

        data = {
            "stage": stage,
            "epoch": trainer.current_epoch,
            "global_step": trainer.global_step,
        }
        write_text(completion_path(self.dirpath, stage), json.dumps(data) + "\n")

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Mark the fit as complete.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        self._write(trainer, "fit")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Mark the test as complete.

        Args:
            trainer: The trainer.
            pl_module: The module.
        """
        self._write(trainer, "test")
