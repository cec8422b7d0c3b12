"""What a resumed ``fit`` needs besides Lightning's own checkpoint state.

Lightning restores the model, the optimizers, the schedulers and the loops. The
:class:`ResumeState` callback adds the random number generators (so masks and
augmentations continue as in an uninterrupted run) and the logger's version (so
a resumed run logs into the folder of the run it continues);
:func:`keep_csv_rows` keeps the rows that a
:class:`~lightning.pytorch.loggers.CSVLogger` wrote before the interruption.
"""

from __future__ import annotations

import csv
import math
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger, Logger
from torch import Tensor

from ..serialization import load_checkpoint

__all__ = ["ResumeInfo", "ResumeState", "keep_csv_rows", "read_resume_info"]


def _capture() -> dict[str, Any]:
    """Return the state of every random number generator, as plain data."""
    # the global generator is the one seed_everything seeds
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)  # noqa: NPY002
    keys = np.asarray(keys)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [
            str(kind),
            torch.from_numpy(keys.astype(np.int64)),
            pos,
            has_gauss,
            gauss,
        ],
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore(state: dict[str, Any]) -> None:
    """Set every random number generator from :func:`_capture`'s result."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))  # noqa: NPY002
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _logger_version(logger: Logger) -> int | str | None:
    version = logger.version
    return version if isinstance(version, int | str) else None


def _load_loader_states(trainer: Trainer) -> None:
    """Give stateful train loaders the position their checkpoint saved.

    Lightning loads it only when it builds the train loaders after restoring the
    loops; a model that reads ``estimated_stepping_batches`` in
    ``configure_optimizers`` has them built before, and the saved position would
    be dropped. Load it here and start the epoch's iterator again.
    """
    loop = trainer.fit_loop
    states = getattr(loop, "_combined_loader_states_to_load", None)
    loader = getattr(loop, "_combined_loader", None)
    fetcher = getattr(loop, "_data_fetcher", None)
    if not states or loader is None or fetcher is None:
        return
    loader._load_state_dicts(states)
    loop._combined_loader_states_to_load = []
    iter(fetcher)


class ResumeState(Callback):
    """Store the random state and the logger's version in every checkpoint.

    The random state is taken when the checkpoint is written (after a training
    batch) and restored when the resumed run starts training, after Lightning
    prepared its data loaders: the next draws are those of the uninterrupted
    run (a loader draws a seed when an epoch starts, in both runs). Validation
    during ``fit`` gives training back the state it found, so a run continues
    identically whether or not it validated in between.
    """

    def __init__(self) -> None:
        """Initialise the callback (it has no arguments)."""
        self._pending: dict[str, Any] | None = None
        self._after_batch: dict[str, Any] | None = None

    def state_dict(self) -> dict[str, Any]:
        """Return the random state and the logger's version.

        Returns:
            Plain data stored in the checkpoint.
        """
        trainer = getattr(self, "_trainer", None)
        state: dict[str, Any] = {"rng": _capture()}
        if trainer is not None:
            loggers = trainer.loggers
            state["logger_version"] = _logger_version(loggers[0]) if loggers else None
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the random state for the start of training.

        Args:
            state_dict: What :meth:`state_dict` returned.
        """
        rng = state_dict.get("rng")
        self._pending = rng
        # a validation that the resumed run repeats gives this state back too
        self._after_batch = rng

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Remember the trainer (for :meth:`state_dict`).

        Args:
            trainer: The trainer.
            pl_module: The model.
            stage: ``fit``, ``validate``, ``test`` or ``predict``.
        """
        self._trainer = trainer

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Remember the random state after a training batch (see :meth:`on_validation_end`).

        Args:
            trainer: The trainer.
            pl_module: The model.
            outputs: What ``training_step`` returned.
            batch: The batch.
            batch_idx: Its index in the epoch.
        """
        self._after_batch = _capture()

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Give training back the random state it had before validation.

        So a run continues identically whether or not it validated in between,
        e.g. a run resumed from a checkpoint written before an epoch's validation.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        if trainer.training or trainer.sanity_checking or self._after_batch is None:
            return
        if trainer.state.fn == "fit":
            _restore(self._after_batch)

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Flush the loggers, so the rows before a checkpoint survive a hard kill.

        Args:
            trainer: The trainer.
            pl_module: The model.
            checkpoint: The checkpoint being written.
        """
        for logger in trainer.loggers:
            logger.save()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Restore the random state and the train loaders' position of a checkpoint.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        _load_loader_states(trainer)
        if self._pending is not None:
            _restore(self._pending)
            self._pending = None


class ResumeInfo:
    """What the CLI reads from a checkpoint before it builds the trainer.

    Args:
        path: The checkpoint.
        global_step: Its optimizer step.
        logger_version: Version of the first logger of the run that wrote it.
    """

    def __init__(
        self, path: Path, global_step: int, logger_version: int | str | None
    ) -> None:
        """Initialise the record.

        Args:
            path: The checkpoint.
            global_step: Its optimizer step.
            logger_version: Version of the first logger of the run that wrote it.
        """
        self.path = path
        self.global_step = global_step
        self.logger_version = logger_version


def read_resume_info(path: Path) -> ResumeInfo:
    """Read the step and the logger version of a checkpoint (tensors mapped, not read).

    Args:
        path: A Lightning checkpoint.

    Returns:
        The record.

    Raises:
        ValueError: If the file is not a Lightning checkpoint.
    """
    ckpt = load_checkpoint(path, "ckpt_path")
    if not isinstance(ckpt, dict) or "global_step" not in ckpt:
        raise ValueError(
            f"ckpt_path: {str(path)!r} is not a Lightning training checkpoint "
            "(no 'global_step')"
        )
    state = (ckpt.get("callbacks") or {}).get(ResumeState.__qualname__) or {}
    return ResumeInfo(path, int(ckpt["global_step"]), state.get("logger_version"))


def _number(text: str) -> float:
    """Read a CSV cell as written (integers stay integers, e.g. ``epoch``)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def keep_csv_rows(logger: CSVLogger, before_step: int) -> int:
    """Keep the rows of ``metrics.csv`` logged before ``before_step``.

    Lightning's CSV logger deletes an existing ``metrics.csv`` when it starts;
    the rows logged before the checkpoint are read first and logged again, so
    the file holds the whole run. Rows logged after the checkpoint (the steps
    that the resumed run repeats) are dropped.

    Args:
        logger: The logger of the resumed run (same folder as before).
        before_step: The checkpoint's global step.

    Returns:
        The number of rows kept.
    """
    path = Path(logger.log_dir) / "metrics.csv"
    if not path.is_file():
        return 0
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    with warnings.catch_warnings():  # "... will be deleted": the rows are kept here
        warnings.filterwarnings("ignore", message=r"Experiment logs directory")
        logger.experiment  # noqa: B018 (starts the writer, which empties the file)
    kept = 0
    for row in rows:
        step = int(float(row.pop("step")))
        if step >= before_step:
            continue
        numbers = {str(k): _number(v) for k, v in row.items() if v not in ("", None)}
        values: dict[str, Tensor | float] = {
            k: v for k, v in numbers.items() if not math.isnan(v)
        }
        if values:
            logger.log_metrics(values, step=step)
            kept += 1
    logger.save()
    return kept
