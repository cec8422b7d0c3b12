"""The resolved LightningCLI configs of the study's pretraining and probe steps.

Pretraining and downstream steps are ordinary ``torchgeo-composition fit`` runs:
the study writes each step's resolved config (its data, its encoder, logging and
checkpoints inside the step folder) to the step folder and runs the CLI on it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ...files import write_text
from ..entries import STRATEGY_OPTIONS
from ..protocols import protocol_run_config
from ..schema import (
    ENCODER_PLACEHOLDER,
    SELECTION_OPTIONS,
    CompositionEntry,
    DownstreamEval,
    StudyConfig,
)

__all__ = ["pretrain_config", "probe_config", "selection_of", "write_yaml"]

_CSV_LOGGER = "lightning.pytorch.loggers.CSVLogger"
_CHECKPOINT = "torchgeo_composition.cli.checkpoint.ResumableCheckpoint"
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
    return write_text(path, yaml.safe_dump(dict(data), sort_keys=False))


def _with_logging(
    config: dict[str, Any], step_dir: Path, version: str, checkpoint: bool
) -> dict[str, Any]:
    """Point the trainer's outputs into the step folder.

    With ``checkpoint``, ``checkpoints/last.ckpt`` is written after every epoch,
    when the run receives SIGTERM (after the current batch) and at the end of
    training (the command line's
    :class:`~torchgeo_composition.cli.ResumableCheckpoint`), so that a killed
    run can continue from it.
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
                    "save_last": True,
                    "save_top_k": 0,
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
        selection: ``pool``, ``composition``, ``budget``, ``selection_seed``,
            ``on_shortfall`` (and ``stratify_by`` / ``filters`` and the
            strategy options when given) of the pretraining set; its
            ``selection_reference``, if any, is the reference's manifest path.
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
    for key in (*SELECTION_OPTIONS, *STRATEGY_OPTIONS):
        if key in selection:
            init[key] = copy.deepcopy(selection[key])
    return _with_logging(config, step_dir, "fit", checkpoint=True)


def selection_of(study: StudyConfig, composition: CompositionEntry) -> dict[str, Any]:
    """Return the selection arguments of one composition of a study.

    Args:
        study: The study.
        composition: One of its compositions.

    Returns:
        ``pool``, ``composition``, ``budget``, ``selection_seed``,
        ``on_shortfall``, and ``stratify_by`` and ``filters`` when the study
        gives them, and the composition's strategy options (``selection``,
        ``selection_reference`` as a composition name, ``entropy_range``,
        ``entropy_recipe``) when it has them (left out otherwise, so the step
        hashes of a study written before they existed stay the same).
    """
    selection = {
        "pool": study.pool,
        "composition": composition.spec,
        "budget": study.budget,
        "selection_seed": study.selection_seed,
        "on_shortfall": study.on_shortfall,
    }
    for key in SELECTION_OPTIONS:
        value = getattr(study, key)
        if value is not None:
            selection[key] = copy.deepcopy(value)
    return selection | composition.strategy()


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
    protocol: str | None = None,
) -> dict[str, Any]:
    """Return the resolved ``fit`` config of one downstream run.

    Every :data:`~torchgeo_composition.study.schema.ENCODER_PLACEHOLDER` in the
    model config becomes the encoder path; a ``satmae:`` backbone spec using it
    also gets the encoder's architecture (image size, dims, groups) unless given.
    With a ``protocol``, the model is that protocol's (see
    :func:`~torchgeo_composition.study.protocols.protocol_run_config`) and the
    run keeps its last checkpoint for the ``test`` that follows.

    Args:
        evaluation: The downstream evaluation.
        repeat: Repeat number (``seed_everything = evaluation.seed + repeat``).
        encoder: Exported encoder checkpoint.
        encoder_config: The encoder's architecture arguments.
        step_dir: The step folder.
        protocol: One of the evaluation's protocols, or ``None``.

    Returns:
        The LightningCLI config.
    """
    config = copy.deepcopy(evaluation.config)
    config["seed_everything"] = evaluation.seed + repeat
    config["model"] = _fill_encoder(config["model"], str(encoder), encoder_config)
    if protocol is None:
        return _with_logging(config, step_dir, "fit", checkpoint=evaluation.test)
    specs = {p.name: p for p in evaluation.protocols or ()}
    if protocol not in specs:
        raise ValueError(
            f"downstream {evaluation.name!r} has no protocol {protocol!r}; its "
            f"protocols are {list(specs)}"
        )
    config = protocol_run_config(config, specs[protocol], evaluation.region_args())
    return _with_logging(config, step_dir, "fit", checkpoint=True)
