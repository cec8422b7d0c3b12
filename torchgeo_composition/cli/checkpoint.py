"""The checkpoint callback of ``fit``: a ``last.ckpt`` that a run can resume from."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.types import STEP_OUTPUT

__all__ = ["ResumableCheckpoint"]


class ResumableCheckpoint(ModelCheckpoint):
    """A :class:`~lightning.pytorch.callbacks.ModelCheckpoint` that keeps ``last.ckpt`` current.

    Snapshots follow Lightning's arguments (``save_top_k``, ``every_n_epochs`` ...).
    Besides them, ``last.ckpt`` (always this name: no ``last-v1.ckpt``) is written

    * at the end of every training epoch (after validation, if it runs then),
    * every ``last_every_n_train_steps`` optimizer steps, if set (this works
      together with ``every_n_epochs``, which Lightning's own
      ``every_n_train_steps`` does not),
    * after the training batch during which the process received SIGTERM (in a
      single-process run; Lightning then stops the run, and the command exits
      with code 143),
    * at the end of training.

    It is written after a complete training batch, so ``--ckpt_path last``
    continues with the next batch, learning-rate step and logger step.
    """

    def __init__(
        self,
        dirpath: str | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool = True,
        save_top_k: int = 0,
        save_weights_only: bool = False,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        train_time_interval: timedelta | None = None,
        every_n_epochs: int | None = None,
        save_on_train_epoch_end: bool | None = None,
        last_every_n_train_steps: int | None = None,
    ) -> None:
        """Initialise the callback.

        Args:
            dirpath: Folder of the checkpoints; the command line makes it
                ``<trainer.default_root_dir>/checkpoints``.
            filename: Pattern of the snapshots' names (Lightning's default:
                ``{epoch}-{step}``).
            monitor: Metric that ranks snapshots (``None``: the latest are kept).
            verbose: Whether to print every save.
            save_last: Whether to keep ``last.ckpt`` (needed by
                ``--ckpt_path last``).
            save_top_k: Snapshots kept besides ``last.ckpt``: 0 none, -1 all,
                k the best k by ``monitor`` (the latest one without it).
            save_weights_only: Whether to save the weights only (such a
                checkpoint cannot resume training).
            mode: ``min`` or ``max`` of ``monitor``.
            auto_insert_metric_name: Whether snapshot names hold metric names.
            every_n_train_steps: Snapshot every this many optimizer steps.
            train_time_interval: Snapshot every this long.
            every_n_epochs: Snapshot every this many epochs.
            save_on_train_epoch_end: Whether to snapshot at the end of the
                training epoch rather than after validation (``None``: Lightning
                decides).
            last_every_n_train_steps: Also write ``last.ckpt`` every this many
                optimizer steps (``None``: only at the end of epochs, on SIGTERM
                and at the end).

        Raises:
            ValueError: If ``last_every_n_train_steps`` is not positive.
        """
        if last_every_n_train_steps is not None and last_every_n_train_steps < 1:
            raise ValueError(
                "checkpoint.last_every_n_train_steps must be a positive number of "
                f"steps or null, got {last_every_n_train_steps}"
            )
        super().__init__(
            dirpath=dirpath,
            filename=filename,
            monitor=monitor,
            verbose=verbose,
            save_last=save_last,
            save_top_k=save_top_k,
            save_weights_only=save_weights_only,
            mode=mode,
            auto_insert_metric_name=auto_insert_metric_name,
            every_n_train_steps=every_n_train_steps,
            train_time_interval=train_time_interval,
            every_n_epochs=every_n_epochs,
            save_on_train_epoch_end=save_on_train_epoch_end,
            enable_version_counter=False,
        )
        self.last_every_n_train_steps = last_every_n_train_steps

    def _save_last(self, trainer: Trainer) -> None:
        """Write ``last.ckpt`` now, unless this step is saved already."""
        if not self.save_last or self._should_skip_saving_checkpoint(trainer):
            return
        self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: STEP_OUTPUT,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """Snapshot as configured; write ``last.ckpt`` when due or on SIGTERM.

        Args:
            trainer: The trainer.
            pl_module: The model.
            outputs: What ``training_step`` returned.
            batch: The batch.
            batch_idx: Its index in the epoch.
        """
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        every = self.last_every_n_train_steps
        due = every is not None and trainer.global_step % every == 0
        # Under DDP the signal reaches the ranks at different times, and a save
        # waits for every rank: only a single process saves on SIGTERM here.
        stopping = trainer.received_sigterm and trainer.world_size == 1
        if due or stopping:
            self._save_last(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Snapshot as configured; write ``last.ckpt``.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Snapshot as configured; write ``last.ckpt`` after an epoch's validation.

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last(trainer)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Write ``last.ckpt`` at the end of training (not after ``fast_dev_run``).

        Args:
            trainer: The trainer.
            pl_module: The model.
        """
        if not getattr(trainer, "fast_dev_run", False):
            super().on_train_end(trainer, pl_module)
