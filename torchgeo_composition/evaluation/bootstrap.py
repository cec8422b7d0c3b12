"""Confidence intervals: bootstrap over test samples, and summaries over repeats.

:func:`bootstrap_ci` resamples test samples with :func:`scipy.stats.bootstrap`
(the mean of a per-sample score by default, e.g. 1/0 for correct/wrong, or any
metric of paired per-sample arrays). :func:`summarize_repeats` combines one score
per repeat (seed): mean, sample standard deviation and a Student-t interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

__all__ = ["Estimate", "RepeatSummary", "bootstrap_ci", "summarize_repeats"]

_METHODS = ("percentile", "basic", "BCa")


class Estimate(NamedTuple):
    """A statistic of the test samples with its bootstrap confidence interval."""

    value: float  # the statistic on all samples
    low: float  # lower end of the interval (NaN for fewer than 2 samples)
    high: float  # upper end of the interval
    n: int  # number of samples
    confidence_level: float  # e.g. 0.95

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (NaN written as ``None``)."""
        return {k: _json_float(v) for k, v in self._asdict().items()}


class RepeatSummary(NamedTuple):
    """One score over repeats (seeds)."""

    mean: float  # mean over repeats
    std: float  # sample standard deviation (ddof=1; NaN for one repeat)
    low: float  # lower end of the Student-t interval of the mean
    high: float  # upper end
    n: int  # number of repeats
    confidence_level: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (NaN written as ``None``)."""
        return {k: _json_float(v) for k, v in self._asdict().items()}


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check_level(confidence_level: float) -> float:
    if not 0 < confidence_level < 1:
        raise ValueError(
            f"confidence_level={confidence_level!r} is invalid; give a value in (0, 1)"
        )
    return float(confidence_level)


def bootstrap_ci(
    *samples: ArrayLike,
    statistic: Callable[..., float] | None = None,
    confidence_level: float = 0.95,
    n_resamples: int = 1000,
    method: Literal["percentile", "basic", "BCa"] = "percentile",
    seed: int = 0,
) -> Estimate:
    """Bootstrap confidence interval of a statistic of the test samples.

    Args:
        samples: One per-sample array (``statistic=None``: its mean), or several
            paired arrays of equal length (rows resampled together) passed to
            ``statistic``.
        statistic: ``f(*arrays) -> float``; ``None`` for the mean of one array.
        confidence_level: Coverage of the interval, in (0, 1).
        n_resamples: Number of bootstrap resamples (>= 1).
        method: scipy's interval method.
        seed: Seed of the resampling (the interval is reproducible).

    Returns:
        The :class:`Estimate`. With fewer than two samples the interval is
        ``(NaN, NaN)``; with identical scores it is the single value.

    Raises:
        ValueError: On no sample arrays, unequal lengths, several arrays without
            ``statistic``, or a bad ``confidence_level``/``n_resamples``/``method``.
    """
    level = _check_level(confidence_level)
    if not samples:
        raise ValueError("bootstrap_ci needs at least one array of per-sample values")
    arrays = [np.asarray(s) for s in samples]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            f"paired samples have different lengths {[len(a) for a in arrays]}"
        )
    if statistic is None and len(arrays) != 1:
        raise ValueError("several paired arrays need a statistic (f(*arrays) -> float)")
    if isinstance(n_resamples, bool) or n_resamples < 1:
        raise ValueError(
            f"n_resamples={n_resamples!r} is invalid; give an integer >= 1"
        )
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is invalid; valid choices: {_METHODS}")
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0, level)
    if statistic is None:
        values = arrays[0].astype(np.float64)
        value = float(values.mean())
        if n < 2:
            return Estimate(value, math.nan, math.nan, n, level)
        if np.all(values == values[0]):
            return Estimate(value, value, value, n, level)
        res = stats.bootstrap(
            (values,),
            np.mean,
            confidence_level=level,
            n_resamples=n_resamples,
            method=method,
            vectorized=True,
            axis=-1,
            rng=np.random.default_rng(seed),
        )
    else:
        value = float(statistic(*arrays))
        if n < 2:
            return Estimate(value, math.nan, math.nan, n, level)
        res = stats.bootstrap(
            tuple(arrays),
            statistic,
            paired=True,
            confidence_level=level,
            n_resamples=n_resamples,
            method=method,
            vectorized=False,
            rng=np.random.default_rng(seed),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # degenerate resamples
        low = high = value
    return Estimate(value, low, high, n, level)


def summarize_repeats(
    values: Sequence[float] | ArrayLike, confidence_level: float = 0.95
) -> RepeatSummary:
    """Summarise one score measured in several repeats (seeds).

    Args:
        values: One score per repeat (NaNs, from failed repeats, are refused).
        confidence_level: Coverage of the interval, in (0, 1).

    Returns:
        Mean, standard deviation (ddof=1) and the Student-t interval of the mean;
        ``std``, ``low`` and ``high`` are NaN for a single repeat.

    Raises:
        ValueError: On no values, a NaN value or a bad ``confidence_level``.
    """
    level = _check_level(confidence_level)
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError("summarize_repeats needs at least one value")
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"values {array.tolist()} hold NaN or inf; drop failed repeats"
        )
    mean = float(array.mean())
    n = int(array.size)
    if n < 2:
        return RepeatSummary(mean, math.nan, math.nan, math.nan, n, level)
    std = float(array.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, df=n - 1)) * std / math.sqrt(n)
    return RepeatSummary(mean, std, mean - half, mean + half, n, level)
