"""Check the study's Lightning configs, and build objects from class specs.

Every model and datamodule a study will run is parsed with jsonargparse (without
being instantiated) when the study is loaded, so a wrong class path or argument
is reported before any step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...plugins import load_plugins
from ..schema import StudyConfig
from .configs import pretrain_config, probe_config, selection_of

__all__ = ["check_lightning_configs", "instantiate"]


def _parser() -> Any:
    from jsonargparse import ArgumentParser
    from lightning.pytorch import LightningDataModule, LightningModule

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

    load_plugins()
    parser = ArgumentParser(exit_on_error=False)
    parser.add_subclass_arguments(base, "obj", required=True)
    cfg = parser.parse_object({"obj": dict(spec)})
    return parser.instantiate(cfg).obj
