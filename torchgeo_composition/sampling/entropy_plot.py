"""Histogram of a set's spectral entropies, with its reference's when it has one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..files import save_figure

__all__ = ["entropy_plot_path", "plot_entropy_histogram"]


def entropy_plot_path(manifest_path: str | os.PathLike[str]) -> Path:
    """Return the histogram's path beside a manifest: ``<stem>.entropy.png``.

    Args:
        manifest_path: The manifest path.

    Returns:
        The PNG path.
    """
    path = Path(manifest_path)
    return path.with_name(f"{path.stem}.entropy.png")


def plot_entropy_histogram(
    values: np.ndarray,
    path: str | os.PathLike[str],
    reference: np.ndarray | None = None,
    title: str | None = None,
    bins: int = 30,
) -> Path:
    """Write the histogram (density) of ``values``, and of ``reference`` if given.

    Args:
        values: Spectral entropies of the set (NaN ignored).
        path: Output PNG.
        reference: Entropies of the reference set, drawn on the same bins.
        title: Title of the figure.
        bins: Number of bins.

    Returns:
        The written path.
    """
    ours = values[~np.isnan(values)]
    sets = [("set", ours)]
    if reference is not None:
        sets.append(("reference", reference[~np.isnan(reference)]))
    both = np.concatenate([v for _, v in sets])
    edges: int | list[float] = (
        np.linspace(both.min(), both.max(), bins + 1).tolist() if both.size else bins
    )
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    for label, data in sets:
        ax.hist(
            data, bins=edges, density=True, alpha=0.55, label=f"{label} ({len(data)})"
        )
    ax.set_xlabel("spectral entropy (nats)")
    ax.set_ylabel("density")
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
