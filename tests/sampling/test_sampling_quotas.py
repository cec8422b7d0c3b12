from __future__ import annotations

import numpy as np
import pytest

from torchgeo_composition.sampling import largest_remainder, redistribute_quotas


def test_largest_remainder_example() -> None:
    # exact: 3.5, 2.1, 1.4 -> floors 3, 2, 1; the spare unit goes to 'a' (0.5).
    assert largest_remainder({"a": 0.5, "b": 0.3, "c": 0.2}, 7) == {
        "a": 4,
        "b": 2,
        "c": 1,
    }
    # Ties on the remainder: larger weight first, then the stratum name.
    assert largest_remainder({"x": 1, "b": 1, "a": 1}, 10) == {"x": 3, "b": 3, "a": 4}
    assert largest_remainder({"a": 1, "b": 2}, 2) == {"a": 1, "b": 1}
    assert largest_remainder({"a": 1, "b": 0}, 5) == {"a": 5, "b": 0}
    assert largest_remainder({"a": 1}, 0) == {"a": 0}


def test_largest_remainder_properties() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        k = int(rng.integers(1, 12))
        weights = {f"s{i}": float(w) for i, w in enumerate(rng.random(k))}
        weights["s0"] += 1e-3
        total = int(rng.integers(0, 10_000))
        quotas = largest_remainder(weights, total)
        assert sum(quotas.values()) == total
        wsum = sum(weights.values())
        for key, q in quotas.items():
            assert abs(q - total * weights[key] / wsum) < 1
        assert largest_remainder(weights, total) == quotas


def test_largest_remainder_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="total"):
        largest_remainder({"a": 1}, -1)
    with pytest.raises(ValueError, match="sum to 0"):
        largest_remainder({"a": 0}, 3)
    with pytest.raises(ValueError, match="finite"):
        largest_remainder({"a": float("nan")}, 3)


def test_redistribute_quotas_iterates_until_it_fits() -> None:
    weights = {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}
    # 100 -> 25 each; a holds 5 and b holds 20: their 25 missing go to c and d,
    # and then c overflows too.
    quotas = redistribute_quotas(weights, {"a": 5, "b": 20, "c": 30, "d": 100}, 100)
    assert quotas == {"a": 5, "b": 20, "c": 30, "d": 45}
    assert sum(quotas.values()) == 100
    with pytest.raises(ValueError, match="hold only 40 samples"):
        redistribute_quotas({"a": 1, "b": 1}, {"a": 10, "b": 30}, 41)
