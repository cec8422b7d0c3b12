"""From a pool to the index a selection draws from, and reusing a saved manifest.

:func:`prepare_selection` filters the pool index (``filters``), gives every
sample its stratum -- its continent, its region of a region layer, or its value
of a metadata column (``stratify_by``) -- and resolves the composition against
those strata. :func:`draw` selects the set and records the options in its
summary; :func:`reuse_manifest` returns a saved manifest built from the same
pool and arguments.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..geography import RegionLayer, continent_layer
from .composition import Composition, StrataNames
from .filters import Filters, apply_filters, filters_record
from .manifest import ManifestMismatchError, check_manifest_matches, read_manifest
from .pool import STRATUM, PoolLike, pool_fingerprint
from .selection import SHORTFALL_POLICIES, Selection, select
from .strata import ColumnStrata, column_strata

__all__ = [
    "PreparedSelection",
    "check_selection_options",
    "draw",
    "prepare_selection",
    "reuse_manifest",
    "stratified_index",
]


def stratified_index(
    pool: PoolLike,
    layer: RegionLayer | None = None,
    stratify_by: str | None = None,
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Return the pool index with a ``stratum`` column (``None`` = unassigned).

    Args:
        pool: The pool.
        layer: Region layer assigning strata; ``None`` = continents.
        stratify_by: A column of the pool index whose values are the strata
            instead of regions (e.g. ``"category"``); ``None`` = regions.
        filters: Filters applied to the pool index first (see
            :func:`~torchgeo_composition.sampling.filters.apply_filters`).

    Returns:
        The (filtered) pool index plus ``stratum``.

    Raises:
        ValueError: For an unknown column or filters that leave no sample.
    """
    return _stratify(pool.index(), layer, stratify_by, filters)[0]


def _stratify(
    full: pd.DataFrame,
    layer: RegionLayer | None,
    stratify_by: str | None,
    filters: Filters | None,
) -> tuple[pd.DataFrame, ColumnStrata | None]:
    """Filter an index and give each row its stratum."""
    if layer is not None and stratify_by is not None:
        raise ValueError(
            f"stratify_by={stratify_by!r} and a region layer were both given; "
            "strata come from one of them: leave out layer or stratify_by"
        )
    index = apply_filters(full, filters)
    if stratify_by is not None:
        strata, names = column_strata(index, stratify_by)
        return index.assign(**{STRATUM: strata}), names
    regions = layer if layer is not None else continent_layer()
    assigned = regions.assign(index["lon"].to_numpy(), index["lat"].to_numpy())
    return index.assign(**{STRATUM: assigned}), None


@dataclass(frozen=True)
class PreparedSelection:
    """What a selection draws from.

    Attributes:
        composition: The resolved composition.
        index: The filtered pool index with a ``stratum`` column.
        extras: Keys the summary records besides :func:`select`'s
            (``stratify_by``, ``filters``, ``pool_size_before_filters``); empty
            for the default options, so those summaries stay as they were.
        pool_fingerprint: Fingerprint of the pool before the filters (empty
            without filters: the index's own).
    """

    composition: Composition
    index: pd.DataFrame
    extras: dict[str, Any]
    pool_fingerprint: str


def prepare_selection(
    pool: PoolLike,
    composition: str | Mapping[str, float] | Composition,
    layer: RegionLayer | None,
    on_shortfall: str,
    stratify_by: str | None = None,
    filters: Filters | None = None,
) -> PreparedSelection:
    """Validate the policy, filter and stratify the pool index, resolve the composition.

    Args:
        pool: The pool.
        composition: Preset, ``{stratum: weight}`` or a composition.
        layer: Region layer defining the strata; ``None`` = continents.
        on_shortfall: The shortfall policy (checked here).
        stratify_by: Metadata column whose values are the strata instead.
        filters: Filters applied to the pool index first.

    Returns:
        The composition, the stratified index and the summary's extras.

    Raises:
        ValueError: For an unknown policy, column or composition, filters that
            leave no sample, both ``layer`` and ``stratify_by``, or a continent
            composition with ``stratify_by``.
    """
    if on_shortfall not in SHORTFALL_POLICIES:
        raise ValueError(
            f"on_shortfall {on_shortfall!r} is not valid; valid choices are "
            f"{list(SHORTFALL_POLICIES)}"
        )
    full = pool.index()
    index, names = _stratify(full, layer, stratify_by, filters)
    regions: StrataNames = names if names is not None else layer or continent_layer()
    comp = _resolve(composition, regions, names)
    extras: dict[str, Any] = {}
    if stratify_by is not None:
        extras["stratify_by"] = stratify_by
    fingerprint = ""
    if filters is not None:
        extras["filters"] = filters_record(filters)
        extras["pool_size_before_filters"] = len(full)
        fingerprint = pool_fingerprint(full)
    return PreparedSelection(comp, index, extras, fingerprint)


def _resolve(
    composition: str | Mapping[str, float] | Composition,
    regions: StrataNames,
    names: ColumnStrata | None,
) -> Composition:
    """The composition over the strata; continent presets refused for a column."""
    comp = (
        composition
        if isinstance(composition, Composition)
        else Composition(composition, layer=regions)
    )
    if names is not None and comp.kind in ("global", "continent"):
        raise ValueError(
            f"composition {comp.name!r} shares the set among continents, but "
            f"stratify_by={names.name!r} makes the values of that column the "
            f"strata; use 'proportional', 'uniform', one of its values or a mapping "
            f"{{value: weight}} (values: {', '.join(names.values[:20])}"
            + (" ...)" if len(names.values) > 20 else ")")
        )
    return comp


def check_selection_options(
    pool: PoolLike,
    compositions: Sequence[str | Mapping[str, float]],
    stratify_by: str | None = None,
    filters: Filters | None = None,
) -> None:
    """Check ``stratify_by``, ``filters`` and compositions against a pool's index.

    What :func:`prepare_selection` would refuse for any of the compositions is
    refused here at once, without assigning continents or drawing anything:
    e.g. before a study runs its first step.

    Args:
        pool: The pool.
        compositions: Composition specs.
        stratify_by: Metadata column whose values are the strata, or ``None``.
        filters: Filters, or ``None``.

    Raises:
        ValueError: For an unknown column, filters that leave no sample, or a
            composition naming a value the column does not hold (or a continent
            preset with ``stratify_by``).
    """
    index = apply_filters(pool.index(), filters)
    if stratify_by is None:
        return
    names = column_strata(index, stratify_by)[1]
    for spec in compositions:
        _resolve(spec, names, names)


def draw(
    prepared: PreparedSelection,
    num_samples: int,
    seed: int,
    on_shortfall: str,
    **options: Any,
) -> Selection:
    """Draw the set and record the selection options in its summary.

    Args:
        prepared: What :func:`prepare_selection` returned.
        num_samples: Size of the set.
        seed: Random seed.
        on_shortfall: The shortfall policy.
        **options: Selection-strategy arguments of :func:`select`.

    Returns:
        The selection; with filters, the summary's ``pool_fingerprint`` is the
        pool's before filtering (what the set was drawn from).
    """
    comp, index = prepared.composition, prepared.index
    extras, fingerprint = prepared.extras, prepared.pool_fingerprint
    selection = select(
        index,
        comp,
        num_samples,
        seed=seed,
        on_shortfall=on_shortfall,  # type: ignore[arg-type]
        **options,
    )
    if not extras:
        return selection
    summary = {**selection.summary, **extras}
    if fingerprint:  # the pool before the filters: what the set was drawn from
        summary["pool_fingerprint"] = fingerprint
    return Selection(selection.manifest, summary)


def reuse_manifest(
    path: str | os.PathLike[str],
    prepared: PreparedSelection,
    num_samples: int,
    seed: int,
    on_shortfall: str,
) -> Selection | None:
    """The saved manifest at ``path`` if it matches, None to build a new one.

    The caller holds the manifest's lock. A manifest without its summary, or
    whose summary does not belong to it, is never used: a warning says so and
    None asks for a new selection. One built from other arguments is refused.

    Args:
        path: The manifest.
        prepared: What :func:`prepare_selection` returned.
        num_samples: The budget asked for.
        seed: The seed asked for.
        on_shortfall: The shortfall policy asked for.

    Returns:
        The saved selection, or None when there is none to reuse.

    Raises:
        ValueError: If it was built from another pool, other arguments, other
            strata or filters, or holds a sample the filters now leave out.
    """
    if not Path(path).exists():
        return None
    try:
        manifest, summary = read_manifest(path)
    except (ManifestMismatchError, FileNotFoundError) as err:
        warnings.warn(
            f"{err}. Not reusing it: building the manifest {str(path)!r} again",
            stacklevel=3,
        )
        return None
    comp, index = prepared.composition, prepared.index
    extras, fingerprint = prepared.extras, prepared.pool_fingerprint
    _check_options(summary, extras, path)
    check_manifest_matches(
        summary,
        fingerprint or pool_fingerprint(index),
        composition=comp,
        num_samples=num_samples,
        seed=seed,
        on_shortfall=on_shortfall,
        source=path,
    )
    _check_strata(manifest, index, path)
    return Selection(manifest, summary)


def _check_options(
    summary: Mapping[str, Any],
    extras: Mapping[str, Any],
    source: str | os.PathLike[str],
) -> None:
    """Raise if a saved manifest was drawn with other strata or filters."""
    for key in ("stratify_by", "filters"):
        saved, wanted = summary.get(key), extras.get(key)
        if saved != wanted:
            raise ValueError(
                f"manifest {str(source)!r} was built with {key}={saved!r}, not "
                f"{key}={wanted!r}. Delete the manifest or choose another manifest "
                "path to build a new one"
            )


def _check_strata(
    manifest: pd.DataFrame, index: pd.DataFrame, source: str | os.PathLike[str]
) -> None:
    """Raise if a saved manifest's strata disagree with the current region layer."""
    current = index.drop_duplicates("sample_id").set_index("sample_id")[STRATUM]
    absent = ~manifest["sample_id"].isin(current.index).to_numpy()
    if absent.any():
        i = int(absent.argmax())
        raise ValueError(
            f"manifest {str(source)!r} holds sample {manifest['sample_id'].iat[i]!r} "
            f"(and {int(absent.sum()) - 1} more) that the filters now leave out (its "
            "metadata changed). Delete the manifest or choose another manifest path "
            "to build a new one"
        )
    now = current.reindex(manifest["sample_id"]).to_numpy()
    saved = manifest[STRATUM].to_numpy()
    stratified = pd.notna(pd.Series(now)).to_numpy()
    differ = stratified & (now.astype(str) != saved.astype(str))
    if differ.any():
        i = int(differ.argmax())
        raise ValueError(
            f"manifest {str(source)!r} assigns sample {manifest['sample_id'].iat[i]!r} "
            f"to stratum {saved[i]!r} but the current regions give {now[i]!r}; it was "
            "built with another region layer. Delete the manifest or choose another "
            "manifest path to build a new one"
        )
