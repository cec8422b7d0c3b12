"""Selection strategies in a study: composing with them, and comparing the sets.

A composition with an entropy strategy is composed from the pool with its
entropy index (built by the compose step when it is missing, reused after); an
``entropy_matched`` set reads its reference's manifest from the reference's
compose step. When any composition uses a strategy, the collect step writes
``curation.csv``: for every set its strategy, recipe, entropy mean and
quantiles (from the pool entropy index) and, for every composition used as a
reference, the two-sample Kolmogorov-Smirnov test of the set's entropies
against the reference's (:func:`~torchgeo_composition.sampling.strategies.compare`,
the comparison the compose summary records).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..sampling.strategies import compare, describe
from .lightning.checks import instantiate
from .records import Step, done_outputs

__all__ = [
    "CURATION_COLUMNS",
    "compose_strategy",
    "curation_table",
    "reference_manifest",
    "strategy_outputs",
    "with_reference",
]

#: First columns of ``curation.csv``; then ``ks_statistic_vs_<ref>`` and
#: ``ks_pvalue_vs_<ref>`` for every composition used as a reference.
CURATION_COLUMNS: tuple[str, ...] = (
    "composition",
    "selection",
    "selection_reference",
    "entropy_recipe",
    "n",
    "entropy_mean",
    "entropy_q0.05",
    "entropy_q0.5",
    "entropy_q0.95",
)


def reference_manifest(step: Step, reference: str) -> str:
    """Return the manifest path of the reference composition's compose step.

    Args:
        step: A step that depends on ``compose-<reference>``.
        reference: The reference composition's name.

    Returns:
        The manifest path recorded by that step.

    Raises:
        ValueError: If the step does not depend on the reference's compose step.
    """
    dep = f"compose-{reference}"
    if dep not in step.inputs:
        raise ValueError(
            f"step {step.id!r} has no input {dep!r}; rebuild the study's plan"
        )
    return str(done_outputs(Path(step.inputs[dep]["dir"]))["manifest"])


def with_reference(
    selection: Mapping[str, Any], manifest: str | None
) -> dict[str, Any]:
    """Return selection arguments with the reference's name replaced by its path.

    Args:
        selection: A step's selection arguments (``selection_reference`` names
            a composition, when present).
        manifest: The reference's manifest path (``None`` when the set has no
            reference).

    Returns:
        A copy whose ``selection_reference`` is ``manifest``.
    """
    out = dict(selection)
    if "selection_reference" in out:
        out["selection_reference"] = manifest
    return out


def compose_strategy(step: Step, pool: Any) -> tuple[Any, dict[str, Any]]:
    """Return the pool to compose from and ``compose``'s strategy arguments.

    Args:
        step: A compose step.
        pool: Its pool.

    Returns:
        The pool (with its entropy index for an entropy strategy, built when
        missing) and ``selection``, ``selection_reference`` (the reference's
        manifest path), ``entropy_range`` and ``entropy_recipe`` as given.
    """
    from ..datamodules.entropy_index import with_entropy

    cfg = step.params["config"]
    selection = cfg.get("selection", "random")
    if selection == "random":
        return pool, {}
    options = {
        key: cfg[key]
        for key in ("selection", "entropy_range", "entropy_recipe")
        if key in cfg
    }
    ref = cfg.get("selection_reference")
    if ref is not None:
        options["selection_reference"] = reference_manifest(step, ref)
    return with_entropy(pool, cfg.get("entropy_recipe"), progress=False), options


def strategy_outputs(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return what a compose step records of its strategy (nothing for random).

    Args:
        summary: The manifest summary.

    Returns:
        ``selection`` (strategy, recipe, reference), ``entropy_mean``,
        ``shortfall`` and, for ``entropy_matched``, ``ks_statistic`` and
        ``ks_pvalue`` against the reference.
    """
    info = summary.get("selection")
    if not info:
        return {}
    out: dict[str, Any] = {
        "selection": info.get("strategy"),
        "entropy_recipe": info.get("entropy_recipe"),
        "entropy_mean": (info.get("achieved") or {}).get("mean"),
        "shortfall": info.get("shortfall") or {},
    }
    reference = info.get("reference")
    if reference:
        out["ks_statistic"] = reference.get("ks_statistic")
        out["ks_pvalue"] = reference.get("ks_pvalue")
    return out


def _entropies(pool_spec: Mapping[str, Any], recipe: str) -> pd.Series:
    """Entropy per sample id from the pool entropy index (built if missing)."""
    from ..datamodules.entropy_index import with_entropy
    from ..datasets import PoolDataset

    pool = with_entropy(instantiate(dict(pool_spec), PoolDataset), recipe, False)
    index = pool.index().drop_duplicates("sample_id")
    return index.set_index("sample_id")["spectral_entropy"]


def curation_table(
    compositions: Sequence[Mapping[str, Any]],
    manifests: Mapping[str, pd.DataFrame],
    pool_spec: Mapping[str, Any],
    recipe: str,
) -> pd.DataFrame:
    """Compare the study's sets by their entropies (``curation.csv``).

    Args:
        compositions: The compositions as plain data (``name`` and the strategy
            options that are set), in study order.
        manifests: Composition name -> manifest (``sample_id``).
        pool_spec: ``class_path`` / ``init_args`` of the pool.
        recipe: The entropy recipe of the study's strategies.

    Returns:
        One row per composition with a manifest: :data:`CURATION_COLUMNS`, then
        ``ks_statistic_vs_<ref>`` and ``ks_pvalue_vs_<ref>`` per reference.
    """
    entropy = _entropies(pool_spec, recipe)

    def values(name: str) -> np.ndarray:
        ids = manifests[name]["sample_id"]
        return entropy.reindex(ids).to_numpy(dtype=np.float64)

    references = sorted(
        {
            str(c["selection_reference"])
            for c in compositions
            if "selection_reference" in c
        }
        & set(manifests)
    )
    rows = []
    for comp in compositions:
        name = str(comp["name"])
        if name not in manifests:
            continue
        ours = values(name)
        stats = describe(ours)
        quantiles = stats["quantiles"]
        row: dict[str, Any] = {
            "composition": name,
            "selection": comp.get("selection", "random"),
            "selection_reference": comp.get("selection_reference", ""),
            "entropy_recipe": recipe,
            "n": int(np.isfinite(ours).sum()),
            "entropy_mean": math.nan if stats["mean"] is None else stats["mean"],
        }
        for q in ("q0.05", "q0.5", "q0.95"):
            row[f"entropy_{q}"] = quantiles.get(q, math.nan)
        for ref in references:
            test = compare(ours, values(ref)) if ref != name else {}
            row[f"ks_statistic_vs_{ref}"] = test.get("ks_statistic", math.nan)
            row[f"ks_pvalue_vs_{ref}"] = test.get("ks_pvalue", math.nan)
        rows.append(row)
    columns = list(CURATION_COLUMNS) + [
        f"ks_{kind}_vs_{ref}" for ref in references for kind in ("statistic", "pvalue")
    ]
    return pd.DataFrame(rows, columns=columns)
