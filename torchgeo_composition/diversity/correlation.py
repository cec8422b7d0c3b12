"""Rank and linear correlation of diversity measures with downstream results.

:func:`correlate` tests one measure against one score; :func:`correlation_table`
tests every diversity column of a results table against a score column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "METHODS",
    "TABLE_COLUMNS",
    "CorrelationResult",
    "correlate",
    "correlation_table",
]

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
                f"{name} is constant (all values equal {arr[0].item()!r}); the correlation "
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


#: Columns of :func:`correlation_table`.
TABLE_COLUMNS = ("measure", "method", "rho", "p_value", "n", "note")


def correlation_table(
    frame: pd.DataFrame,
    x_columns: Sequence[str] | None,
    y: str,
    method: Literal["spearman", "pearson", "kendall"] = "spearman",
    on_error: Literal["raise", "note"] = "raise",
) -> pd.DataFrame:
    """Correlate each diversity column of a results table with a score column.

    Rows where either value of a pair is missing are left out of that pair; ``n``
    counts the rows used.

    Args:
        frame: One row per pretraining set.
        x_columns: Diversity columns; ``None`` for every numeric column but ``y``.
        y: Score column.
        method: ``"spearman"``, ``"pearson"`` or ``"kendall"``.
        on_error: ``"raise"`` an undefined correlation (fewer than 3 pairs, a
            constant column), or ``"note"`` it: the row then has NaN ``rho`` and
            ``p_value`` and the reason in ``note``.

    Returns:
        One row per diversity column: ``measure`` (the column), ``method``,
        ``rho``, ``p_value``, ``n`` and ``note`` (empty when defined).

    Raises:
        ValueError: If ``method`` or ``on_error`` is unknown, a column is missing
            (the message lists the available ones) or not numeric, there is no
            diversity column, or (``on_error="raise"``) a correlation is undefined.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if on_error not in ("raise", "note"):
        raise ValueError(f"on_error must be 'raise' or 'note'; got {on_error!r}")
    columns = list(frame.columns)
    missing = [c for c in [y, *(x_columns or [])] if c not in columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found in the results; available columns are "
            f"{columns}"
        )
    numeric = pd.api.types.is_numeric_dtype
    if x_columns is None:
        x_columns = [c for c in columns if c != y and numeric(frame[c])]
    if not x_columns:
        raise ValueError(
            f"no numeric diversity column besides y={y!r}; columns are {columns}"
        )
    for name in [y, *x_columns]:
        if not numeric(frame[name]):
            raise ValueError(f"column {name!r} is not numeric: {frame[name].tolist()}")
    rows = []
    for name in x_columns:
        pairs = frame[[name, y]].dropna()
        row = {"measure": name, "method": method, "n": len(pairs), "note": ""}
        try:
            res = correlate(pairs[name].to_numpy(), pairs[y].to_numpy(), method)
        except ValueError as err:
            if on_error == "raise":
                raise ValueError(f"column {name!r} vs {y!r}: {err}") from err
            rows.append(row | {"rho": np.nan, "p_value": np.nan, "note": str(err)})
            continue
        rows.append(row | {"rho": res.rho, "p_value": res.p_value})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
