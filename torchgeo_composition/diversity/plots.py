"""Figures of diversity reports and of the diversity / performance correlation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy import stats

from ..files import save_figure
from .correlation import CorrelationResult

__all__ = ["plot_band_entropy", "plot_correlation", "plot_stratum_distributions"]


def plot_correlation(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    path: str | os.PathLike[str],
    labels: Sequence[str] | None = None,
    result: CorrelationResult | None = None,
    xlabel: str = "spectral entropy (nats)",
    ylabel: str = "downstream score",
) -> Path:
    """Scatter plot with one labelled point per set and a least-squares trend line.

    Args:
        x: Diversity values.
        y: Scores.
        path: Output image path.
        labels: Optional point labels (e.g. the pretraining set names).
        result: Optional correlation shown in the title.
        xlabel: X axis label.
        ylabel: Y axis label.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot()
    ax.scatter(xa, ya, color="tab:blue", zorder=3)
    if labels is not None:
        for xi, yi, label in zip(xa, ya, labels, strict=True):
            ax.annotate(
                str(label),
                (xi, yi),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=8,
            )
    fit = stats.linregress(xa, ya)
    grid = np.linspace(xa.min(), xa.max(), 50)
    ax.plot(grid, fit.intercept + fit.slope * grid, color="tab:red", linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if result is not None:
        ax.set_title(
            f"{result.method} rho = {result.rho:.3f}, p = {result.p_value:.3g}, "
            f"n = {result.n}"
        )
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_stratum_distributions(
    values: Mapping[str, Sequence[float] | np.ndarray],
    path: str | os.PathLike[str],
    ylabel: str = "per-sample spectral entropy (nats)",
) -> Path:
    """Box plots of per-sample values, one per stratum (plus ``all``).

    Args:
        values: Stratum name -> per-sample values (NaN are dropped).
        path: Output image path.
        ylabel: Axis label of the values.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    names = [n for n, v in values.items() if np.isfinite(np.asarray(v, float)).any()]
    data = [np.asarray(values[n], float) for n in names]
    data = [d[np.isfinite(d)] for d in data]
    fig = Figure(figsize=(1.5 + 0.8 * max(len(names), 1), 4.0))
    ax = fig.add_subplot()
    if data:
        ax.boxplot(data, showmeans=True)
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return save_figure(fig, path)


def plot_band_entropy(
    bands: Sequence[str],
    values: Sequence[float] | np.ndarray,
    path: str | os.PathLike[str],
    max_entropy: float | None = None,
    ylabel: str = "mean spectral entropy (nats)",
) -> Path:
    """Bar chart of the mean per-band value of a measure (spectral entropy).

    Args:
        bands: Band names.
        values: Mean value per band (nats for the entropy).
        path: Output image path.
        max_entropy: Optional upper bound (``ln(bins)``) drawn as a line.
        ylabel: Axis label of the values.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    fig = Figure(figsize=(max(4.0, 0.55 * len(bands) + 1.5), 3.5))
    ax = fig.add_subplot()
    ax.bar(list(bands), np.asarray(values, float), color="tab:green")
    if max_entropy is not None:
        ax.axhline(max_entropy, color="gray", linestyle=":", label="upper bound")
        ax.legend(loc="lower right")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("band")
    return save_figure(fig, path)
