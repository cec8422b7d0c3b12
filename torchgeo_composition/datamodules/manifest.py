"""Build (or reuse) the manifest of a stratified pretraining set from a pool."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..datasets import PoolDataset
from ..geography import RegionLayer, continent_layer
from ..sampling import (
    SHORTFALL_POLICIES,
    Composition,
    Selection,
    ShortfallPolicy,
    check_manifest_matches,
    pool_fingerprint,
    read_manifest,
    select,
    write_manifest,
)

__all__ = ["build_manifest", "stratified_index"]


def stratified_index(
    pool: PoolDataset, regions: RegionLayer | None = None
) -> pd.DataFrame:
    """Return the pool index with a ``stratum`` column (``None`` = unassigned).

    Args:
        pool: The pool.
        regions: Region layer assigning strata; ``None`` = continents.

    Returns:
        The pool index plus ``stratum``.
    """
    layer = regions if regions is not None else continent_layer()
    index = pool.index()
    strata = layer.assign(index["lon"].to_numpy(), index["lat"].to_numpy())
    return index.assign(stratum=strata)


def build_manifest(
    pool: PoolDataset,
    composition: str | Mapping[str, float] | Composition = "global",
    num_samples: int = 1000,
    seed: int = 0,
    manifest_path: str | os.PathLike[str] | None = None,
    regions: RegionLayer | None = None,
    on_shortfall: ShortfallPolicy = "error",
) -> Selection:
    """Select a stratified pretraining set from a pool, or reuse a saved one.

    The pool index gets a stratum per sample from ``regions`` (continents by
    default); :func:`~torchgeo_composition.sampling.select` then draws the set. If
    ``manifest_path`` names an existing manifest, it is reused only if it was built
    from this pool (same pool fingerprint) with the same composition, budget, seed
    and shortfall policy, and every sample still falls in the stratum it was
    selected for; otherwise a :class:`ValueError` says what differs. A new
    selection is written to ``manifest_path`` (atomically, with its
    ``<stem>.summary.json``) when a path is given.

    Args:
        pool: The pool to draw from.
        composition: Preset name, ``{stratum: weight}`` mapping or
            :class:`~torchgeo_composition.sampling.Composition`.
        num_samples: Size of the set (> 0).
        seed: Random seed.
        manifest_path: Manifest file (``.parquet`` or ``.csv``) to reuse or write;
            ``None`` keeps the selection in memory.
        regions: Region layer defining the strata; ``None`` = continents.
        on_shortfall: ``"error"``, ``"redistribute"`` or ``"replace"`` when a
            stratum holds fewer samples than its quota.

    Returns:
        The selection (manifest and summary).

    Raises:
        ValueError: For invalid arguments, an unresolvable shortfall, or a saved
            manifest that does not match the pool or the arguments.
    """
    if on_shortfall not in SHORTFALL_POLICIES:
        raise ValueError(
            f"on_shortfall {on_shortfall!r} is not valid; valid choices are "
            f"{list(SHORTFALL_POLICIES)}"
        )
    layer = regions if regions is not None else continent_layer()
    comp = (
        composition
        if isinstance(composition, Composition)
        else Composition(composition, layer=layer)
    )
    index = stratified_index(pool, layer)
    if manifest_path is not None and Path(manifest_path).exists():
        manifest, summary = read_manifest(manifest_path)
        check_manifest_matches(
            summary,
            pool_fingerprint(index),
            composition=comp,
            num_samples=num_samples,
            seed=seed,
            on_shortfall=on_shortfall,
            source=manifest_path,
        )
        _check_strata(manifest, index, manifest_path)
        return Selection(manifest, summary)
    selection = select(index, comp, num_samples, seed=seed, on_shortfall=on_shortfall)
    if manifest_path is not None:
        write_manifest(selection, manifest_path)
    return selection


def _check_strata(
    manifest: pd.DataFrame, index: pd.DataFrame, source: str | os.PathLike[str]
) -> None:
    """Raise if a saved manifest's strata disagree with the current region layer."""
    current = index.drop_duplicates("sample_id").set_index("sample_id")["stratum"]
    now = current.reindex(manifest["sample_id"]).to_numpy()
    saved = manifest["stratum"].to_numpy()
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
