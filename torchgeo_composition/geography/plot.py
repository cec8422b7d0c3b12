"""World basemap for matplotlib figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .regions import RegionLayer


def plot_world(ax: Axes, layer: RegionLayer | None = None, **style: Any) -> Axes:
    """Draw a layer's polygons as a basemap in longitude/latitude.

    Args:
        ax: the matplotlib axes to draw on (e.g. from
            ``matplotlib.figure.Figure().add_subplot()``).
        layer: the region layer; ``None`` draws the vendored Natural Earth
            countries.
        **style: keyword arguments for :meth:`geopandas.GeoDataFrame.plot`
            (``facecolor``, ``edgecolor``, ``linewidth``, ``column``, ...)
            overriding a light grey style.

    Returns:
        The axes, with limits set to the whole world and equal aspect.
    """
    from .regions import continent_layer

    frame = (layer or continent_layer()).geodataframe
    options: dict[str, Any] = {
        "facecolor": "#e8e8e8",
        "edgecolor": "#a0a0a0",
        "linewidth": 0.3,
        "zorder": 0,
    }
    options.update(style)
    if "column" in options:
        options.pop("facecolor")
    frame.plot(ax=ax, aspect="equal", **options)
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    return ax
