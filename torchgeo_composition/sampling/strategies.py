"""Selection strategies: which samples fill a stratum's quota.

``random`` (the default) draws uniformly at random. The others use each sample's
spectral entropy (a ``spectral_entropy`` column of the pool index, NaN for a
sample without valid pixels, which they never select):

``entropy_top``
    The highest entropies first (ties in random order).
``entropy_range``
    Uniformly at random among the samples whose entropy lies in ``[low, high]``;
    the bounds are nats, or pool quantiles written ``"q0.75"``.
``entropy_uniform``
    As flat an entropy distribution as the stratum allows: the pool's entropy
    range is cut into :data:`UNIFORM_BINS` equal bins and the quota is spread
    evenly over them (a bin that runs out gives its share to the others).
``entropy_matched``
    The entropy distribution of a reference set, bin by bin: the bins are the
    reference's :data:`MATCHED_BINS`-quantiles and each gets the reference's
    share of the quota (none outside the reference's range).

All are deterministic for a stratum's random stream. When a stratum cannot meet
its target (too few samples in the range or a bin), the closest samples outside
it fill the quota and the number so placed is the stratum's shortfall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import ks_2samp

__all__ = [
    "MATCHED_BINS",
    "STRATEGIES",
    "UNIFORM_BINS",
    "SelectionStrategy",
    "compare",
    "describe",
    "make_strategy",
]

#: Valid values of ``selection``.
STRATEGIES: tuple[str, ...] = (
    "random",
    "entropy_top",
    "entropy_range",
    "entropy_uniform",
    "entropy_matched",
)

#: Equal-width entropy bins of ``entropy_uniform``.
UNIFORM_BINS = 10

#: Equal-mass bins of the reference distribution of ``entropy_matched``.
MATCHED_BINS = 10


def _bound(value: object, values: np.ndarray, name: str) -> float:
    """An absolute bound in nats from a number or a quantile ``"q0.25"``."""
    if isinstance(value, str) and value.startswith("q"):
        try:
            q = float(value[1:])
        except ValueError:
            q = -1.0
        if not 0.0 <= q <= 1.0:
            raise ValueError(
                f"entropy_range {name} {value!r} is not a quantile; write q0 to q1, "
                "e.g. 'q0.75'"
            )
        return float(np.quantile(values, q))
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(
            f"entropy_range {name} must be a number of nats or a quantile such as "
            f"'q0.75'; got {value!r}"
        )
    return float(value)


@dataclass(frozen=True)
class SelectionStrategy:
    """A strategy bound to the entropies of the pool (canonical order).

    Attributes:
        name: One of :data:`STRATEGIES`.
        entropy: Spectral entropy per pool sample (NaN = no valid pixel).
        bounds: ``[low, high]`` in nats for ``entropy_range``.
        edges: Inner bin edges for ``entropy_uniform`` / ``entropy_matched``.
        shares: Target share per bin (``len(edges) + 1`` values).
    """

    name: str
    entropy: np.ndarray
    bounds: tuple[float, float] | None = None
    edges: np.ndarray | None = None
    shares: np.ndarray | None = None

    def draw(
        self, rng: np.random.Generator, members: np.ndarray, quota: int
    ) -> tuple[np.ndarray, int]:
        """Choose ``quota`` of ``members`` (pool positions).

        Args:
            rng: The stratum's random stream.
            members: Pool positions of the stratum's samples.
            quota: How many to choose.

        Returns:
            The chosen positions and the shortfall (how many lie outside the
            target because the stratum lacked samples in it).
        """
        perm = members[rng.permutation(len(members))]
        values = self.entropy[perm]
        valid = ~np.isnan(values)
        perm, values = perm[valid], values[valid]
        if self.name == "entropy_top":
            order = np.argsort(-values, kind="stable")
            return perm[order[:quota]], 0
        if self.name == "entropy_range":
            assert self.bounds is not None
            low, high = self.bounds
            distance = np.maximum(low - values, 0.0) + np.maximum(values - high, 0.0)
            order = np.argsort(distance, kind="stable")
            chosen = order[:quota]
            return perm[chosen], int(np.count_nonzero(distance[chosen] > 0))
        assert self.edges is not None and self.shares is not None
        return _by_bins(perm, values, quota, self.edges, self.shares)


def _by_bins(
    perm: np.ndarray,
    values: np.ndarray,
    quota: int,
    edges: np.ndarray,
    shares: np.ndarray,
) -> tuple[np.ndarray, int]:
    """Fill per-bin targets (largest remainder), then the rest from near bins."""
    bins = np.searchsorted(edges, values, side="right")
    available = np.bincount(bins, minlength=len(shares))
    exact = shares * quota
    target = np.floor(exact).astype(np.int64)
    rest = quota - int(target.sum())
    target[np.argsort(-(exact - target), kind="stable")[:rest]] += 1
    take = np.minimum(target, available)
    missing = int(target.sum() - take.sum())
    picked = np.zeros(len(perm), dtype=bool)
    for b in range(len(shares)):
        picked[np.flatnonzero(bins == b)[: take[b]]] = True
    if missing:
        # Fill with the spare samples closest to the bins that ran short.
        short = np.flatnonzero(target > take)
        bounds = np.concatenate([[-np.inf], edges, [np.inf]])
        low, high = bounds[short][:, None], bounds[short + 1][:, None]
        gap = np.maximum(low - values, 0.0) + np.maximum(values - high, 0.0)
        distance = np.where(picked, np.inf, gap.min(axis=0))
        picked[np.argsort(distance, kind="stable")[:missing]] = True
    return perm[picked], missing


def make_strategy(
    selection: str,
    entropy: np.ndarray | None,
    entropy_range: Sequence[object] | None = None,
    reference: np.ndarray | None = None,
) -> SelectionStrategy | None:
    """Check the arguments of a strategy and bind it to the pool's entropies.

    Args:
        selection: One of :data:`STRATEGIES`.
        entropy: Spectral entropy per pool sample (canonical order); required
            unless ``selection`` is ``random``.
        entropy_range: ``[low, high]`` for ``entropy_range``.
        reference: Entropies of the reference set for ``entropy_matched``.

    Returns:
        The strategy, or ``None`` for ``random``.

    Raises:
        ValueError: For an unknown strategy, a missing or invalid argument, or a
            range that is empty or holds no sample of the pool.
    """
    if selection not in STRATEGIES:
        raise ValueError(
            f"selection must be one of {list(STRATEGIES)}; got {selection!r}"
        )
    if selection != "entropy_range" and entropy_range is not None:
        raise ValueError(
            f"entropy_range is for selection='entropy_range'; got selection={selection!r}"
        )
    if selection == "random":
        return None
    if entropy is None:
        raise ValueError(
            f"selection={selection!r} needs the spectral entropy of every pool "
            "sample (a spectral_entropy column of the pool index); build it with "
            "`torchgeo-composition diversity --pool ... --index`"
        )
    values = entropy[~np.isnan(entropy)]
    if values.size == 0:
        raise ValueError(f"selection={selection!r}: no pool sample has an entropy")
    if selection == "entropy_top":
        return SelectionStrategy(selection, entropy)
    if selection == "entropy_range":
        if entropy_range is None or len(entropy_range) != 2:
            raise ValueError(
                f"selection='entropy_range' needs entropy_range=[low, high] (nats or "
                f"quantiles such as 'q0.75'); got {entropy_range!r}"
            )
        low = _bound(entropy_range[0], values, "low")
        high = _bound(entropy_range[1], values, "high")
        if not low <= high:
            raise ValueError(
                f"entropy_range={list(entropy_range)!r} is empty (low > high)"
            )
        inside = np.count_nonzero((values >= low) & (values <= high))
        if inside == 0:
            raise ValueError(
                f"entropy_range={list(entropy_range)!r} holds no pool sample; the "
                f"pool's entropies lie in [{values.min():.4f}, {values.max():.4f}]"
            )
        return SelectionStrategy(selection, entropy, bounds=(low, high))
    if selection == "entropy_uniform":
        edges = np.linspace(values.min(), values.max(), UNIFORM_BINS + 1)[1:-1]
        shares = np.full(UNIFORM_BINS, 1.0 / UNIFORM_BINS)
        return SelectionStrategy(selection, entropy, edges=edges, shares=shares)
    ref = None if reference is None else reference[~np.isnan(reference)]
    if ref is None or ref.size == 0:
        raise ValueError(
            "selection='entropy_matched' needs selection_reference: a manifest of "
            "this pool whose samples have entropies"
        )
    # Bins 1..MATCHED_BINS span the reference; bins 0 and MATCHED_BINS + 1
    # (below its minimum, above its maximum) get no share.
    edges = np.quantile(ref, np.linspace(0, 1, MATCHED_BINS + 1))
    edges[-1] = np.nextafter(edges[-1], np.inf)
    counts = np.bincount(
        np.searchsorted(edges, ref, side="right"), minlength=MATCHED_BINS + 2
    )
    shares = counts / counts.sum()
    return SelectionStrategy(selection, entropy, edges=edges, shares=shares)


def describe(values: np.ndarray) -> dict[str, Any]:
    """Mean and quantiles of the selected entropies (for the summary).

    Args:
        values: Entropies of the selected samples.

    Returns:
        ``mean`` and ``quantiles`` (5, 25, 50, 75, 95 %), NaN-free.
    """
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return {"mean": None, "quantiles": {}}
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    return {
        "mean": float(finite.mean()),
        "quantiles": {
            f"q{q:g}": float(v)
            for q, v in zip(qs, np.quantile(finite, qs), strict=True)
        },
    }


def compare(values: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Compare a set's entropies with a reference's (two-sample KS test).

    Args:
        values: Entropies of the set.
        reference: Entropies of the reference set.

    Returns:
        The reference's size and :func:`describe`, and the Kolmogorov-Smirnov
        statistic and p-value (:func:`scipy.stats.ks_2samp`).
    """
    ours = values[~np.isnan(values)]
    theirs = reference[~np.isnan(reference)]
    test = ks_2samp(ours, theirs)
    return {
        "size": int(theirs.size),
        **describe(theirs),
        "ks_statistic": float(test.statistic),
        "ks_pvalue": float(test.pvalue),
    }
