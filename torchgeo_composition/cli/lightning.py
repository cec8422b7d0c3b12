"""``fit | validate | test | predict``: Lightning's command line with resume built in.

:class:`CompositionCLI` is a :class:`~lightning.pytorch.cli.LightningCLI` whose
model and datamodule are any :class:`torchgeo.trainers.BaseTask` and
:class:`torchgeo.datamodules.BaseDataModule`. It adds

* a ``checkpoint`` section (a :class:`ResumableCheckpoint`, writing
  ``<trainer.default_root_dir>/checkpoints/last.ckpt``) that a callbacks config
  given as a second ``--config`` cannot remove;
* ``--ckpt_path last`` that finds that file or fails, and a refusal to start a
  fresh run over the ``last.ckpt`` of an earlier one;
* resumed runs that log into the folder of the run they continue
  (:mod:`~torchgeo_composition.cli.resume`);
* checks before any work: writable output folders, an existing ``ckpt_path``;
  and after it: ``validate`` / ``test`` that ran no batch fail.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch.distributed as dist
from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from .checkpoint import ResumableCheckpoint
from .resume import ResumeInfo, ResumeState, keep_csv_rows, read_resume_info

__all__ = ["CompositionCLI", "end_distributed"]

#: ``ckpt_path`` values that Lightning resolves itself.
_LIGHTNING_CKPT = ("best", "hpc", "registry")


def end_distributed(barrier: bool) -> None:
    """Destroy the process group of a distributed run, if there is one.

    Without this, gloo's threads are still alive when the interpreter exits, and
    the process may abort (``terminate called without an active exception``).

    Args:
        barrier: Wait for every rank first (after a run that ended normally).
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if barrier:
        dist.barrier()
    dist.destroy_process_group()


def _is_checkpoint_class(value: Any) -> bool:
    """Whether a parsed ``trainer.callbacks`` entry is a ModelCheckpoint."""
    path = value.get("class_path") if isinstance(value, Namespace | dict) else None
    if not isinstance(path, str) or "." not in path:
        return False
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return isinstance(cls, type) and issubclass(cls, ModelCheckpoint)


def _as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, bool):
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _check_writable(path: str, key: str) -> None:
    """Create ``path`` if needed and write a probe file into it.

    Raises:
        ValueError: Naming ``key`` when the folder cannot be written.
    """
    if "://" in path:  # remote storage: checked by its own client
        return
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ValueError(
            f"{key}: cannot write to {path!r} ({reason}); choose a writable folder"
        ) from err


class CompositionCLI(LightningCLI):
    """LightningCLI with a ``checkpoint`` section, resume and early input checks.

    Args:
        args: Command-line arguments (without the program name); ``None`` reads
            :data:`sys.argv`.
        parser_kwargs: Arguments of the parsers (see LightningCLI).
    """

    def __init__(
        self, args: Sequence[str] | None, parser_kwargs: dict[str, Any]
    ) -> None:
        """Parse ``args``, build the model, datamodule and trainer, and run.

        Args:
            args: Command-line arguments (without the program name); ``None``
                reads :data:`sys.argv`.
            parser_kwargs: Arguments of the parsers (see LightningCLI).
        """
        from ..compat import BaseDataModule, BaseTask

        self.resume: ResumeInfo | None = None
        self._own_checkpoint = True
        super().__init__(
            model_class=BaseTask,
            datamodule_class=BaseDataModule,
            seed_everything_default=0,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"callbacks": [ResumeState()]},
            parser_kwargs=parser_kwargs,
            args=list(args) if args is not None else None,
        )

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add the ``checkpoint`` section.

        Args:
            parser: The parser of one subcommand.
        """
        parser.add_lightning_class_args(ResumableCheckpoint, "checkpoint")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse, then complete and check the run's paths before anything is built.

        Args:
            parser: The main parser.
            args: Command-line arguments.
        """
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand:
            self._prepare(subcommand, self.config[subcommand])

    def _prepare(self, subcommand: str, cfg: Namespace) -> None:
        trainer = cfg.trainer
        root = trainer.default_root_dir or os.getcwd()
        _check_writable(str(root), "trainer.default_root_dir")
        for logger in _as_list(trainer.logger):
            save_dir = (logger.get("init_args") or {}).get("save_dir")
            if isinstance(save_dir, str):
                _check_writable(save_dir, "trainer.logger.init_args.save_dir")
        if cfg.checkpoint.dirpath is None:
            cfg.checkpoint.dirpath = os.path.join(root, "checkpoints")
        explicit = [c for c in _as_list(trainer.callbacks) if _is_checkpoint_class(c)]
        self._own_checkpoint = (
            not explicit and trainer.enable_checkpointing is not False
        )
        ckpt_path = cfg.get("ckpt_path")
        dirs = [cfg.checkpoint.dirpath] if self._own_checkpoint else []
        dirs += [c.init_args.dirpath for c in explicit if c.get("init_args")]
        if ckpt_path == "last":
            ckpt_path = cfg.ckpt_path = self._find_last([d for d in dirs if d])
        elif ckpt_path is not None and ckpt_path not in _LIGHTNING_CKPT:
            if "://" not in ckpt_path and not Path(ckpt_path).is_file():
                raise ValueError(
                    f"ckpt_path: no checkpoint file at {ckpt_path!r}; give the path "
                    "of a .ckpt file, or 'last' to continue this run"
                )
        if subcommand != "fit":
            return
        if self._own_checkpoint:
            _check_writable(cfg.checkpoint.dirpath, "checkpoint.dirpath")
            last = Path(cfg.checkpoint.dirpath) / "last.ckpt"
            if ckpt_path is None and last.exists() and not trainer.fast_dev_run:
                raise ValueError(
                    f"checkpoint.dirpath: {str(last)!r} is the checkpoint of an "
                    "earlier run; continue it with --ckpt_path last, or start afresh "
                    "with another --trainer.default_root_dir (or remove that file)"
                )
        if (
            ckpt_path is not None
            and "://" not in ckpt_path
            and Path(ckpt_path).is_file()
        ):
            self.resume = read_resume_info(Path(ckpt_path))
            self._keep_logger_version(trainer)

    @staticmethod
    def _find_last(dirs: list[str]) -> str:
        found = [
            Path(d) / "last.ckpt" for d in dirs if (Path(d) / "last.ckpt").exists()
        ]
        if not found:
            where = ", ".join(repr(d) for d in dirs) or "no checkpoint folder"
            raise ValueError(
                f"ckpt_path: 'last' asks to continue a run, but there is no last.ckpt "
                f"in {where}; run without --ckpt_path to start afresh, or set "
                "--trainer.default_root_dir to the folder of the run to continue"
            )
        return str(max(found, key=lambda p: p.stat().st_mtime))

    def _keep_logger_version(self, trainer: Namespace) -> None:
        """Give a configured logger without a version the one of the resumed run."""
        version = self.resume.logger_version if self.resume else None
        loggers = _as_list(trainer.logger)
        if version is None or not loggers:
            return
        init = loggers[0].get("init_args")
        if isinstance(init, Namespace) and "version" in init and init.version is None:
            init.version = version

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """Build the trainer with the ``checkpoint`` section's callback.

        The callback is left out when ``trainer.enable_checkpointing`` is false or
        ``trainer.callbacks`` holds a ModelCheckpoint of its own. A resumed run
        with Lightning's default logger logs into the version it continues.

        Args:
            kwargs: Trainer arguments that replace the configured ones.

        Returns:
            The trainer.
        """
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        keys = self._parser(self.subcommand).callback_keys
        extra = [self._get(self.config_init, key) for key in keys]
        if not self._own_checkpoint:
            extra = [c for c in extra if not isinstance(c, ResumableCheckpoint)]
        version = self.resume.logger_version if self.resume else None
        if config.get("logger") in (None, True) and version is not None:
            config["logger"] = self._default_logger(config, version)
        return self._instantiate_trainer(config, extra)

    @staticmethod
    def _default_logger(config: dict[str, Any], version: int | str) -> Logger:
        """Lightning's default logger, with the version of the resumed run."""
        root = config.get("default_root_dir") or os.getcwd()
        if importlib.util.find_spec("tensorboard") or importlib.util.find_spec(
            "tensorboardX"
        ):
            return TensorBoardLogger(save_dir=root, version=version)
        return CSVLogger(save_dir=root, version=version)

    def before_fit(self) -> None:
        """Keep the CSV rows logged before the checkpoint of a resumed run."""
        if self.resume is None:
            return
        for logger in self.trainer.loggers:
            if isinstance(logger, CSVLogger):
                keep_csv_rows(logger, self.resume.global_step)

    def after_fit(self) -> None:
        """End the process group of a distributed run."""
        end_distributed(barrier=True)

    def after_validate(self) -> None:
        """Fail when no validation batch ran; end a distributed run.

        Raises:
            ValueError: If the datamodule gave no validation batch.
        """
        ran = sum(self.trainer.num_val_batches)
        end_distributed(barrier=True)
        if not ran:
            raise ValueError(
                "validate: the datamodule has no validation data (e.g. "
                "data.init_args.val_fraction is 0); nothing was validated"
            )

    def after_test(self) -> None:
        """Fail when no test batch ran; end a distributed run.

        Raises:
            ValueError: If the datamodule gave no test batch.
        """
        ran = sum(self.trainer.num_test_batches)
        end_distributed(barrier=True)
        if not ran:
            raise ValueError(
                "test: the datamodule has no test data; nothing was tested"
            )

    def after_predict(self) -> None:
        """End the process group of a distributed run."""
        end_distributed(barrier=True)
