"""Exact integer quotas per stratum: largest-remainder rounding and redistribution."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["largest_remainder", "redistribute_quotas"]


def largest_remainder(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Split ``total`` into integer quotas proportional to ``weights``.

    Each stratum first gets ``floor(total * share)``; the units left over go, one
    each, to the strata with the largest fractional remainders (Hamilton's
    method). Ties are broken by larger weight, then by stratum name, so the
    result is deterministic. Quotas always sum to ``total``.

    Args:
        weights: non-negative weights per stratum (need not be normalised).
        total: the integer budget to split (>= 0).

    Returns:
        Mapping stratum -> quota, in the order of ``weights``.

    Raises:
        ValueError: if ``total`` is negative, a weight is negative or not finite,
            or the weights sum to 0 while ``total`` > 0.
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    keys = list(weights)
    w = np.asarray([float(weights[k]) for k in keys], dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"weights must be finite and >= 0, got {dict(weights)!r}")
    if total == 0 or not keys:
        return dict.fromkeys(keys, 0)
    wsum = w.sum()
    if wsum <= 0:
        raise ValueError(f"weights sum to 0 ({dict(weights)!r}); cannot split {total}")
    exact = w / wsum * total
    base = np.floor(exact).astype(np.int64)
    # Guard against floating-point overshoot; the remainder is then recomputed.
    base = np.minimum(base, total)
    left = int(total - base.sum())
    if left > 0:
        frac = exact - base
        names = np.asarray(keys, dtype=object)
        # lexsort: last key is primary -> sort by -frac, then -weight, then name.
        name_rank = np.argsort(np.argsort(names, kind="stable"), kind="stable")
        order = np.lexsort((name_rank, -w, -frac))
        eligible = order[w[order] > 0]
        base[eligible[:left]] += 1
    return {k: int(q) for k, q in zip(keys, base, strict=True)}


def redistribute_quotas(
    weights: Mapping[str, float],
    available: Mapping[str, int],
    total: int,
) -> dict[str, int]:
    """Quotas capped at availability, the excess spread over the other strata.

    Strata whose quota exceeds what they hold are capped at their size; the
    missing units go to the remaining strata in proportion to their weights
    (largest-remainder rounding), repeated until every quota fits.

    Args:
        weights: non-negative weights per stratum.
        available: samples held by each stratum (missing keys count as 0).
        total: the budget.

    Returns:
        Mapping stratum -> quota (sums to ``total``; each quota <= availability).

    Raises:
        ValueError: if the strata with a positive weight together hold fewer than
            ``total`` samples.
    """
    keys = list(weights)
    positive = [k for k in keys if weights[k] > 0]
    capacity = sum(int(available.get(k, 0)) for k in positive)
    if capacity < total:
        absent = [k for k in positive if int(available.get(k, 0)) == 0]
        if capacity == 0:
            advice = (
                f"no stratum of the composition ({', '.join(positive)}) has a "
                "sample in this pool: use a pool that covers them or another "
                "composition"
            )
        else:
            advice = "lower num_samples, use on_shortfall='replace', or widen "
            advice += "the composition"
            if absent:
                advice += (
                    f" ({', '.join(repr(k) for k in absent)} absent from the pool: "
                    "remove them from the composition or use a pool that covers them)"
                )
        raise ValueError(
            f"on_shortfall='redistribute' cannot reach num_samples={total}: the "
            f"strata with a positive weight hold only {capacity} samples "
            f"({ {k: int(available.get(k, 0)) for k in positive} }); {advice}"
        )
    fixed: dict[str, int] = {}
    while True:
        free = {k: weights[k] for k in positive if k not in fixed}
        budget = total - sum(fixed.values())
        quotas = largest_remainder(free, budget)
        over = {k: q for k, q in quotas.items() if q > int(available.get(k, 0))}
        if not over:
            break
        for key in over:
            fixed[key] = int(available.get(key, 0))
    result = dict.fromkeys(keys, 0)
    result.update(quotas)
    result.update(fixed)
    return result
