"""The study configuration: compositions x seeds x pretraining x downstream evaluations.

A study is described by one YAML file (see ``configs/study/``). :func:`load_study`
reads it and validates everything that can be checked before any step runs:
composition specs, unique names, the pool, pretraining and downstream class paths
and their arguments (parsed, not instantiated, with jsonargparse).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..sampling import SHORTFALL_POLICIES, Composition

__all__ = [
    "BASELINE",
    "ENCODER_PLACEHOLDER",
    "CompositionEntry",
    "DiversitySettings",
    "DownstreamEval",
    "StudyConfig",
    "config_hash",
    "load_study",
    "parse_study",
]

#: String replaced, in downstream model configs, by the exported encoder's path.
ENCODER_PLACEHOLDER = "{encoder}"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = (
    "name",
    "output_dir",
    "pool",
    "compositions",
    "budget",
    "selection_seed",
    "seeds",
    "on_shortfall",
    "pretrain",
    "export",
    "downstream",
    "diversity",
    "baseline",
)

#: Name of the "no pretraining" row (randomly initialised encoders) of a study.
BASELINE = "no_pretraining"


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` as canonical JSON (sorted keys, no spaces).

    Args:
        obj: A JSON-compatible object.

    Returns:
        The canonical text.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(obj: Any) -> str:
    """Return the SHA-256 of an object's canonical JSON.

    Args:
        obj: A JSON-compatible object.

    Returns:
        The hex digest.
    """
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


@dataclass(frozen=True)
class CompositionEntry:
    """One pretraining set of the study.

    Attributes:
        name: Unique name (folder and table label).
        spec: Preset name or ``{stratum: weight}`` mapping.
    """

    name: str
    spec: str | dict[str, float]


@dataclass(frozen=True)
class DownstreamEval:
    """One downstream evaluation (a probe or fine-tuning run per pretrained model).

    Attributes:
        name: Unique name (column prefix in the results).
        config: LightningCLI ``fit`` config (``data``, ``model``, ``trainer``...);
            :data:`ENCODER_PLACEHOLDER` marks where the encoder checkpoint goes.
        repeats: Runs per pretrained model (seeds ``seed``, ``seed + 1``, ...).
        metric: Logged metric used as the score (higher is better).
        test: Run ``test`` after ``fit`` (the metric is then a ``test_`` one).
        seed: Seed of the first repeat.
    """

    name: str
    config: dict[str, Any]
    repeats: int = 1
    metric: str = "val_OverallAccuracy"
    test: bool = False
    seed: int = 0


@dataclass(frozen=True)
class DiversitySettings:
    """How the diversity of each pretraining set is measured.

    Attributes:
        bins: Histogram bins per band of the spectral entropy.
        value_range: Histogram range of the normalised values.
        num_samples: Measure a seeded subset of this many samples (``None``: all).
        batch_size: Samples per batch.
        num_workers: DataLoader workers.
        seed: Seed of the subset.
    """

    bins: int = 32
    value_range: tuple[float, float] = (0.0, 1.0)
    num_samples: int | None = None
    batch_size: int = 64
    num_workers: int = 0
    seed: int = 0


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, validated.

    Attributes:
        name: Study name.
        output_dir: Study directory (one folder per step, results).
        pool: ``class_path`` / ``init_args`` of the pool
            (a :class:`~torchgeo_composition.datasets.PoolDataset`).
        compositions: The pretraining sets.
        budget: Samples per pretraining set.
        selection_seed: Seed of every selection (one set per composition).
        seeds: Pretraining seeds (one pretraining run per composition and seed).
        on_shortfall: Policy when a stratum is too small (``error``,
            ``redistribute``, ``replace``).
        pretrain: LightningCLI ``fit`` config of the SatMAE pretraining; the study
            fills ``data.init_args`` pool, composition, budget, seed and manifest.
        export: Arguments of :func:`~torchgeo_composition.models.export_encoder`.
        downstream: The downstream evaluations.
        diversity: Diversity settings.
        baseline: Also probe the pretraining model before any training (one per
            seed: random initialisation, or ``init_checkpoint`` if the pretraining
            config gives one), the ``no_pretraining`` row of the results.
    """

    name: str
    output_dir: str
    pool: dict[str, Any]
    compositions: tuple[CompositionEntry, ...]
    budget: int
    pretrain: dict[str, Any]
    downstream: tuple[DownstreamEval, ...]
    selection_seed: int = 0
    seeds: tuple[int, ...] = (0,)
    on_shortfall: str = "error"
    export: dict[str, Any] = field(default_factory=dict)
    diversity: DiversitySettings = field(default_factory=DiversitySettings)
    baseline: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain data (JSON-compatible).

        Returns:
            The configuration.
        """
        return asdict(self)

    def identity(self) -> str:
        """Return the hash identifying the study's results (not its output dir).

        Returns:
            The hex digest.
        """
        data = self.to_dict()
        data.pop("output_dir")
        return config_hash(data)


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name; use letters, digits, '_', '-' "
            "or '.', starting with a letter or digit"
        )
    return value


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"duplicate {what} name {name!r}: every {what} needs a unique name "
                f"(got {list(names)})"
            )
        seen.add(name)


def _compositions(raw: Any) -> tuple[CompositionEntry, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(
            f"compositions must be a non-empty list of presets or "
            f"{{name, composition}} mappings, got {raw!r}"
        )
    entries = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            comp = Composition(item)  # raises for an unknown preset
            name = comp.name if comp.kind != "region" else item
            entries.append(CompositionEntry(_check_name(name, "composition"), item))
            continue
        if not isinstance(item, Mapping) or set(item) - {"name", "composition"}:
            raise ValueError(
                f"compositions[{i}] must be a preset name or a mapping with keys "
                f"'name' and 'composition', got {item!r}"
            )
        if "composition" not in item:
            raise ValueError(f"compositions[{i}] ({item!r}) has no 'composition'")
        spec = item["composition"]
        comp = Composition(dict(spec) if isinstance(spec, Mapping) else spec)
        name = item.get("name", comp.name if isinstance(spec, str) else None)
        if name is None:
            raise ValueError(
                f"compositions[{i}] is a custom mapping {spec!r}; give it a 'name'"
            )
        value = dict(spec) if isinstance(spec, Mapping) else str(spec)
        entries.append(CompositionEntry(_check_name(name, "composition"), value))
    _unique([e.name for e in entries], "composition")
    return tuple(entries)


def _class_spec(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping) or "class_path" not in raw:
        raise ValueError(
            f"{what} must be a mapping with 'class_path' (and 'init_args'), got {raw!r}"
        )
    return copy.deepcopy(dict(raw))


def _downstream(raw: Any) -> tuple[DownstreamEval, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(
            "downstream must be a non-empty list of evaluations, each with 'name', "
            f"'data', 'model' and optionally 'trainer', 'repeats', 'metric'; got {raw!r}"
        )
    evals = []
    allowed = {"name", "repeats", "metric", "test", "seed", "data", "model", "trainer"}
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValueError(f"downstream[{i}] must be a mapping, got {item!r}")
        name = _check_name(item.get("name"), f"downstream[{i}] name")
        extra = set(item) - allowed - {"seed_everything"}
        if extra:
            raise ValueError(
                f"downstream {name!r} has unknown keys {sorted(extra)}; valid keys are "
                f"{sorted(allowed)}"
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
        if ENCODER_PLACEHOLDER not in json.dumps(config["model"]):
            raise ValueError(
                f"downstream {name!r} model config never uses the pretrained encoder: "
                f"put {ENCODER_PLACEHOLDER!r} where its checkpoint goes (e.g. a "
                "backbone's 'checkpoint'; quote it in YAML: \"{encoder}\")"
            )
        repeats = int(item.get("repeats", 1))
        if repeats < 1:
            raise ValueError(f"downstream {name!r} repeats must be >= 1, got {repeats}")
        evals.append(
            DownstreamEval(
                name=name,
                config=config,
                repeats=repeats,
                metric=str(item.get("metric", "val_OverallAccuracy")),
                test=bool(item.get("test", False)),
                seed=int(item.get("seed", 0)),
            )
        )
    _unique([e.name for e in evals], "downstream")
    return tuple(evals)


def _diversity(raw: Any) -> DiversitySettings:
    raw = dict(raw or {})
    fields = set(DiversitySettings.__dataclass_fields__)
    if set(raw) - fields:
        raise ValueError(
            f"diversity has unknown keys {sorted(set(raw) - fields)}; valid keys are "
            f"{sorted(fields)}"
        )
    if "value_range" in raw:
        low, high = (float(v) for v in raw["value_range"])
        raw["value_range"] = (low, high)
    settings = DiversitySettings(**raw)
    if settings.bins < 2:
        raise ValueError(f"diversity bins must be >= 2, got {settings.bins}")
    return settings


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
    unknown = set(raw) - set(_TOP_KEYS)
    if unknown:
        raise ValueError(
            f"unknown study keys {sorted(unknown)}; valid keys are {list(_TOP_KEYS)}"
        )
    for key in ("pool", "compositions", "budget", "pretrain", "downstream"):
        if raw.get(key) is None:
            raise ValueError(f"the study config needs '{key}'")
    out = output_dir or raw.get("output_dir")
    if not out:
        raise ValueError("the study config needs 'output_dir' (or pass --output-dir)")
    budget = int(raw["budget"])
    if budget <= 0:
        raise ValueError(f"budget must be > 0, got {budget}")
    seeds = tuple(int(s) for s in (raw.get("seeds") or [0]))
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    policy = str(raw.get("on_shortfall", "error"))
    if policy not in SHORTFALL_POLICIES:
        raise ValueError(
            f"on_shortfall {policy!r} is not valid; valid choices are "
            f"{list(SHORTFALL_POLICIES)}"
        )
    pretrain = raw["pretrain"]
    if not isinstance(pretrain, Mapping) or "model" not in pretrain:
        raise ValueError(
            "pretrain must be a LightningCLI fit config with 'model' (SatMAETask), "
            "'data' (ContinentStratifiedDataModule) and 'trainer'"
        )
    pretrain = copy.deepcopy(dict(pretrain))
    pretrain.setdefault(
        "data",
        {
            "class_path": "torchgeo_composition.datamodules.ContinentStratifiedDataModule"
        },
    )
    _class_spec(pretrain["model"], "pretrain model")
    _class_spec(pretrain["data"], "pretrain data")
    config = StudyConfig(
        name=_check_name(str(raw.get("name", "study")), "study name"),
        output_dir=str(out),
        pool=_class_spec(raw["pool"], "pool"),
        compositions=_compositions(raw["compositions"]),
        budget=budget,
        selection_seed=int(raw.get("selection_seed", 0)),
        seeds=seeds,
        on_shortfall=policy,
        pretrain=pretrain,
        export=dict(raw.get("export") or {}),
        downstream=_downstream(raw["downstream"]),
        diversity=_diversity(raw.get("diversity")),
        baseline=bool(raw.get("baseline", False)),
    )
    if config.baseline and BASELINE in [c.name for c in config.compositions]:
        raise ValueError(
            f"composition name {BASELINE!r} is taken by the baseline; rename the "
            "composition or set baseline: false"
        )
    from .lightning import check_lightning_configs

    check_lightning_configs(config)
    return config


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
    raw = yaml.safe_load(source.read_text())
    return parse_study(raw, output_dir=output_dir)
