"""The study's configuration as dataclasses, and the hashes that identify it.

These are the types a study YAML file is parsed into (see
:mod:`torchgeo_composition.study.config`). Each dataclass checks its own values
when it is built; checks that need the models and datamodules (class paths,
arguments) run when a study is loaded.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..diversity import get_recipe
from ..sampling import SHORTFALL_POLICIES, Composition, Filters, ShortfallPolicy
from ..trainers.regional import check_min_region_samples
from .entries import CompositionEntry, check_name, check_references
from .protocols import PROTOCOL_KEYS, ProtocolSpec, parse_protocols

__all__ = [
    "BASELINE",
    "ENCODER_PLACEHOLDER",
    "SELECTION_OPTIONS",
    "CompositionEntry",
    "DiversitySettings",
    "DownstreamEval",
    "StudyConfig",
    "canonical_json",
    "check_name",
    "config_hash",
]

#: String replaced, in downstream model configs, by the exported encoder's path.
ENCODER_PLACEHOLDER = "{encoder}"

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


def _unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"duplicate {what} name {name!r}: every {what} needs a unique name "
                f"(got {list(names)})"
            )
        seen.add(name)


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
        protocols: Evaluate with each of these protocols (``linear``, ``knn``,
            ``finetune``; see :mod:`~torchgeo_composition.study.protocols`):
            ``model.init_args`` holds the arguments they share, every run ends
            with ``test`` and its score is the test metric with a bootstrap
            confidence interval. ``None``: one run of the model as given.
        regions: With ``protocols``: also score each region's test subset
            (``continent`` or a polygon file); the test data needs locations.
        region_attribute: Column of the polygon file naming the regions.
        min_region_samples: Regions with fewer test samples are reported
            (count) without a score (the task's default when ``None``).
    """

    name: str
    config: dict[str, Any]
    repeats: int = 1
    metric: str = "val_OverallAccuracy"
    test: bool = False
    seed: int = 0
    protocols: tuple[ProtocolSpec, ...] | None = None
    regions: str | None = None
    region_attribute: str | None = None
    min_region_samples: int | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "downstream name")
        where = f"downstream {self.name!r}"
        if self.repeats < 1:
            raise ValueError(f"{where} repeats must be >= 1, got {self.repeats}")
        if self.protocols is not None:
            specs = parse_protocols(self.protocols, where)
            object.__setattr__(self, "protocols", specs)
        else:
            for key in PROTOCOL_KEYS[1:]:
                if getattr(self, key) is not None:
                    raise ValueError(
                        f"{where}: {key} goes with protocols (e.g. protocols: "
                        "[linear, knn]); per-region scores come from their test runs"
                    )
        if self.region_attribute is not None and self.regions in (None, "continent"):
            raise ValueError(
                f"{where}: region_attribute names a column of a polygon file; give "
                f"regions: <file>, not {self.regions!r}"
            )
        if self.min_region_samples is not None:
            check_min_region_samples(self.min_region_samples)
        if ENCODER_PLACEHOLDER not in json.dumps(self.config.get("model")):
            raise ValueError(
                f"downstream {self.name!r} model config never uses the pretrained "
                f"encoder: put {ENCODER_PLACEHOLDER!r} where its checkpoint goes "
                "(e.g. a backbone's 'checkpoint'; quote it in YAML: \"{encoder}\")"
            )

    def region_args(self) -> dict[str, Any]:
        """Return ``regions``, ``region_attribute``, ``min_region_samples`` given.

        Returns:
            The region options that are set (model arguments of the protocols).
        """
        return {
            key: getattr(self, key)
            for key in PROTOCOL_KEYS[1:]
            if getattr(self, key) is not None
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as plain data, the protocol keys only when given.

        An evaluation written before they existed keeps the hashes of its steps.

        Returns:
            The evaluation (``protocols`` as a list of mappings).
        """
        data = {
            "name": self.name,
            "config": copy.deepcopy(self.config),
            "repeats": self.repeats,
            "metric": self.metric,
            "test": self.test,
            "seed": self.seed,
        }
        if self.protocols is not None:
            data["protocols"] = [p.to_dict() for p in self.protocols]
        return data | self.region_args()


@dataclass(frozen=True)
class DiversitySettings:
    """How the diversity of each pretraining set is measured.

    Attributes:
        bins: Histogram bins per band of the spectral entropy (the default
            measure).
        value_range: Histogram range of the normalised values (the default
            measure).
        num_samples: Measure a seeded subset of this many samples (``None``: all).
        batch_size: Samples per batch.
        num_workers: DataLoader workers.
        seed: Seed of the subset.
        measures: The diversity measures, each a registered name (see
            :func:`~torchgeo_composition.diversity.list_measures`) or a
            ``class_path`` / ``init_args`` mapping of a
            :class:`~torchgeo_composition.diversity.DiversityMeasure`; ``None``
            measures the spectral entropy with ``bins`` and ``value_range``. Each
            gives a column of the results and a row of the correlation table.
        entropy_recipe: Measure the spectral entropy with a named recipe
            (``default``, ``olmoearth``; see
            :mod:`~torchgeo_composition.diversity.recipes`) instead of ``bins``
            and ``value_range``: each set's chips are read from the pool and
            prepared as the recipe says (as the pool entropy index is), and the
            report records the recipe.
    """

    bins: int = 32
    value_range: tuple[float, float] = (0.0, 1.0)
    num_samples: int | None = None
    batch_size: int = 64
    num_workers: int = 0
    seed: int = 0
    measures: tuple[str | dict[str, Any], ...] | None = None
    entropy_recipe: str | None = None

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise ValueError(f"diversity bins must be >= 2, got {self.bins}")
        if self.entropy_recipe is not None:
            try:
                get_recipe(self.entropy_recipe)
            except ValueError as err:
                raise ValueError(f"diversity.{err}") from None
            if self.measures is not None or self._custom_histogram():
                raise ValueError(
                    f"diversity.entropy_recipe={self.entropy_recipe!r} sets the "
                    "bins and value_range of the spectral entropy; leave "
                    "diversity.bins, diversity.value_range and diversity.measures "
                    "unset"
                )
        if self.measures is None:
            return
        measures = tuple(self.measures)
        object.__setattr__(self, "measures", measures)
        if not measures:
            raise ValueError(
                "diversity.measures must list at least one measure, or be null "
                "(the spectral entropy)"
            )
        for i, spec in enumerate(measures):
            if not isinstance(spec, str | dict) or (
                isinstance(spec, dict) and "class_path" not in spec
            ):
                raise ValueError(
                    f"diversity.measures[{i}] must be a measure name or a mapping "
                    f"with 'class_path' (and 'init_args'), got {spec!r}"
                )
        if self._custom_histogram():
            raise ValueError(
                "diversity.bins and diversity.value_range configure the default "
                "measure; with diversity.measures, give them in the measures' own "
                "init_args"
            )

    def _custom_histogram(self) -> bool:
        return self.bins != 32 or tuple(self.value_range) != (0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as plain data, the optional ones only when given.

        ``measures`` and ``entropy_recipe`` are left out when unset: a study config written before they existed keeps the hashes of its steps.

        Returns:
            The settings.
        """
        data = asdict(self)
        for key in ("measures", "entropy_recipe"):
            if data[key] is None:
                data.pop(key)
        return data


#: Selection options of a study, left out of its plain data and of its steps'
#: configs at their default (None), so that studies written before them keep
#: their hashes.
SELECTION_OPTIONS: tuple[str, ...] = ("stratify_by", "filters")


def _plain_filters(filters: Filters) -> Filters:
    """Filters as plain data (a mapping becomes a dict), checked for their shape."""
    if isinstance(filters, str):
        return filters
    if not hasattr(filters, "items"):
        raise ValueError(
            "filters must be a mapping {column: condition} or a query string, got "
            f"{filters!r}"
        )
    return {str(k): v for k, v in filters.items()}


@dataclass(frozen=True)
class StudyConfig:
    """A whole study, validated.

    Attributes:
        name: Study name.
        output_dir: Study directory (one folder per step, results).
        pool: ``class_path`` / ``init_args`` of the pool
            (a :class:`~torchgeo_composition.datasets.PoolDataset`).
        compositions: The pretraining sets (each may carry a selection
            strategy; see :class:`~torchgeo_composition.study.entries.CompositionEntry`).
        budget: Samples per pretraining set.
        pretrain: LightningCLI ``fit`` config of the SatMAE pretraining; the study
            fills ``data.init_args`` pool, composition, budget, seed and manifest.
        downstream: The downstream evaluations.
        selection_seed: Seed of every selection (one set per composition).
        seeds: Pretraining seeds (one pretraining run per composition and seed).
        on_shortfall: Policy when a stratum is too small (``error``,
            ``redistribute``, ``replace``).
        export: Arguments of :func:`~torchgeo_composition.models.export_encoder`.
        diversity: Diversity settings.
        baseline: Also probe the pretraining model before any training (one per
            seed: random initialisation, or ``init_checkpoint`` if the pretraining
            config gives one), the ``no_pretraining`` row of the results.
        stratify_by: A metadata column of the pool (e.g. ``category``) whose
            values are the strata of every composition, instead of continents;
            the compositions then name its values.
        filters: Draw every set only from the pool samples passing these
            filters: ``{column: condition}`` (e.g. ``{cloud_cover: "< 10"}``) or
            a pandas query string.
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
    on_shortfall: ShortfallPolicy = "error"
    export: dict[str, Any] = field(default_factory=dict)
    diversity: DiversitySettings = field(default_factory=DiversitySettings)
    baseline: bool = False
    stratify_by: str | None = None
    filters: Filters | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "study name")
        if not self.output_dir:
            raise ValueError("the study config needs 'output_dir' (or --output_dir)")
        if not self.compositions:
            raise ValueError("compositions must list at least one pretraining set")
        _unique([c.name for c in self.compositions], "composition")
        if not self.downstream:
            raise ValueError("downstream must list at least one evaluation")
        _unique([e.name for e in self.downstream], "downstream")
        if self.budget <= 0:
            raise ValueError(f"budget must be > 0, got {self.budget}")
        if not self.seeds:
            raise ValueError("seeds must list at least one pretraining seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        if self.on_shortfall not in SHORTFALL_POLICIES:
            raise ValueError(
                f"on_shortfall {self.on_shortfall!r} is not valid; valid choices are "
                f"{list(SHORTFALL_POLICIES)}"
            )
        if self.stratify_by is None:
            for entry in self.compositions:  # a stratum value needs stratify_by
                Composition(entry.spec)
        check_references(self.compositions)
        if self.filters is not None:
            object.__setattr__(self, "filters", _plain_filters(self.filters))
        if self.baseline and BASELINE in [c.name for c in self.compositions]:
            raise ValueError(
                f"composition name {BASELINE!r} is taken by the baseline; rename the "
                "composition or set baseline: false"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as plain data (JSON-compatible).

        Returns:
            The configuration.
        """
        data = asdict(self)
        data["diversity"] = self.diversity.to_dict()
        data["compositions"] = [c.to_dict() for c in self.compositions]
        data["downstream"] = [e.to_dict() for e in self.downstream]
        for key in SELECTION_OPTIONS:  # a study written before them keeps its hash
            if data[key] is None:
                data.pop(key)
        return data

    def identity(self) -> str:
        """Return the hash identifying the study's results (not its output dir).

        Returns:
            The hex digest.
        """
        data = self.to_dict()
        data.pop("output_dir")
        return config_hash(data)
