"""Evaluation protocols of a downstream task in a study: tasks x protocols x regions.

A downstream entry with ``protocols`` (e.g. ``[linear, knn]``) evaluates every
pretrained encoder once per protocol (see
:mod:`torchgeo_composition.trainers.protocols`): its ``model.init_args`` are the
arguments shared by the protocols, and each protocol may add its own arguments
and trainer settings::

    protocols:
      - linear
      - {name: knn, init_args: {k: 20}}
      - {name: finetune, init_args: {lr: 1.0e-4}, trainer: {max_epochs: 20}}
    regions: continent          # or a polygon file (with region_attribute)
    min_region_samples: 10

Such runs always end with ``test``: the score is the test metric on the whole
test set, with a bootstrap confidence interval over test samples, and with
``regions`` each region's subset gets its own value (``test_summary.json`` of
the run, see :mod:`torchgeo_composition.trainers.regional`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..evaluation import PREDICTIONS_FILE, SUMMARY_FILE
from ..trainers.protocols import PROTOCOLS, check_protocol, protocol_model

__all__ = [
    "PROTOCOL_KEYS",
    "ProtocolSpec",
    "parse_protocols",
    "protocol_names",
    "protocol_run_config",
    "read_protocol_run",
]

#: Keys of a downstream entry for protocols and regions (left out of the step
#: hashes at their defaults, None).
PROTOCOL_KEYS: tuple[str, ...] = (
    "protocols",
    "regions",
    "region_attribute",
    "min_region_samples",
)


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol of a downstream entry.

    Attributes:
        name: One of :data:`~torchgeo_composition.trainers.PROTOCOLS`.
        init_args: Model arguments of this protocol only (added to the shared
            ones).
        trainer: Trainer settings of this protocol only (added to the entry's).
    """

    name: str
    init_args: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data.

        Returns:
            ``name``, ``init_args`` and ``trainer``.
        """
        return {
            "name": self.name,
            "init_args": copy.deepcopy(self.init_args),
            "trainer": copy.deepcopy(self.trainer),
        }


def _spec(item: Any, where: str) -> ProtocolSpec:
    if isinstance(item, ProtocolSpec):
        return item
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, Mapping) or set(item) - {"name", "init_args", "trainer"}:
        raise ValueError(
            f"{where}: a protocol must be a name {list(PROTOCOLS)} or a mapping "
            f"with 'name' (and 'init_args', 'trainer'), got {item!r}"
        )
    try:
        name = check_protocol(str(item.get("name")))
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    parts = {}
    for key in ("init_args", "trainer"):
        value = item.get(key) or {}
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}: protocol {name!r} {key} must be a mapping")
        parts[key] = copy.deepcopy(dict(value))
    return ProtocolSpec(name, parts["init_args"], parts["trainer"])


def parse_protocols(raw: Any, where: str) -> tuple[ProtocolSpec, ...]:
    """Check a downstream entry's ``protocols``.

    Args:
        raw: A list of protocol names or ``{name, init_args, trainer}`` mappings.
        where: The entry, for the messages (e.g. ``downstream 'eurosat'``).

    Returns:
        The protocols, in the given order.

    Raises:
        ValueError: For an empty list, an unknown protocol (the message lists
            the valid ones) or a protocol named twice.
    """
    if isinstance(raw, str | Mapping) or not isinstance(raw, Sequence) or not raw:
        raise ValueError(
            f"{where}: protocols must be a non-empty list of {list(PROTOCOLS)} "
            f"(names or mappings), got {raw!r}"
        )
    specs = tuple(_spec(item, where) for item in raw)
    names = [s.name for s in specs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"{where}: protocol {name!r} is listed twice ({names})")
    return specs


def protocol_names(evaluation: Any) -> list[str | None]:
    """Return the protocols of a downstream evaluation, ``[None]`` without any.

    Args:
        evaluation: A :class:`~torchgeo_composition.study.schema.DownstreamEval`.

    Returns:
        The protocol names in order, or ``[None]`` (one run of the model as
        given).
    """
    specs = getattr(evaluation, "protocols", None)
    return [None] if specs is None else [p.name for p in specs]


def protocol_run_config(
    config: Mapping[str, Any],
    spec: ProtocolSpec,
    regions: Mapping[str, Any],
) -> dict[str, Any]:
    """Return a downstream run's config for one protocol.

    Args:
        config: The entry's ``fit`` config, its encoder already filled in.
        spec: The protocol.
        regions: ``regions``, ``region_attribute``, ``min_region_samples`` of
            the entry (those given).

    Returns:
        The config with the protocol's model (class and fixed choices from
        :func:`~torchgeo_composition.trainers.protocol_model`) and trainer (a
        k-NN run gets ``max_epochs: 1`` unless its own ``trainer`` says
        otherwise: one pass collects the training features).
    """
    out = copy.deepcopy(dict(config))
    model = out["model"]
    init = dict(model.get("init_args") or {}) | spec.init_args | dict(regions)
    out["model"] = protocol_model(spec.name, init)
    trainer = dict(out.get("trainer") or {}) | spec.trainer
    if spec.name == "knn" and "max_epochs" not in spec.trainer:
        trainer["max_epochs"] = 1  # nothing to train: one pass builds the bank
    out["trainer"] = trainer
    return out


def _hyperparameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the leaderboard export records of a run's configuration."""
    data = (config.get("data") or {}).get("init_args") or {}
    model = (config.get("model") or {}).get("init_args") or {}
    patience = None
    for callback in (config.get("trainer") or {}).get("callbacks") or []:
        if isinstance(callback, Mapping) and "EarlyStopping" in str(
            callback.get("class_path", "")
        ):
            patience = (callback.get("init_args") or {}).get("patience", 3)
    return {
        "batch_size": data.get("batch_size"),
        "partition": data.get("partition", "default"),
        "lr": model.get("lr"),
        "weight_decay": model.get("weight_decay"),
        "early_stop_patience": patience,
    }


def read_protocol_run(log_dir: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """Return the outputs of a protocol run from its ``test_summary.json``.

    Args:
        log_dir: The test run's log folder (``trainer.log_dir``).
        config: The run's ``fit`` config (for the recorded hyperparameters).

    Returns:
        ``score`` (the metric on the whole test set), ``ci_low``, ``ci_high``,
        ``test_samples``, ``metric``, ``regions`` (region -> ``count``,
        ``value``, ``low``, ``high``), ``predictions`` (the per-sample file)
        and ``hyperparameters``.

    Raises:
        FileNotFoundError: If the test run wrote no summary (the message names
            the file and the likely cause).
    """
    path = log_dir / SUMMARY_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"the test run wrote no {str(path)!r}; a protocol's model must record "
            "its test outputs (KNNClassificationTask, FusionClassificationTask) and "
            "the trainer keep the study's CSV logger"
        )
    summary = json.loads(path.read_text())
    overall = summary.get("overall") or {}
    regions = {
        str(region): {k: entry.get(k) for k in ("count", "value", "low", "high")}
        for region, entry in (summary.get("regions") or {}).items()
    }
    return {
        "score": overall.get("value"),
        "ci_low": overall.get("low"),
        "ci_high": overall.get("high"),
        "test_samples": overall.get("n"),
        "metric": summary.get("metric"),
        "regions": regions,
        "predictions": str(log_dir / PREDICTIONS_FILE),
        "hyperparameters": _hyperparameters(config),
    }
