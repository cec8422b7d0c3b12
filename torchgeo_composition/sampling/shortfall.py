"""Quotas under a shortfall: what a policy does when strata hold too few samples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .composition import Composition
from .quotas import largest_remainder, redistribute_quotas

__all__ = ["resolve_quotas"]


def resolve_quotas(
    composition: Composition,
    weights: Mapping[str, float],
    available: Mapping[str, int],
    num_samples: int,
    on_shortfall: str,
) -> tuple[dict[str, int], dict[str, int], dict[str, Any]]:
    """Requested and final quotas per stratum, plus the shortfall report.

    The budget is split by the weights (largest remainder); strata holding
    fewer samples than their quota are handled by ``on_shortfall``.

    Args:
        composition: The composition (its name is used in messages).
        weights: Weight per stratum.
        available: Samples the pool holds per stratum.
        num_samples: The budget.
        on_shortfall: ``error``, ``redistribute`` or ``replace``.

    Returns:
        ``(requested quotas, final quotas, shortfall report)``.

    Raises:
        ValueError: For a shortfall the policy cannot resolve; a stratum absent
            from the pool is named, with the remedies that can work.
    """
    requested = largest_remainder(weights, num_samples)
    short = {
        k: {"available": int(available.get(k, 0)), "quota": q}
        for k, q in requested.items()
        if q > available.get(k, 0)
    }
    for info in short.values():
        info["missing"] = info["quota"] - info["available"]
    report: dict[str, Any] = {"policy": on_shortfall, "occurred": bool(short)}
    report["strata"] = short
    if not short:
        return requested, dict(requested), report
    absent = [k for k, v in short.items() if v["available"] == 0]
    if on_shortfall == "error":
        if absent:
            raise ValueError(
                _absent_message(absent, weights, available, short, on_shortfall)
            )
        key, info = next(iter(short.items()))
        raise ValueError(
            f"stratum {key!r} holds {info['available']} samples but its quota is "
            f"{info['quota']} (composition {composition.name!r}, num_samples="
            f"{num_samples}); short strata: "
            f"{ {k: (v['available'], v['quota']) for k, v in short.items()} } as "
            "(available, quota). Lower num_samples, or set on_shortfall to "
            "'redistribute' (give the missing quota to the other strata in "
            "proportion to their weights) or 'replace' (sample short strata with "
            "replacement)"
        )
    if on_shortfall == "redistribute":
        final = redistribute_quotas(weights, available, num_samples)
        report["received"] = {
            k: final[k] - requested[k] for k in final if final[k] > requested[k]
        }
        report["action"] = (
            "short strata capped at their size; missing quota given to the other "
            "strata in proportion to their weights"
        )
        return requested, final, report
    if absent:
        raise ValueError(
            _absent_message(absent, weights, available, short, on_shortfall)
        )
    report["action"] = "short strata sampled with replacement (balanced repeats)"
    report["duplicates"] = {k: v["missing"] for k, v in short.items()}
    return requested, dict(requested), report


def _absent_message(
    absent: list[str],
    weights: Mapping[str, float],
    available: Mapping[str, int],
    short: Mapping[str, Mapping[str, int]],
    policy: str,
) -> str:
    """Name the strata of a composition that the pool does not cover, and the way out."""
    others = [k for k, w in weights.items() if w > 0 and available.get(k, 0) > 0]
    present = {k: int(n) for k, n in available.items() if n > 0}
    names = ", ".join(repr(k) for k in absent)
    quota = ", ".join(f"{k}: {short[k]['quota']}" for k in absent)
    one = len(absent) == 1
    if policy == "replace":
        lead = f"on_shortfall='replace' cannot sample stratum {names}: "
        lead += "it holds no samples" if one else "they hold no samples"
    else:
        lead = f"stratum {names} {'holds' if one else 'hold'} 0 samples"
    text = (
        f"{lead}; {'it is' if one else 'they are'} absent from the pool, which "
        f"holds samples only in {present} (quota {quota})"
    )
    if not others:
        return (
            f"{text}; no stratum of the composition has a sample in this pool: use "
            f"a pool that covers {names}, or a composition of the strata it holds"
        )
    text += f". Remove {names} from the composition (or give it weight 0)"
    text += (
        ", or set on_shortfall='redistribute' to give its quota to the other "
        f"strata of the composition ({', '.join(others)})"
    )
    if policy == "replace":
        return text
    return text + "; on_shortfall='replace' cannot help: there is no sample to repeat"
