"""Check the study's Lightning configs, and build objects from class specs.

Every model and datamodule a study will run is parsed with jsonargparse (without
being instantiated) when the study is loaded, so a wrong class path or argument
is reported before any step runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...plugins import load_plugins
from ..protocols import protocol_names
from ..schema import StudyConfig
from .configs import pretrain_config, probe_config, selection_of

__all__ = ["check_lightning_configs", "instantiate", "one_line", "root_cause"]

_KEY_LINE = re.compile(r'^Parser key "([^"]+)":\s*(.*)$')


def _chain(err: BaseException) -> list[BaseException]:
    """``err``, its cause (else its context, unless raised ``from None``) ..."""
    chain = [err]
    while True:
        last = chain[-1]
        inner = last.__cause__
        if inner is None and not last.__suppress_context__:
            inner = last.__context__
        if inner is None or any(inner is e for e in chain):
            return chain
        chain.append(inner)


def root_cause(err: BaseException) -> BaseException:
    """Return the innermost exception of ``err``'s chain (cause, else context).

    Args:
        err: An exception, e.g. jsonargparse's wrapper of a class's own error.

    Returns:
        The innermost exception (``err`` itself when it has no cause).
    """
    return _chain(err)[-1]


_STRUCTURE = (
    "Parser key",
    "Does not validate",
    "Subtypes:",
    "Errors:",
    "Given value",
    "- Expected a <class 'NoneType'>",
    "- Problem with given class_path",
)


def _parser_line(message: str) -> str:
    """The innermost complaint of a jsonargparse message, with the key it concerns."""
    keys: list[str] = []
    for line in (ln.strip() for ln in message.splitlines()):
        match = _KEY_LINE.match(line)
        if match is not None:
            keys.append(match.group(1))
            line = match.group(2)
        if line.startswith("- Problem with given class_path"):
            keys.append("init_args")
        if line and not line.startswith(_STRUCTURE):
            detail = line.removeprefix("- ")
            key = ".".join(k for k in keys if k != "obj")
            return f"{key}: {detail}" if key else detail
    return message.strip().splitlines()[0] if message.strip() else message


def one_line(err: BaseException) -> str:
    """Say an error of a class spec in one line.

    A parser error keeps its innermost complaint and the key it concerns (e.g.
    ``data.init_args.batch_size``); the error of a class's ``__init__``, which
    jsonargparse wraps in a dump of every type the value could have had, is
    given as the class raised it.

    Args:
        err: The error.

    Returns:
        One line.
    """
    chain = _chain(err)
    parsed = next((e for e in chain if "Parser key" in str(e)), None)
    text = _parser_line(str(parsed)) if parsed is not None else str(chain[-1])
    if parsed is None and "Does not validate" in text:
        text = _parser_line(text)
    return " ".join(text.split())


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
        raise ValueError(f"{what} is invalid: {one_line(err)}") from err


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
        for protocol in protocol_names(evaluation):
            config = probe_config(evaluation, 0, tmp / "encoder.pth", {}, tmp, protocol)
            what = "" if protocol is None else f" (protocol {protocol!r})"
            _check(parser, config, f"downstream {evaluation.name!r} config{what}")


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
