"""Build a stratified pretraining set from a pool: manifest, summary and map.

:func:`build_manifest` selects the set (or reuses a saved manifest that matches);
:func:`compose` also writes the manifest, its summary and a world map, and is what
the ``compose`` command and the study run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..files import ensure_writable_dir
from ..geography import RegionLayer
from .composition import Composition
from .entropy_plot import entropy_plot_path, plot_entropy_histogram
from .filters import Filters
from .manifest import (
    LOCK_TIMEOUT_S,
    manifest_lock,
    summary_path,
    write_manifest,
)
from .pool import PoolLike
from .prepare import (
    PreparedSelection,
    draw,
    prepare_selection,
    reuse_manifest,
    stratified_index,
)
from .report import plot_selection_map
from .selection import Selection, ShortfallPolicy
from .strategy_options import check_strategy_reuse, record_strategy, strategy_options

__all__ = [
    "ComposedSet",
    "build_manifest",
    "compose",
    "map_path_for",
    "stratified_index",
]


def build_manifest(
    pool: PoolLike,
    composition: str | Mapping[str, float] | Composition = "global",
    num_samples: int = 1000,
    seed: int = 0,
    manifest_path: str | os.PathLike[str] | None = None,
    layer: RegionLayer | None = None,
    on_shortfall: ShortfallPolicy = "error",
    lock_timeout: float | None = LOCK_TIMEOUT_S,
    stratify_by: str | None = None,
    filters: Filters | None = None,
    selection: str = "random",
    selection_reference: str | os.PathLike[str] | None = None,
    entropy_range: list[float | str] | None = None,
    entropy_recipe: str | None = None,
) -> Selection:
    """Select a stratified pretraining set from a pool, or reuse a saved one.

    The pool index is filtered (``filters``), then gets a stratum per sample from
    ``layer`` (continents by default) or from the metadata column ``stratify_by``;
    :func:`~torchgeo_composition.sampling.select` then draws the set. If
    ``manifest_path`` names an existing manifest, it is reused only if it was built
    from this pool (same pool fingerprint) with the same composition, budget, seed,
    shortfall policy, ``stratify_by`` and ``filters``, and every sample still
    passes the filters and falls in the stratum it was selected for; otherwise a
    :class:`ValueError` says what differs. A manifest
    whose summary is missing or does not belong to it (the summary's
    ``manifest_sha256`` differs, e.g. after a run killed between writing the
    two) is never reused: a warning says so and it is built again. A new
    selection is written to ``manifest_path`` (atomically, with its
    ``<stem>.summary.json``) when a path is given. All of this happens under the
    manifest's lock (``<manifest>.lock``): a second process waits for the
    first, then reuses (or refuses) what it wrote.

    Args:
        pool: The pool to draw from (anything with an ``index()``, e.g. a
            :class:`~torchgeo_composition.datasets.PoolDataset`).
        composition: Preset name, ``{stratum: weight}`` mapping or
            :class:`~torchgeo_composition.sampling.Composition`.
        num_samples: Size of the set (> 0).
        seed: Random seed.
        manifest_path: Manifest file (``.parquet`` or ``.csv``) to reuse or write;
            ``None`` keeps the selection in memory.
        layer: Region layer defining the strata; ``None`` = continents.
        on_shortfall: ``"error"``, ``"redistribute"`` or ``"replace"`` when a
            stratum holds fewer samples than its quota.
        lock_timeout: Seconds to wait for another process writing
            ``manifest_path``; ``None`` waits for ever.
        stratify_by: A metadata column of the pool index whose values are the
            strata (e.g. ``"category"``) instead of continents or ``layer``'s
            regions; the composition then names its values.
        filters: Keep only the samples passing these filters before drawing:
            ``{column: condition}`` (e.g. ``{"cloud_cover": "< 10"}``) or a pandas
            query string (see :mod:`~torchgeo_composition.sampling.filters`).
        selection: How each stratum's quota is filled: ``random`` (default),
            ``entropy_top``, ``entropy_range``, ``entropy_uniform`` or
            ``entropy_matched`` (see
            :mod:`~torchgeo_composition.sampling.strategies`); the entropy
            strategies need a ``spectral_entropy`` column in the pool index.
        selection_reference: Manifest of this pool whose entropy distribution
            ``entropy_matched`` reproduces.
        entropy_range: ``[low, high]`` for ``entropy_range``: nats, or
            quantiles such as ``"q0.75"``.
        entropy_recipe: Recipe of the entropies (recorded in the summary).

    Returns:
        The selection (manifest and summary; the summary records
        ``stratify_by`` and ``filters`` when given).

    Raises:
        ValueError: For invalid arguments, an unresolvable shortfall, or a saved
            manifest that does not match the pool or the arguments.
        FileLockedError: If another process still writes ``manifest_path``
            after ``lock_timeout`` seconds (the message names it).
    """
    prepared = prepare_selection(
        pool, composition, layer, on_shortfall, stratify_by, filters
    )
    options = strategy_options(
        prepared.index,
        prepared.pool_fingerprint,
        selection,
        selection_reference,
        entropy_range,
        entropy_recipe,
    )
    strategy = _Strategy(prepared, options, selection_reference, entropy_recipe)
    if manifest_path is None:
        return _draw(strategy, num_samples, seed, on_shortfall)
    with manifest_lock(manifest_path, lock_timeout):
        chosen = _reuse(strategy, manifest_path, num_samples, seed, on_shortfall)
        if chosen is None:
            chosen = _draw(strategy, num_samples, seed, on_shortfall)
            write_manifest(chosen, manifest_path, lock_timeout)
        return chosen


class ComposedSet(NamedTuple):
    """What :func:`compose` built and where it wrote it."""

    #: The selection (manifest and summary).
    selection: Selection
    #: The manifest file.
    manifest_path: Path
    #: Its JSON summary, ``<stem>.summary.json``.
    summary_path: Path
    #: The PNG world map of the selected samples.
    map_path: Path


def map_path_for(manifest_path: str | os.PathLike[str]) -> Path:
    """Return the default map path beside a manifest: ``<stem>.map.png``.

    Args:
        manifest_path: The manifest path.

    Returns:
        The PNG path.
    """
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.map.png")


def compose(
    pool: PoolLike,
    composition: str | dict[str, float] = "global",
    num_samples: int = 1000,
    seed: int = 0,
    manifest_path: str | os.PathLike[str] = "manifest.parquet",
    map_path: str | os.PathLike[str] | None = None,
    layer: RegionLayer | None = None,
    on_shortfall: ShortfallPolicy = "error",
    overwrite: bool = False,
    title: str | None = None,
    check_pixels: bool = False,
    lock_timeout: float | None = LOCK_TIMEOUT_S,
    stratify_by: str | None = None,
    filters: Filters | None = None,
    selection: str = "random",
    selection_reference: str | os.PathLike[str] | None = None,
    entropy_range: list[float | str] | None = None,
    entropy_recipe: str | None = None,
) -> ComposedSet:
    """Build a stratified pretraining set and write its manifest, summary and map.

    The output folders are checked before anything is drawn. An existing manifest
    at ``manifest_path`` is reused if it matches the pool and the arguments (and
    refused with a clear error otherwise) unless ``overwrite`` is set, in which
    case it is replaced; one whose summary is missing or does not belong to it
    is built again, with a warning (see :func:`build_manifest`). Everything is
    done under the manifest's lock (``<manifest>.lock``), so two runs on one
    manifest path never both write: the second waits up to ``lock_timeout``
    seconds, then reuses the first one's manifest or reports the mismatch.

    Args:
        pool: The pool to draw from (e.g. ``ChipFolder``, ``SSL4EOS12Pool``).
        composition: Preset (a continent, ``global``, ``proportional``,
            ``uniform``) or ``{stratum: weight}``.
        num_samples: Size of the set (> 0).
        seed: Random seed.
        manifest_path: Output manifest (``.parquet`` or ``.csv``); the summary
            goes to ``<stem>.summary.json`` beside it.
        map_path: Output PNG map; ``None`` = ``<stem>.map.png`` beside the manifest.
        layer: Region layer defining the strata; ``None`` = continents.
        on_shortfall: ``error``, ``redistribute`` or ``replace`` when a stratum
            holds fewer samples than its quota.
        overwrite: Replace an existing manifest instead of reusing it.
        title: Title of the map; ``None`` = ``"<composition>: <n> samples"``.
        check_pixels: Read every selected sample once (in parallel) before
            writing the manifest and refuse the set, naming every file that
            cannot be read or has no valid pixel (the pool's ``check_pixels``).
        lock_timeout: Seconds to wait for another process writing
            ``manifest_path``; ``None`` waits for ever.
        stratify_by: A metadata column of the pool index whose values are the
            strata (e.g. ``category``) instead of continents or ``layer``'s
            regions; the composition then names its values.
        filters: Keep only the samples passing these filters before drawing:
            ``{column: condition}`` (e.g. ``{cloud_cover: "< 10"}``) or a pandas
            query string such as ``"cloud_cover < 10 and nodata == 0"``.
        selection: How each stratum's quota is filled: ``random`` (default),
            ``entropy_top``, ``entropy_range``, ``entropy_uniform`` or
            ``entropy_matched`` (see
            :mod:`~torchgeo_composition.sampling.strategies`); the entropy
            strategies need a ``spectral_entropy`` column in the pool index.
        selection_reference: Manifest of this pool whose entropy distribution
            ``entropy_matched`` reproduces.
        entropy_range: ``[low, high]`` for ``entropy_range``: nats, or
            quantiles such as ``"q0.75"``.
        entropy_recipe: Recipe of the entropies (recorded in the summary).

    Returns:
        The selection and the paths of the manifest, summary and map.

    Raises:
        ValueError: For invalid arguments, an unresolvable shortfall, a
            mismatching existing manifest, or bad pixels (``check_pixels``).
        PermissionError: If an output folder cannot be written.
        NotADirectoryError: If a component of an output folder is a file.
        FileLockedError: If another process still writes ``manifest_path``
            after ``lock_timeout`` seconds (the message names it).
    """
    png = Path(map_path) if map_path is not None else map_path_for(manifest_path)
    ensure_writable_dir(manifest_path, "manifest_path")
    ensure_writable_dir(png, "map_path")
    prepared = prepare_selection(
        pool, composition, layer, on_shortfall, stratify_by, filters
    )
    options = strategy_options(
        prepared.index,
        prepared.pool_fingerprint,
        selection,
        selection_reference,
        entropy_range,
        entropy_recipe,
    )
    strategy = _Strategy(prepared, options, selection_reference, entropy_recipe)
    with manifest_lock(manifest_path, lock_timeout):
        chosen = None
        if not overwrite:
            chosen = _reuse(strategy, manifest_path, num_samples, seed, on_shortfall)
        fresh = chosen is None
        if chosen is None:
            chosen = _draw(strategy, num_samples, seed, on_shortfall)
        if check_pixels:
            _check_pixels(pool, chosen)
        if fresh:
            write_manifest(chosen, manifest_path, lock_timeout)
        if title is None:
            name = chosen.summary.get("composition", {}).get("name", composition)
            title = f"{name}: {len(chosen.manifest)} samples"
        plot_selection_map(chosen.manifest, png, layer=layer, title=title)
        if "spectral_entropy" in chosen.manifest.columns:
            plot_entropy_histogram(
                chosen.manifest["spectral_entropy"].to_numpy(dtype=float),
                entropy_plot_path(manifest_path),
                options.get("reference_entropy"),
                title=f"{title} ({selection})",
            )
    return ComposedSet(chosen, Path(manifest_path), summary_path(manifest_path), png)


def _check_pixels(pool: PoolLike, selection: Selection) -> None:
    """Read every selected sample through the pool's ``check_pixels``."""
    check = getattr(pool, "check_pixels", None)
    if check is None:
        raise ValueError(
            f"check_pixels needs a pool with a check_pixels method (every "
            f"PoolDataset has one); {type(pool).__name__} has none"
        )
    check(selection.manifest["sample_id"].tolist())


class _Strategy(NamedTuple):
    """A prepared selection with its strategy options (see strategy_options)."""

    prepared: PreparedSelection
    options: dict[str, Any]
    reference: str | os.PathLike[str] | None
    recipe: str | None


def _draw(
    strategy: _Strategy, num_samples: int, seed: int, on_shortfall: str
) -> Selection:
    """Draw the set with the strategy."""
    chosen = draw(
        strategy.prepared, num_samples, seed, on_shortfall, **strategy.options
    )
    return record_strategy(chosen, strategy.recipe, strategy.reference)


def _reuse(
    strategy: _Strategy,
    path: str | os.PathLike[str],
    num_samples: int,
    seed: int,
    on_shortfall: str,
) -> Selection | None:
    """The saved manifest if it matches, including the strategy."""
    saved = reuse_manifest(path, strategy.prepared, num_samples, seed, on_shortfall)
    if saved is not None:
        check_strategy_reuse(saved.summary, strategy.options, strategy.recipe, path)
    return saved
