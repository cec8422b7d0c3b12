"""Weights of a pack's strata when streaming them mixed."""

from __future__ import annotations

from collections.abc import Mapping

from ..sampling import Composition

__all__ = ["stratum_weights"]


def stratum_weights(
    counts: Mapping[str, int],
    composition: str | Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Return the share of each stratum streamed from a pack.

    Args:
        counts: Samples per stratum of the pack.
        composition: ``None`` or ``proportional`` (the pack's own shares: every
            sample once per epoch), a preset (``global``, a continent ...) or
            ``{stratum: weight}``. Strata of weight 0 are left out.

    Returns:
        Stratum -> weight (> 0, summing to 1), sorted by stratum.

    Raises:
        ValueError: If the composition is invalid, its weights do not sum to a
            positive number, it names a stratum the pack lacks, or it is
            ``uniform`` (a pack is stratified; use ``proportional``).
    """
    if composition is None:
        composition = "proportional"
    comp = Composition(composition)
    if comp.kind == "uniform":
        raise ValueError(
            "composition 'uniform' does not apply to a pack (its samples are "
            "already drawn); use 'proportional' or None to stream every sample once"
        )
    weights = comp.weights(dict(counts))
    missing = [name for name, w in weights.items() if w > 0 and name not in counts]
    if missing:
        raise ValueError(
            f"composition {composition!r} names strata {missing} that the pack "
            f"lacks; the pack holds {sorted(counts)}"
        )
    kept = {name: w for name, w in weights.items() if w > 0}
    total = sum(kept.values())
    if total <= 0:
        raise ValueError(
            f"composition {composition!r} gives no stratum a positive weight; the "
            "weights must sum to a positive number"
        )
    return {name: kept[name] / total for name in sorted(kept)}
