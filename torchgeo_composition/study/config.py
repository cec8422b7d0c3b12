"""Reading a study configuration: YAML parsed by jsonargparse into dataclasses.

A study is described by one YAML file (see ``configs/study/``). Its keys are the
fields of :class:`~torchgeo_composition.study.schema.StudyConfig`; jsonargparse
parses them (so ``torchgeo-composition study --help`` lists them and
``--print_config`` prints a full config), each ``compositions`` and
``downstream`` entry becomes a :class:`CompositionEntry` or
:class:`DownstreamEval`, and ``diversity`` a :class:`DiversitySettings`.
:func:`load_study` then checks everything that can be checked before any step
runs, including every pretraining and downstream model and datamodule (parsed,
not instantiated).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, NoReturn

import yaml
from jsonargparse import (  # type: ignore[attr-defined]
    ActionConfigFile,
    ArgumentError,
    ArgumentParser,
    Namespace,
    set_loader,
)
from jsonargparse.typing import register_type

from ..sampling import Composition
from .entries import STRATEGY_OPTIONS
from .lightning import check_lightning_configs
from .measures import create_study_measures
from .protocols import PROTOCOL_KEYS
from .schema import (
    BASELINE,
    ENCODER_PLACEHOLDER,
    CompositionEntry,
    DiversitySettings,
    DownstreamEval,
    StudyConfig,
    canonical_json,
    check_name,
    config_hash,
)

__all__ = [
    "BASELINE",
    "ENCODER_PLACEHOLDER",
    "STUDY_KEYS",
    "CompositionEntry",
    "DiversitySettings",
    "DownstreamEval",
    "StudyConfig",
    "canonical_json",
    "config_hash",
    "load_study",
    "parse_study",
    "study_from_config",
    "study_parser",
]

#: The keys of a study config (the fields of :class:`StudyConfig`).
STUDY_KEYS: tuple[str, ...] = tuple(f.name for f in fields(StudyConfig))

_DEFAULT_PRETRAIN_DATA = (
    "torchgeo_composition.datamodules.ContinentStratifiedDataModule"
)
_DOWNSTREAM_KEYS = (
    "name",
    "repeats",
    "metric",
    "test",
    "seed",
    "data",
    "model",
    "trainer",
    *PROTOCOL_KEYS,
)

# keys parsed as plain data (class specs are checked later, not instantiated)
_DATA_KEYS = ("name", "output_dir", "pool", "pretrain", "export")

# Study files are read with PyYAML's safe loader, as they always were: the step
# hashes of existing study folders depend on how values such as ``1e-4`` load.
_MODE = "study_yaml"
set_loader(_MODE, yaml.safe_load, exceptions=(yaml.YAMLError,))


def _class_spec(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or "class_path" not in raw:
        raise ValueError(
            f"{what} must be a mapping with 'class_path' (and 'init_args'), got {raw!r}"
        )
    return copy.deepcopy(dict(raw))


def _resolve(spec: Any) -> Composition | None:
    """The composition a spec names; None for a name that may be a stratum value.

    A name that is no preset may be a value of the study's ``stratify_by``
    column; the study checks it once it knows the column (it refuses it without
    one, as an unknown composition).
    """
    try:
        return Composition(spec)
    except ValueError as err:
        if not isinstance(spec, str):
            raise
        try:
            check_name(spec, "composition")
        except ValueError:
            raise err from None  # not a name either: the preset error is clearer
        return None


_COMPOSITION_KEYS = ("name", "composition", *STRATEGY_OPTIONS)


def _composition(item: Any) -> CompositionEntry:
    """A preset name, or a ``{name, composition, selection...}`` mapping, as an entry."""
    if isinstance(item, str):
        comp = _resolve(item)
        if comp is None:
            return CompositionEntry(item, item)
        return CompositionEntry(comp.name if comp.kind != "region" else item, item)
    if not isinstance(item, Mapping) or set(item) - set(_COMPOSITION_KEYS):
        raise ValueError(
            "a composition must be a preset name or a mapping with keys "
            f"{list(_COMPOSITION_KEYS)} ('name' and 'composition', and optionally "
            f"a selection strategy), got {item!r}"
        )
    if "composition" not in item:
        raise ValueError(f"composition {dict(item)!r} has no 'composition'")
    spec = item["composition"]
    comp = _resolve(dict(spec) if isinstance(spec, Mapping) else spec)
    default = comp.name if comp is not None else spec
    name = item.get("name", default if isinstance(spec, str) else None)
    if name is None:
        raise ValueError(f"composition {spec!r} is a custom mapping; give it a 'name'")
    value = dict(spec) if isinstance(spec, Mapping) else str(spec)
    strategy = {k: item[k] for k in STRATEGY_OPTIONS if item.get(k) is not None}
    return CompositionEntry(check_name(name, "composition"), value, **strategy)


def _composition_yaml(entry: CompositionEntry) -> Any:
    strategy = entry.strategy()
    if isinstance(entry.spec, str) and entry.spec == entry.name and not strategy:
        return entry.spec
    return {"name": entry.name, "composition": entry.spec} | strategy


def _downstream(item: Any) -> DownstreamEval:
    """A downstream entry of the YAML file (a flat mapping) as an evaluation."""
    if not isinstance(item, Mapping):
        raise ValueError(f"a downstream entry must be a mapping, got {item!r}")
    name = check_name(item.get("name"), "downstream name")
    extra = set(item) - set(_DOWNSTREAM_KEYS) - {"seed_everything"}
    if extra:
        raise ValueError(
            f"downstream {name!r} has unknown keys {sorted(extra)}; valid keys are "
            f"{sorted(_DOWNSTREAM_KEYS)}"
        )
    for key in ("data", "model"):
        if item.get(key) is None:
            raise ValueError(
                f"downstream {name!r} has no '{key}': give the "
                f"{'datamodule' if key == 'data' else 'task'} as a mapping with "
                "'class_path' and 'init_args'"
            )
    config = {
        "data": _class_spec(item["data"], f"downstream {name!r} data"),
        "model": _class_spec(item["model"], f"downstream {name!r} model"),
        "trainer": copy.deepcopy(dict(item.get("trainer") or {})),
    }
    return DownstreamEval(
        name=name,
        config=config,
        repeats=int(item.get("repeats", 1)),
        metric=str(item.get("metric", "val_OverallAccuracy")),
        test=bool(item.get("test", False)),
        seed=int(item.get("seed", 0)),
        **{k: item[k] for k in PROTOCOL_KEYS if item.get(k) is not None},
    )


def _downstream_yaml(evaluation: DownstreamEval) -> dict[str, Any]:
    entry = {"name": evaluation.name, "repeats": evaluation.repeats}
    entry |= {"metric": evaluation.metric, "test": evaluation.test}
    entry |= {"seed": evaluation.seed} | copy.deepcopy(evaluation.config)
    data = evaluation.to_dict()
    return entry | {k: data[k] for k in PROTOCOL_KEYS if k in data}


register_type(CompositionEntry, _composition_yaml, _composition)
register_type(DownstreamEval, _downstream_yaml, _downstream)


def _pretrain(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or "model" not in raw:
        raise ValueError(
            "pretrain must be a LightningCLI fit config with 'model' (SatMAETask), "
            "'data' (ContinentStratifiedDataModule) and 'trainer'"
        )
    pretrain = copy.deepcopy(dict(raw))
    pretrain.setdefault("data", {"class_path": _DEFAULT_PRETRAIN_DATA})
    _class_spec(pretrain["model"], "pretrain model")
    _class_spec(pretrain["data"], "pretrain data")
    return pretrain


class _StudyParser(ArgumentParser):
    """Says which keys are valid when a config holds an unknown one."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if message.startswith("Parser key"):  # one line: key, value, reason
            message = " ".join(line.strip() for line in message.splitlines())
        if "is not accepted" in message:
            message += f"; valid study keys are {list(STUDY_KEYS)}"
        elif message.startswith("Group 'diversity' does not accept"):
            valid = [f.name for f in fields(DiversitySettings)]
            message += f"; valid diversity keys are {valid}"
        super().error(message, ex)


def study_parser(**kwargs: Any) -> ArgumentParser:
    """Return a jsonargparse parser of study configs.

    It takes ``--config FILE`` and every study key as an option (``--budget``,
    ``--diversity.bins`` ...; ``--output-dir`` is an alias of ``--output_dir``).
    Errors raise instead of exiting, unless ``exit_on_error=True`` is given.

    Args:
        **kwargs: Passed to :class:`jsonargparse.ArgumentParser` (``prog``,
            ``description`` ...).

    Returns:
        The parser; turn its result into a study with :func:`study_from_config`.
    """
    kwargs.setdefault("exit_on_error", False)
    parser = _StudyParser(parser_mode=_MODE, **kwargs)
    parser.add_argument("--config", "-c", action=ActionConfigFile, help="study YAML")
    # plain ``dict``: class specs stay data (jsonargparse would resolve them)
    parser.add_argument("--name", type=str, default="study", help="study name")
    parser.add_argument(
        "--output_dir",
        "--output-dir",
        type=str,
        required=True,
        help="study directory (one folder per step, the results)",
    )
    parser.add_argument(
        "--pool", type=dict, required=True, help="class_path / init_args of the pool"
    )
    parser.add_class_arguments(
        StudyConfig, skip=set(_DATA_KEYS), fail_untyped=True, sub_configs=True
    )
    parser.add_argument(
        "--pretrain",
        type=dict,
        required=True,
        help="fit config (trainer, model, data) of the pretraining",
    )
    parser.add_argument(
        "--export", type=dict, default={}, help="arguments of models.export_encoder"
    )
    return parser


def study_from_config(parser: ArgumentParser, config: Namespace) -> StudyConfig:
    """Build and check the study a :func:`study_parser` parsed.

    Args:
        parser: The parser.
        config: Its result (other keys, e.g. a command's own options, are
            ignored).

    Returns:
        The validated study.

    Raises:
        ValueError: For an invalid value (the message names the key, the value
            and the valid choices), or a pretraining or downstream model or
            datamodule whose class path or arguments do not resolve.
    """
    init = parser.instantiate(config)
    values = {key: init.get(key) for key in STUDY_KEYS}
    values["pretrain"] = _pretrain(values["pretrain"])
    values["pool"] = _class_spec(values["pool"], "pool")
    values["seeds"] = tuple(values["seeds"]) or (0,)
    values["export"] = dict(values["export"] or {})
    study = StudyConfig(**values)
    check_lightning_configs(study)
    create_study_measures(study.diversity)
    return study


def _parse(args: Sequence[str] = (), raw: dict[str, Any] | None = None) -> StudyConfig:
    parser = study_parser()
    try:
        if raw is None:
            config = parser.parse_args(list(args))
        else:
            config = parser.parse_object(raw)
    except ArgumentError as err:
        raise ValueError(str(err)) from err
    return study_from_config(parser, config)


def parse_study(raw: Mapping[str, Any], output_dir: str | None = None) -> StudyConfig:
    """Validate a study configuration given as plain data.

    Args:
        raw: The parsed YAML.
        output_dir: Overrides ``output_dir``.

    Returns:
        The validated configuration.

    Raises:
        ValueError: For an unknown key or composition, a duplicate name, a missing
            or invalid pool / pretraining / downstream config (the message names
            the entry and the valid choices).
    """
    if not isinstance(raw, Mapping):
        raise ValueError(f"a study config must be a mapping, got {type(raw).__name__}")
    data = copy.deepcopy(dict(raw))
    if output_dir is not None:
        data["output_dir"] = str(output_dir)
    return _parse(raw=data)


def load_study(
    path: str | os.PathLike[str], output_dir: str | None = None
) -> StudyConfig:
    """Read and validate a study YAML file.

    Args:
        path: The YAML file.
        output_dir: Overrides the file's ``output_dir``.

    Returns:
        The validated configuration.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the configuration is invalid (see :func:`parse_study`).
    """
    source = Path(path)
    if not source.is_file():
        raise FileNotFoundError(f"study config {str(source)!r} does not exist")
    args = ["--config", str(source)]
    return _parse(args + ([] if output_dir is None else ["--output_dir", output_dir]))
