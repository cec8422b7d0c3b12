"""The selection-strategy options of ``compose``: checked, resolved, recorded.

The entropies come from the pool index's ``spectral_entropy`` column (a pool
wrapped by :func:`~torchgeo_composition.datamodules.entropy_index.with_entropy`
has it); ``selection_reference`` is a manifest of the same pool whose entropies
``entropy_matched`` reproduces.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .manifest import ENTROPY_COLUMN, read_manifest
from .pool import pool_fingerprint
from .selection import Selection
from .strategies import STRATEGIES

__all__ = ["check_strategy_reuse", "record_strategy", "strategy_options"]


def strategy_options(
    index: pd.DataFrame,
    fingerprint: str,
    selection: str = "random",
    selection_reference: str | os.PathLike[str] | None = None,
    entropy_range: Sequence[object] | None = None,
    entropy_recipe: str | None = None,
) -> dict[str, Any]:
    """Check the strategy options and return :func:`select`'s keyword arguments.

    Args:
        index: The (filtered, stratified) pool index.
        fingerprint: Fingerprint of the pool the set is drawn from.
        selection: One of :data:`~torchgeo_composition.sampling.strategies.STRATEGIES`.
        selection_reference: Reference manifest for ``entropy_matched``.
        entropy_range: ``[low, high]`` for ``entropy_range``.
        entropy_recipe: Recipe of the entropies (recorded; checked against the
            reference's).

    Returns:
        ``selection``, ``entropy_range`` and ``reference_entropy`` for
        :func:`~torchgeo_composition.sampling.select`.

    Raises:
        ValueError: For an unknown strategy, a reference with a strategy other
            than ``entropy_matched``, a missing reference, or one from another
            pool or recipe.
        FileNotFoundError: If ``selection_reference`` does not exist.
    """
    if selection not in STRATEGIES:
        raise ValueError(
            f"selection must be one of {list(STRATEGIES)}; got {selection!r}"
        )
    if selection_reference is not None and selection != "entropy_matched":
        raise ValueError(
            "selection_reference is for selection='entropy_matched'; got "
            f"selection={selection!r}"
        )
    options: dict[str, Any] = {"selection": selection}
    if entropy_range is not None:
        options["entropy_range"] = list(entropy_range)
    if selection == "random":
        return options
    if ENTROPY_COLUMN not in index.columns:
        raise ValueError(
            f"selection={selection!r} needs the pool entropy index; build it with "
            "`torchgeo-composition diversity --pool ... --index --entropy_recipe "
            f"{entropy_recipe or 'default'}`"
        )
    if selection == "entropy_matched" and selection_reference is not None:
        options["reference_entropy"] = _reference(
            index, fingerprint, selection_reference, entropy_recipe
        )
    return options


def _reference(
    index: pd.DataFrame,
    fingerprint: str,
    path: str | os.PathLike[str],
    recipe: str | None,
) -> np.ndarray:
    """Entropies of the reference manifest's samples, from this pool's index."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"selection_reference {str(path)!r} does not exist")
    manifest, summary = read_manifest(path)
    theirs = summary.get("pool_fingerprint")
    ours = fingerprint or pool_fingerprint(index)
    if theirs != ours:
        raise ValueError(
            f"selection_reference {str(path)!r} was drawn from another pool "
            f"(fingerprint {str(theirs)[:12]}, this pool {ours[:12]}); use a "
            "manifest of this pool"
        )
    their_recipe = summary.get("selection", {}).get("entropy_recipe")
    if their_recipe is not None and their_recipe != (recipe or "default"):
        raise ValueError(
            f"selection_reference {str(path)!r} was built with entropy_recipe="
            f"{their_recipe!r}, not {recipe or 'default'!r}; use the same recipe"
        )
    by_id = index.drop_duplicates("sample_id").set_index("sample_id")[ENTROPY_COLUMN]
    return by_id.reindex(manifest["sample_id"]).to_numpy(dtype=np.float64)


def record_strategy(
    selection: Selection,
    entropy_recipe: str | None,
    selection_reference: str | os.PathLike[str] | None,
) -> Selection:
    """Add the recipe and the reference to the summary's ``selection`` entry.

    Args:
        selection: A selection drawn with a strategy (others are returned as
            they are).
        entropy_recipe: The recipe of the entropies.
        selection_reference: The reference manifest, if any.

    Returns:
        The selection with the summary completed.
    """
    info = selection.summary.get("selection")
    if info is None:
        return selection
    info = {**info, "entropy_recipe": entropy_recipe or "default"}
    if selection_reference is not None:
        info["selection_reference"] = str(selection_reference)
    return Selection(selection.manifest, {**selection.summary, "selection": info})


def check_strategy_reuse(
    summary: Mapping[str, Any],
    options: Mapping[str, Any],
    entropy_recipe: str | None,
    source: str | os.PathLike[str],
) -> None:
    """Raise if a saved manifest was drawn with another strategy.

    Args:
        summary: The saved manifest's summary.
        options: What :func:`strategy_options` returned.
        entropy_recipe: The recipe asked for.
        source: The manifest path (for the message).

    Raises:
        ValueError: If the strategy, range or recipe differ.
    """
    saved = summary.get("selection") or {}
    was = (
        saved.get("strategy", "random"),
        saved.get("entropy_range"),
        saved.get("entropy_recipe") if saved else None,
    )
    wanted = options["selection"]
    now = (
        wanted,
        options.get("entropy_range"),
        (entropy_recipe or "default") if wanted != "random" else None,
    )
    if was != now:
        raise ValueError(
            f"manifest {str(source)!r} was built with selection={was[0]!r} "
            f"(entropy_range={was[1]!r}, entropy_recipe={was[2]!r}), not "
            f"selection={now[0]!r} (entropy_range={now[1]!r}, entropy_recipe="
            f"{now[2]!r}). Delete the manifest or choose another manifest path"
        )
