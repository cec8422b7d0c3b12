"""Compositions, stratified selection, manifests and a stratified GeoSampler.

A :class:`Composition` says which share of a pretraining set comes from each
stratum (continent or region). :func:`select` turns a pool index, a composition,
a budget and a seed into a :class:`Selection` (manifest + summary) with exact
quotas; :func:`write_manifest` / :func:`read_manifest` save and load it
reproducibly. :class:`StratifiedGeoSampler` applies a composition to patches of
a TorchGeo ``GeoDataset``. :func:`build_manifest` draws a set from a pool (anything
with an ``index()``, :class:`PoolLike`) and :func:`compose` also writes its
manifest, summary and map. Strata are continents, the regions of any region
layer, or the values of a metadata column of the pool (``stratify_by``);
``filters`` (:func:`apply_filters`) keep only some of the pool's samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .build import ComposedSet, build_manifest, compose, map_path_for, stratified_index
from .composition import (
    PRESETS,
    Composition,
    StrataNames,
    list_presets,
    register_preset,
)
from .filters import FILTER_OPERATORS, Filters, apply_filters
from .manifest import (
    LOCK_TIMEOUT_S,
    MANIFEST_SUFFIXES,
    ManifestMismatchError,
    check_manifest_matches,
    manifest_lock,
    read_manifest,
    summary_path,
    write_manifest,
)
from .pool import (
    INDEX_COLUMNS,
    UNASSIGNED,
    PoolLike,
    manifest_digest,
    pool_fingerprint,
    strata_fingerprint,
)
from .prepare import check_selection_options
from .quotas import largest_remainder, redistribute_quotas
from .report import format_counts_table, plot_selection_map
from .selection import (
    MANIFEST_COLUMNS,
    MANIFEST_ORDER,
    SHORTFALL_POLICIES,
    Selection,
    ShortfallPolicy,
    select,
)
from .strata import ColumnStrata

if TYPE_CHECKING:
    from .geosampler import StratifiedGeoSampler

__all__ = [
    "FILTER_OPERATORS",
    "INDEX_COLUMNS",
    "LOCK_TIMEOUT_S",
    "MANIFEST_COLUMNS",
    "MANIFEST_ORDER",
    "MANIFEST_SUFFIXES",
    "PRESETS",
    "SHORTFALL_POLICIES",
    "UNASSIGNED",
    "ColumnStrata",
    "ComposedSet",
    "Composition",
    "Filters",
    "ManifestMismatchError",
    "PoolLike",
    "Selection",
    "ShortfallPolicy",
    "StrataNames",
    "StratifiedGeoSampler",
    "apply_filters",
    "build_manifest",
    "check_manifest_matches",
    "check_selection_options",
    "compose",
    "format_counts_table",
    "largest_remainder",
    "list_presets",
    "manifest_digest",
    "manifest_lock",
    "map_path_for",
    "plot_selection_map",
    "pool_fingerprint",
    "read_manifest",
    "redistribute_quotas",
    "register_preset",
    "select",
    "strata_fingerprint",
    "stratified_index",
    "summary_path",
    "write_manifest",
]


def __getattr__(name: str) -> Any:
    """Import :class:`StratifiedGeoSampler` lazily (it needs torchgeo, which is slow).

    Args:
        name: attribute name.

    Returns:
        The attribute.

    Raises:
        AttributeError: for unknown names.
    """
    if name == "StratifiedGeoSampler":
        from .geosampler import StratifiedGeoSampler

        return StratifiedGeoSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
