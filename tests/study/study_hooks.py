"""Test-only classes that study configs name by class path (``study_hooks.X``).

A study's Lightning steps may run in other processes: they import this module
through ``PYTHONPATH`` (see :func:`hooks_env`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lightning.pytorch import Callback, LightningModule, Trainer
from torch import Tensor

from torchgeo_composition.datasets import PoolDataset
from torchgeo_composition.diversity import DiversityMeasure

HERE = Path(__file__).parent


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05
) -> None:
    """Poll ``condition`` every ``poll`` seconds until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        time.sleep(poll)


def hooks_env() -> dict[str, str]:
    """Return the environment of a subprocess that can import this module."""
    env = dict(os.environ)
    paths = [str(HERE), str(HERE.parents[1])]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


class BlockTraining(Callback):
    """Block the first training batch until SIGTERM or until ``release`` exists.

    When it blocks, it writes ``marker`` (its pid), so a test knows the fit runs.
    """

    def __init__(self, marker: str, release: str | None = None) -> None:
        """Initialise the hook.

        Args:
            marker: File written (``{"pid": ...}``) when the batch blocks.
            release: File whose appearance unblocks the batch.
        """
        self.marker = marker
        self.release = release

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        """Block (see the class docstring).

        Args:
            trainer: The trainer.
            pl_module: The model.
            batch: The batch.
            batch_idx: Its index.
        """
        if Path(self.marker).exists():
            return
        # written whole, then renamed: a test that sees the file can read it
        partial = Path(f"{self.marker}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"pid": os.getpid()}))
        os.replace(partial, self.marker)
        while not trainer.received_sigterm:
            if self.release is not None and Path(self.release).exists():
                return
            time.sleep(0.02)


class FailOnce(Callback):
    """Fail at the start of epoch ``epoch``, once (until ``marker`` exists)."""

    def __init__(self, marker: str, epoch: int = 1) -> None:
        """Initialise the hook.

        Args:
            marker: File written when the failure is injected.
            epoch: Epoch at whose start the run fails.
        """
        self.marker = marker
        self.epoch = epoch

    def on_train_epoch_start(
        self, trainer: Trainer, pl_module: LightningModule
    ) -> None:
        """Fail (see the class docstring).

        Args:
            trainer: The trainer.
            pl_module: The model.

        Raises:
            RuntimeError: The injected failure.
        """
        if trainer.current_epoch == self.epoch and not Path(self.marker).exists():
            Path(self.marker).write_text("failed once")
            raise RuntimeError("injected failure")


class Brightness(DiversityMeasure):
    """Mean pixel value of each sample (a second measure for the study tests)."""

    name = "brightness"
    label = "mean brightness"

    def per_sample(self, images: Tensor) -> Tensor:
        """Return the mean of each sample.

        Args:
            images: Batch (B, C, H, W).

        Returns:
            Tensor (B,).
        """
        return images.float().mean(dim=(1, 2, 3))


class ExitingPool(PoolDataset):
    """A pool whose construction ends the process (a worker that dies mid-step)."""

    def __init__(self, code: int = 3) -> None:
        """End the process at once.

        Args:
            code: Its exit code.
        """
        os._exit(code)

    def index(self) -> Any:
        """Never reached."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Never reached."""
        raise NotImplementedError

    def __len__(self) -> int:
        """Never reached."""
        raise NotImplementedError
