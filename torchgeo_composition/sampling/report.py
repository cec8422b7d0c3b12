"""Human-facing views of a selection: a world map and a table of counts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from ..files import atomic_paths, ensure_writable_dir
from ..geography import plot_world
from ..tables import markdown_table
from .pool import UNASSIGNED

if TYPE_CHECKING:
    from ..geography import RegionLayer

__all__ = ["format_counts_table", "plot_selection_map"]


def plot_selection_map(
    manifest: pd.DataFrame,
    path: str | os.PathLike[str],
    layer: RegionLayer | None = None,
    title: str | None = None,
    max_points: int = 100_000,
    dpi: int = 150,
) -> Path:
    """Draw the selected points on a world map and save it as PNG (atomically).

    The basemap is the vendored continents (or ``layer``'s polygons); points are
    coloured by stratum and the legend gives the count of each. Manifests larger
    than ``max_points`` are thinned for drawing by a fixed-seed random subset (the
    counts in the legend stay exact).

    Args:
        manifest: manifest with columns ``lon``, ``lat`` and ``stratum``.
        path: output PNG path.
        layer: region layer to draw as basemap; None for continents.
        title: figure title; None for a default giving the number of samples.
        max_points: most points drawn.
        dpi: resolution of the PNG.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: if ``manifest`` lacks columns or ``path`` is not a ``.png``.
        PermissionError: if the output directory cannot be written.
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ValueError(f"path must end in '.png', got {str(target)!r}")
    missing = [c for c in ("lon", "lat", "stratum") if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing} needed for the map")
    if max_points <= 0:
        raise ValueError(f"max_points must be > 0, got {max_points}")
    ensure_writable_dir(target, "path")

    strata = manifest["stratum"].astype("str").fillna(UNASSIGNED).to_numpy(dtype=object)
    names, codes = np.unique(strata, return_inverse=True)
    counts = np.bincount(codes, minlength=len(names))
    shown = np.arange(len(manifest))
    if len(manifest) > max_points:
        rng = np.random.Generator(np.random.PCG64(0))
        shown = np.sort(rng.choice(len(manifest), size=max_points, replace=False))
    lon = manifest["lon"].to_numpy(dtype=np.float64)[shown]
    lat = manifest["lat"].to_numpy(dtype=np.float64)[shown]
    shown_codes = codes[shown]

    fig = Figure(figsize=(12, 6.2), layout="constrained")
    ax = fig.add_subplot()
    plot_world(ax, layer)
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    for code, (name, count) in enumerate(zip(names, counts, strict=True)):
        mask = shown_codes == code
        color = "0.3" if name == UNASSIGNED else cmap(code % cmap.N)
        ax.scatter(
            lon[mask],
            lat[mask],
            s=6 if len(manifest) < 5000 else 1,
            color=color,
            label=f"{name} ({int(count):,})",
            linewidths=0,
            rasterized=True,
        )
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_aspect("equal")
    ax.set_title(title if title is not None else f"{len(manifest):,} selected samples")
    if len(names):
        ax.legend(
            loc="lower left",
            markerscale=4 if len(manifest) < 5000 else 8,
            fontsize="small",
            title="stratum (count)",
        )
    with atomic_paths(target) as (temp,):
        fig.savefig(temp, format="png", dpi=dpi, metadata={"Software": None})
    return target


def format_counts_table(summary: Mapping[str, Any]) -> str:
    """Markdown table of the selected counts and shares per stratum.

    Columns: stratum, pool (samples available), target share (%), quota, selected,
    share (%). A last row gives the totals, followed by the stratum entropy and
    any shortfall action.

    Args:
        summary: a selection summary.

    Returns:
        The table (Markdown pipe syntax, readable as plain text).
    """
    counts: Mapping[str, int] = summary.get("counts", {})
    pool: Mapping[str, int] = summary.get("pool_counts", {})
    target: Mapping[str, float] = summary.get("target_shares", {}) or {}
    quotas: Mapping[str, int] = summary.get("quotas", {}) or {}
    total = int(summary.get("num_samples", sum(counts.values())))
    keys = sorted(set(counts) | {k for k, v in target.items() if v > 0})
    rows = [
        {
            "stratum": key,
            "pool": int(pool.get(key, 0)),
            "target %": 100 * float(target[key]) if key in target else None,
            "quota": int(quotas[key]) if key in quotas else None,
            "selected": int(counts.get(key, 0)),
            "share %": 100 * int(counts.get(key, 0)) / total if total else None,
        }
        for key in keys
    ]
    rows.append(
        {
            "stratum": "total",
            "pool": int(summary.get("pool_size", sum(pool.values()))),
            "target %": 100.0,
            "quota": sum(int(q) for q in quotas.values()) if quotas else None,
            "selected": sum(int(c) for c in counts.values()),
            "share %": 100.0,
        }
    )
    lines = [markdown_table(pd.DataFrame(rows, dtype=object), floatfmt=".1f")]
    name = (summary.get("composition") or {}).get("name", "?")
    entropy = summary.get("stratum_entropy_nats")
    footer = f"composition {name!r}, seed {summary.get('seed')}"
    if entropy is not None:
        footer += f", stratum entropy {float(entropy):.3f} nats"
    lines.append(footer)
    shortfall = summary.get("shortfall") or {}
    if shortfall.get("occurred"):
        lines.append(
            f"shortfall ({shortfall.get('policy')}): {shortfall.get('action')}"
        )
    return "\n".join(lines)
