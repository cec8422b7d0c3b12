"""Rank and linear correlation of a diversity measure with downstream results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

__all__ = ["METHODS", "CorrelationResult", "correlate"]

#: Correlation methods accepted by :func:`correlate`.
METHODS = ("spearman", "pearson", "kendall")


@dataclass(frozen=True)
class CorrelationResult:
    """Result of :func:`correlate`.

    Attributes:
        rho: Correlation coefficient (Spearman's rho, Pearson's r or Kendall's tau).
        p_value: Two-sided p-value from :mod:`scipy.stats`.
        n: Number of paired observations.
        method: ``"spearman"``, ``"pearson"`` or ``"kendall"``.
    """

    rho: float
    p_value: float
    n: int
    method: str


def _as_column(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must contain numbers; got {values!r}") from err
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if np.isnan(arr).any():
        where = np.flatnonzero(np.isnan(arr)).tolist()
        raise ValueError(
            f"{name} contains NaN at positions {where}; drop or fill those rows first"
        )
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains infinite values: {arr.tolist()}")
    return arr


def correlate(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    method: Literal["spearman", "pearson", "kendall"] = "spearman",
) -> CorrelationResult:
    """Correlate two paired samples with :mod:`scipy.stats`.

    Args:
        x: Values of the diversity measure, one per pretraining set.
        y: Downstream scores of the same sets, in the same order.
        method: ``"spearman"`` (:func:`scipy.stats.spearmanr`, the study's choice),
            ``"pearson"`` (:func:`scipy.stats.pearsonr`) or ``"kendall"``
            (:func:`scipy.stats.kendalltau`).

    Returns:
        The coefficient, two-sided p-value, number of points and method.

    Raises:
        ValueError: If ``method`` is unknown, the inputs differ in length, hold
            fewer than 3 points, contain NaN or infinite values, or one of them is
            constant (the correlation is undefined then).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    xa = _as_column(x, "x")
    ya = _as_column(y, "y")
    if xa.shape != ya.shape:
        raise ValueError(
            f"x and y must have the same length; got {xa.size} and {ya.size}"
        )
    if xa.size < 3:
        raise ValueError(f"a correlation needs at least 3 points; got n={xa.size}")
    for name, arr in (("x", xa), ("y", ya)):
        if np.all(arr == arr[0]):
            raise ValueError(
                f"{name} is constant (all values equal {arr[0]!r}); the correlation "
                "coefficient is undefined for a constant column"
            )
    if method == "spearman":
        res = stats.spearmanr(xa, ya)
        rho, p = res.statistic, res.pvalue
    elif method == "pearson":
        res = stats.pearsonr(xa, ya)
        rho, p = res.statistic, res.pvalue
    else:
        res = stats.kendalltau(xa, ya)
        rho, p = res.statistic, res.pvalue
    return CorrelationResult(
        rho=float(rho), p_value=float(p), n=int(xa.size), method=method
    )
