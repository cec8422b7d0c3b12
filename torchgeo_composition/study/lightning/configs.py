"""Lightning configs of the study's steps, their validation, and running the CLI.

Pretraining and downstream steps are ordinary ``torchgeo-composition fit`` runs:
the study writes each step's resolved LightningCLI config to the step folder and
runs the real CLI on it, as a subprocess by default (so every step uses whatever
strategy, devices and nodes its config gives) or in the current process.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import yaml

from .config import ENCODER_PLACEHOLDER

if TYPE_CHECKING:
    from .config import CompositionEntry, DownstreamEval, StudyConfig

__all__ = [
    "EXECUTORS",
    "Executor",
    "check_lightning_configs",
    "instantiate",
    "last_metric",
    "pretrain_config",
    "probe_config",
    "run_cli",
    "selection_of",
    "write_yaml",
]

Executor = Literal["subprocess", "inprocess"]

#: How Lightning steps run: a ``python -m torchgeo_composition.cli`` subprocess
#: (default) or the CLI called in the current process (faster for small studies).
EXECUTORS: tuple[str, ...] = ("subprocess", "inprocess")

_CSV_LOGGER = "lightning.pytorch.loggers.CSVLogger"
_CHECKPOINT = "lightning.pytorch.callbacks.ModelCheckpoint"
_COMPLETION = "torchgeo_composition.study.completion.RunCompletionMarker"
#: Architecture arguments of an exported encoder's config passed to ``satmae:``
#: backbones (``bands`` is given by the task itself).
_ENCODER_SKIP = ("bands",)


def write_yaml(path: Path, data: Mapping[str, Any]) -> Path:
    """Write ``data`` as YAML atomically.

    Args:
        path: Destination.
        data: Plain data.

    Returns:
        ``path``.
    """
    from ..files import write_text

    return write_text(path, yaml.safe_dump(dict(data), sort_keys=False))


def _with_logging(
    config: dict[str, Any],
    step_dir: Path,
    version: str,
    checkpoint: bool,
    every_epoch: bool = False,
) -> dict[str, Any]:
    """Point the trainer's outputs into the step folder.

    With ``checkpoint``, ``checkpoints/last.ckpt`` is written at the end of
    training, and with ``every_epoch`` also after every epoch (a link to the
    latest epoch's checkpoint), so that a killed run can continue from it.
    """
    trainer = config.setdefault("trainer", {}) or {}
    config["trainer"] = trainer
    trainer["default_root_dir"] = str(step_dir)
    if trainer.get("logger") in (None, True):
        trainer["logger"] = {
            "class_path": _CSV_LOGGER,
            "init_args": {
                "save_dir": str(step_dir),
                "name": "logs",
                "version": version,
            },
        }
    given = trainer.get("callbacks") or []
    callbacks = [given] if isinstance(given, Mapping) else list(given)
    callbacks.append(
        {
            "class_path": _COMPLETION,
            "init_args": {"dirpath": str(step_dir)},
        }
    )
    trainer["callbacks"] = callbacks
    if checkpoint:
        trainer["enable_checkpointing"] = True
        callbacks.append(
            {
                "class_path": _CHECKPOINT,
                "init_args": {
                    "dirpath": str(step_dir / "checkpoints"),
                    "save_last": "link" if every_epoch else True,
                    "save_top_k": 1 if every_epoch else 0,
                },
            }
        )
    elif not any("ModelCheckpoint" in str(c) for c in callbacks):
        trainer["enable_checkpointing"] = False
    return config


def pretrain_config(
    selection: Mapping[str, Any],
    pretrain: Mapping[str, Any],
    seed: int,
    manifest: Path,
    step_dir: Path,
) -> dict[str, Any]:
    """Return the resolved ``fit`` config of one pretraining run.

    Args:
        selection: ``pool``, ``composition``, ``budget``, ``selection_seed`` and
            ``on_shortfall`` of the pretraining set.
        pretrain: The study's pretraining config (model, data, trainer ...).
        seed: Pretraining seed (``seed_everything``).
        manifest: Manifest written by the composition step.
        step_dir: The step folder (logs, checkpoints).

    Returns:
        The LightningCLI config.
    """
    config = copy.deepcopy(dict(pretrain))
    config["seed_everything"] = seed
    data = config["data"]
    init = data.setdefault("init_args", {}) or {}
    data["init_args"] = init
    init.update(
        pool=copy.deepcopy(selection["pool"]),
        composition=copy.deepcopy(selection["composition"]),
        num_samples=selection["budget"],
        seed=selection["selection_seed"],
        manifest_path=str(manifest),
        on_shortfall=selection["on_shortfall"],
    )
    return _with_logging(config, step_dir, "fit", checkpoint=True, every_epoch=True)


def selection_of(study: StudyConfig, composition: CompositionEntry) -> dict[str, Any]:
    """Return the selection arguments of one composition of a study.

    Args:
        study: The study.
        composition: One of its compositions.

    Returns:
        ``pool``, ``composition``, ``budget``, ``selection_seed``, ``on_shortfall``.
    """
    return {
        "pool": study.pool,
        "composition": composition.spec,
        "budget": study.budget,
        "selection_seed": study.selection_seed,
        "on_shortfall": study.on_shortfall,
    }


def _fill_encoder(node: Any, encoder: str, arch: Mapping[str, Any]) -> Any:
    """Replace the placeholder by ``encoder`` and complete SatMAE backbone specs."""
    if isinstance(node, str):
        return node.replace(ENCODER_PLACEHOLDER, encoder)
    if isinstance(node, list):
        return [_fill_encoder(v, encoder, arch) for v in node]
    if isinstance(node, Mapping):
        out = {k: _fill_encoder(v, encoder, arch) for k, v in node.items()}
        uses = ENCODER_PLACEHOLDER in json.dumps(node)
        name = str(out.get("name", ""))
        if uses and name.startswith("satmae:") and "class_path" not in out:
            for key, value in arch.items():
                if key not in _ENCODER_SKIP:
                    out.setdefault(key, value)
        return out
    return node


def probe_config(
    evaluation: DownstreamEval,
    repeat: int,
    encoder: Path | str,
    encoder_config: Mapping[str, Any],
    step_dir: Path,
) -> dict[str, Any]:
    """Return the resolved ``fit`` config of one downstream run.

    Every :data:`~torchgeo_composition.study.config.ENCODER_PLACEHOLDER` in the
    model config becomes the encoder path; a ``satmae:`` backbone spec using it
    also gets the encoder's architecture (image size, dims, groups) unless given.

    Args:
        evaluation: The downstream evaluation.
        repeat: Repeat number (``seed_everything = evaluation.seed + repeat``).
        encoder: Exported encoder checkpoint.
        encoder_config: The encoder's architecture arguments.
        step_dir: The step folder.

    Returns:
        The LightningCLI config.
    """
    config = copy.deepcopy(evaluation.config)
    config["seed_everything"] = evaluation.seed + repeat
    config["model"] = _fill_encoder(config["model"], str(encoder), encoder_config)
    return _with_logging(config, step_dir, "fit", checkpoint=evaluation.test)


def _parser() -> Any:
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule, LightningModule

    from ..plugins import load_plugins

    load_plugins()
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(LightningModule, "model", required=True)
    parser.add_subclass_arguments(LightningDataModule, "data", required=True)
    return parser


def _check(parser: Any, config: Mapping[str, Any], what: str) -> None:
    try:
        parser.parse_object({"model": config["model"], "data": config["data"]})
    except Exception as err:  # jsonargparse raises ArgumentError and others
        raise ValueError(f"{what} is invalid: {err}") from err


def check_lightning_configs(study: StudyConfig) -> None:
    """Parse (without instantiating) every model and datamodule of a study.

    Args:
        study: The study.

    Raises:
        ValueError: If a class path cannot be resolved or its arguments do not
            fit (the message names the pretraining or downstream entry).
    """
    parser = _parser()
    selection = selection_of(study, study.compositions[0])
    tmp = Path(study.output_dir)
    config = pretrain_config(
        selection, study.pretrain, study.seeds[0], tmp / "m.parquet", tmp
    )
    _check(parser, config, "pretrain config")
    for evaluation in study.downstream:
        config = probe_config(evaluation, 0, tmp / "encoder.pth", {}, tmp)
        _check(parser, config, f"downstream {evaluation.name!r} config")


def instantiate(spec: Mapping[str, Any], base: type) -> Any:
    """Instantiate a ``class_path`` / ``init_args`` spec with jsonargparse.

    Args:
        spec: The spec (short class names of plugins resolve).
        base: Base class the spec must subclass.

    Returns:
        The object.
    """
    from jsonargparse import ArgumentParser

    from ..plugins import load_plugins

    load_plugins()
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(base, "obj", required=True)
    cfg = parser.parse_object({"obj": dict(spec)})
    return parser.instantiate(cfg).obj


def run_cli(args: list[str], log: Path, executor: Executor = "subprocess") -> None:
    """Run ``torchgeo-composition ARGS``, appending its output to ``log``.

    The step folder is ``log``'s folder; the run counts as finished only if the
    trainer wrote its ``completed_<stage>.json`` there
    (:class:`~torchgeo_composition.study.completion.RunCompletionMarker`), since a
    run stopped by SIGTERM also exits with code 0.

    Args:
        args: Command-line arguments (e.g. ``["fit", "--config", path]``).
        log: Log file.
        executor: ``subprocess`` or ``inprocess``.

    Raises:
        RuntimeError: If the command fails or was interrupted.
    """
    from .completion import completion_path

    marker = completion_path(log.parent, args[0])
    marker.unlink(missing_ok=True)
    _run_cli(args, log, executor)
    if not marker.is_file():
        raise RuntimeError(
            f"torchgeo-composition {args[0]} ended without completing (interrupted, "
            f"e.g. by SIGTERM); no {marker.name} was written"
        )


def _run_cli(args: list[str], log: Path, executor: Executor) -> None:
    if executor == "subprocess":
        with log.open("a") as out:
            out.write(
                f"$ {sys.executable} -m torchgeo_composition.cli {' '.join(args)}\n"
            )
            out.flush()
            code = subprocess.call(
                [sys.executable, "-m", "torchgeo_composition.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if code != 0:
            raise RuntimeError(f"torchgeo-composition {args[0]} exited with {code}")
        return
    from ..cli import main

    print(f"$ torchgeo-composition {' '.join(args)}", flush=True)
    try:
        code = main(args)
    except SystemExit as err:  # argument errors of the CLI
        code = err.code if isinstance(err.code, int) else 1
    if code:
        raise RuntimeError(f"torchgeo-composition {args[0]} exited with {code}")


def last_metric(metrics_csv: Path, metric: str) -> float:
    """Return the last logged value of ``metric`` in a CSVLogger file.

    Args:
        metrics_csv: ``metrics.csv`` of a :class:`~lightning.pytorch.loggers.CSVLogger`.
        metric: Column name.

    Returns:
        The last non-missing value.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the metric was never logged (the message lists the
            logged ones).
    """
    if not metrics_csv.is_file():
        raise FileNotFoundError(f"no metrics file {str(metrics_csv)!r}")
    table = pd.read_csv(metrics_csv)
    if metric not in table.columns or table[metric].dropna().empty:
        logged = [c for c in table.columns if c not in ("epoch", "step")]
        raise ValueError(
            f"metric {metric!r} was not logged in {str(metrics_csv)!r}; logged "
            f"metrics are {logged}"
        )
    return float(table[metric].dropna().iloc[-1])
