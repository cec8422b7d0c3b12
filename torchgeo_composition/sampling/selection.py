"""Stratified selection of a pretraining set from a pool index."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import entropy

from .. import __version__
from ..geography import CONTINENTS
from .composition import Composition
from .pool import (
    INDEX_COLUMNS,
    STRATUM,
    UNASSIGNED,
    CanonicalPool,
    canonical_pool,
    manifest_digest,
)
from .shortfall import resolve_quotas
from .strategies import SelectionStrategy, compare, describe, make_strategy

__all__ = [
    "MANIFEST_COLUMNS",
    "MANIFEST_ORDER",
    "SHORTFALL_POLICIES",
    "Selection",
    "ShortfallPolicy",
    "round_floats",
    "select",
]

ShortfallPolicy = Literal["error", "redistribute", "replace"]

#: Valid values of ``on_shortfall``.
SHORTFALL_POLICIES: tuple[str, ...] = get_args(ShortfallPolicy)

#: Columns of a manifest, in order: the pool index columns plus the stratum.
MANIFEST_COLUMNS: tuple[str, ...] = (*INDEX_COLUMNS, STRATUM)

#: How manifest rows are ordered (recorded in every summary).
MANIFEST_ORDER = "stratum (sorted, unassigned last), then draw order"

_FLOAT_DECIMALS = 10


@dataclass(frozen=True)
class Selection:
    """A selected pretraining set.

    Attributes:
        manifest: one row per selected sample with columns ``sample_id``,
            ``path``, ``lon``, ``lat``, ``stratum`` (see :data:`MANIFEST_ORDER`).
        summary: JSON-friendly description (composition, seed, counts, entropy,
            pool fingerprint, shortfall report, library version, and the
            ``manifest_sha256`` of the manifest rows).
    """

    manifest: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _rng(seed: int, stratum: str | None) -> np.random.Generator:
    """PCG64 generator for one stratum (or the whole pool when ``stratum`` is None).

    Each stratum has its own stream, seeded by the seed and a hash of its name,
    so the draws of one stratum do not depend on the quotas of the others.
    """
    if stratum is None:
        return np.random.Generator(np.random.PCG64(seed))
    words = np.frombuffer(hashlib.sha256(stratum.encode()).digest()[:16], dtype="<u4")
    sequence = np.random.SeedSequence([seed, *(int(w) for w in words)])
    return np.random.Generator(np.random.PCG64(sequence))


def _draw(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """Draw ``k`` of ``n`` positions; with ``k > n`` every position is repeated.

    Without replacement this is the prefix of a random permutation, so a smaller
    budget selects a subset of a larger one. With ``k > n`` (``replace``), whole
    permutations are concatenated: each sample appears ``k // n`` or
    ``k // n + 1`` times.
    """
    if k <= n:
        return rng.permutation(n)[:k]
    reps = -(-k // n)
    return np.concatenate([rng.permutation(n) for _ in range(reps)])[:k]


def round_floats(value: Any) -> Any:
    """Round every float in a nested structure to a fixed number of decimals.

    Summaries are rounded this way before they are saved or compared, so that they
    do not depend on the last bits of a float.

    Args:
        value: A float, or a dict, list or tuple holding floats at any depth.

    Returns:
        The same structure (tuples become lists) with floats rounded to 10 decimals.
    """
    if isinstance(value, float):
        return round(value, _FLOAT_DECIMALS) + 0.0
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v) for v in value]
    return value


def _validate(num_samples: object, seed: object, on_shortfall: object) -> None:
    """Validate the scalar arguments of :func:`select`."""
    if isinstance(num_samples, bool) or not isinstance(num_samples, int | np.integer):
        raise ValueError(f"num_samples must be an integer > 0, got {num_samples!r}")
    if num_samples <= 0:
        raise ValueError(f"num_samples must be > 0, got {num_samples}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if on_shortfall not in SHORTFALL_POLICIES:
        raise ValueError(
            f"on_shortfall must be one of {list(SHORTFALL_POLICIES)}, got "
            f"{on_shortfall!r}"
        )


def _entropy(counts: Mapping[str, int]) -> float:
    """Shannon entropy (nats) of the shares given by ``counts``."""
    values = np.asarray([c for c in counts.values() if c > 0], dtype=np.float64)
    return float(entropy(values)) if values.size else 0.0


def _manifest(pool: CanonicalPool, rows: np.ndarray) -> pd.DataFrame:
    """Manifest rows for canonical pool positions ``rows`` (already ordered)."""
    take = pa.array(rows, type=pa.int64())
    strata = np.asarray([*pool.strata, None], dtype=object)
    codes = pool.codes[rows]
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series(
                pool.sample_id.take(take).to_pandas(), dtype="str", copy=False
            ),
            "path": pd.Series(
                pool.path.take(take).to_pandas(), dtype="str", copy=False
            ),
            "lon": pool.lon[rows],
            "lat": pool.lat[rows],
            "stratum": pd.Series(strata[codes], dtype="str"),
        }
    )
    return frame


def _draw_strata(
    pool: CanonicalPool,
    quotas: Mapping[str, int],
    seed: int,
    strategy: SelectionStrategy | None = None,
    shortfall: dict[str, int] | None = None,
) -> np.ndarray:
    """Canonical positions drawn per stratum, strata in sorted order."""
    by_code = np.argsort(pool.codes, kind="stable")
    bounds = np.searchsorted(pool.codes[by_code], np.arange(len(pool.strata) + 1))
    parts = []
    for code, name in enumerate(pool.strata):
        quota = quotas.get(name, 0)
        if quota == 0:
            continue
        members = by_code[bounds[code] : bounds[code + 1]]
        if strategy is not None:
            chosen, short = strategy.draw(_rng(seed, name), members, quota)
            parts.append(chosen)
            if shortfall is not None and short:
                shortfall[name] = short
            continue
        parts.append(members[_draw(_rng(seed, name), len(members), quota)])
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _draw_uniform(pool: CanonicalPool, num_samples: int, seed: int) -> np.ndarray:
    """Canonical positions drawn over the whole pool, grouped by stratum after."""
    drawn = _draw(_rng(seed, None), len(pool), num_samples)
    codes = pool.codes[drawn]
    sort_key = np.where(codes < 0, len(pool.strata), codes)
    return drawn[np.argsort(sort_key, kind="stable")]


def _entropies(index: pd.DataFrame, pool: CanonicalPool) -> np.ndarray | None:
    """The index's ``spectral_entropy`` column in canonical order (or None)."""
    if "spectral_entropy" not in index.columns:
        return None
    by_id = pd.Series(
        index["spectral_entropy"].to_numpy(dtype=np.float64),
        index=index["sample_id"].astype(str).to_numpy(),
    )
    by_id = by_id[~by_id.index.duplicated()]
    ids = pool.sample_id.to_pandas().astype(str)
    return by_id.reindex(ids).to_numpy(dtype=np.float64)


def select(
    index: pd.DataFrame,
    composition: Composition | str | Mapping[str, float],
    num_samples: int,
    seed: int = 0,
    on_shortfall: ShortfallPolicy = "error",
    selection: str = "random",
    entropy_range: Sequence[object] | None = None,
    reference_entropy: np.ndarray | None = None,
) -> Selection:
    """Select a pretraining set of ``num_samples`` samples from a pool.

    Quotas per stratum are exact: the budget is split by largest-remainder
    rounding of the composition's weights, so quotas sum to ``num_samples``.
    Each stratum is sampled without replacement from its own PCG64 stream (seeded
    by ``seed`` and the stratum name). ``uniform`` ignores strata and draws from
    the whole pool, unassigned samples included. The result does not depend on
    the order of the index rows.

    Args:
        index: pool index with columns ``sample_id``, ``path``, ``lon``, ``lat``,
            ``stratum`` (None/NaN = unassigned; never selected by a stratified
            composition).
        composition: a :class:`Composition` or a spec for one.
        num_samples: size of the pretraining set (> 0).
        seed: random seed (>= 0).
        on_shortfall: what to do when a stratum holds fewer samples than its
            quota: ``"error"`` (default), ``"redistribute"`` (give the missing
            quota to the other strata in proportion to their weights) or
            ``"replace"`` (sample that stratum with replacement).
        selection: How each stratum's quota is filled: ``random`` (default) or
            an entropy strategy of
            :mod:`~torchgeo_composition.sampling.strategies`, which needs a
            ``spectral_entropy`` column in ``index``; the manifest then has a
            ``spectral_entropy`` column and the summary a ``selection`` entry.
        entropy_range: ``[low, high]`` for ``entropy_range`` (nats, or
            quantiles such as ``"q0.75"``).
        reference_entropy: Entropies of the reference set of
            ``entropy_matched``.

    Returns:
        The selection: manifest and summary.

    Raises:
        ValueError: for an invalid index, composition or argument, or a shortfall
            that the policy cannot resolve (the message names the stratum, what
            it holds, its quota and the policies).
    """
    _validate(num_samples, seed, on_shortfall)
    comp = (
        composition
        if isinstance(composition, Composition)
        else Composition(composition)
    )
    num_samples = int(num_samples)
    seed = int(seed)
    pool = canonical_pool(index, require_stratum=comp.is_stratified)
    values = _entropies(index, pool) if selection != "random" else None
    strategy = make_strategy(selection, values, entropy_range, reference_entropy)
    missed: dict[str, int] = {}
    pool_counts = pool.counts()
    unassigned = int(np.count_nonzero(pool.codes < 0))
    report: dict[str, Any] = {"policy": on_shortfall, "occurred": False, "strata": {}}

    if comp.is_stratified:
        eligible = len(pool) - unassigned
        if on_shortfall == "error" and num_samples > eligible:
            raise ValueError(
                f"num_samples={num_samples} exceeds the {eligible} samples of the "
                f"pool that have a stratum; lower num_samples or set on_shortfall to "
                f"one of {list(SHORTFALL_POLICIES[1:])}"
            )
        weights = comp.weights(pool_counts)
        requested, quotas, report = resolve_quotas(
            comp, weights, pool_counts, num_samples, on_shortfall
        )
        rows = _draw_strata(pool, quotas, seed, strategy, missed)
    else:
        if num_samples > len(pool) and on_shortfall != "replace":
            raise ValueError(
                f"num_samples={num_samples} exceeds the pool size {len(pool)}; lower "
                "num_samples or set on_shortfall='replace'"
                + (
                    " (redistribute has no other strata under 'uniform')"
                    if on_shortfall == "redistribute"
                    else ""
                )
            )
        weights = comp.weights({**pool_counts, UNASSIGNED: unassigned})
        requested = quotas = {}
        if num_samples > len(pool):
            report = {
                "policy": on_shortfall,
                "occurred": True,
                "strata": {},
                "action": "pool sampled with replacement (balanced repeats)",
                "duplicates": {"pool": num_samples - len(pool)},
            }
        rows = _draw_uniform(pool, num_samples, seed)
        if strategy is not None:
            everyone = np.arange(len(pool))
            drawn, short = strategy.draw(_rng(seed, None), everyone, num_samples)
            missed = {"pool": short} if short else {}
            codes = pool.codes[drawn]
            key = np.where(codes < 0, len(pool.strata), codes)
            rows = drawn[np.argsort(key, kind="stable")]

    manifest = _manifest(pool, rows)
    if values is not None:
        manifest["spectral_entropy"] = values[rows]
    counts_arr = np.bincount(
        np.where(pool.codes[rows] < 0, len(pool.strata), pool.codes[rows]),
        minlength=len(pool.strata) + 1,
    )
    counts = {
        name: int(n)
        for name, n in zip((*pool.strata, UNASSIGNED), counts_arr, strict=True)
        if n > 0
    }
    assigned = {k: v for k, v in counts.items() if k != UNASSIGNED}
    stratum_entropy = _entropy(assigned)
    is_continent = bool(assigned) and all(k in CONTINENTS for k in assigned)
    summary: dict[str, Any] = {
        "library_version": __version__,
        "composition": comp.to_dict(),
        "target_shares": weights,
        "seed": seed,
        "num_samples": num_samples,
        "on_shortfall": on_shortfall,
        "pool_fingerprint": pool.fingerprint(),
        "strata_fingerprint": pool.strata_fingerprint(),
        "pool_size": len(pool),
        "pool_counts": {
            **pool_counts,
            **({UNASSIGNED: unassigned} if unassigned else {}),
        },
        "requested_quotas": requested,
        "quotas": quotas,
        "counts": counts,
        "shares": {k: v / num_samples for k, v in counts.items()},
        "unique_samples": int(np.count_nonzero(np.bincount(rows, minlength=len(pool)))),
        "stratum_entropy_nats": stratum_entropy,
        "continent_entropy_nats": stratum_entropy if is_continent else None,
        "max_entropy_nats": math.log(len(assigned)) if assigned else 0.0,
        "shortfall": report,
        "manifest_order": MANIFEST_ORDER,
        "manifest_sha256": manifest_digest(manifest),
        "rng": "numpy PCG64; one stream per stratum from SeedSequence(seed, "
        "sha256(stratum)); uniform: PCG64(seed)",
    }
    if values is not None:
        summary["selection"] = {
            "strategy": selection,
            **({"entropy_range": list(entropy_range)} if entropy_range else {}),
            "achieved": describe(values[rows]),
            "pool": describe(values),
            "shortfall": missed,
        }
        if reference_entropy is not None:
            summary["selection"]["reference"] = compare(values[rows], reference_entropy)
    return Selection(manifest=manifest, summary=round_floats(summary))
