"""Group test samples by region (a continent or any region layer) from lon/lat.

A region with fewer than ``min_samples`` test samples (zero included) is still
reported, with its count, and flagged ``enough=False``; its metric is not
computed and it is never folded into an average. Samples whose location falls
in no region (open sea beyond the fallback radius) or that have no location
(NaN ``lon``/``lat``, e.g. a GEO-Bench sample without georeference) form the
region :data:`UNASSIGNED`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..geography import RegionLayer, continent_layer

__all__ = [
    "UNASSIGNED",
    "RegionGroup",
    "group_regions",
    "region_labels",
    "resolve_region_layer",
]

UNASSIGNED = "unassigned"


class RegionGroup(NamedTuple):
    """The test samples of one region."""

    region: str  # region name (continent slug, layer value or UNASSIGNED)
    num_samples: int  # number of test samples in it
    indices: NDArray[np.int64]  # their positions in the test set
    enough: bool  # num_samples >= min_samples: a metric is computed and logged


def resolve_region_layer(
    regions: str | os.PathLike[str] | RegionLayer, attribute: str | None = None
) -> RegionLayer:
    """Return the region layer named by ``regions``.

    Args:
        regions: ``"continent"`` (the vendored continents), a polygon file
            (with ``attribute``) or a :class:`RegionLayer`.
        attribute: Column of the polygon file holding the region names.

    Returns:
        The layer.

    Raises:
        ValueError: If ``regions`` is neither ``"continent"`` nor an existing
            polygon file, or the file lacks ``attribute``.
    """
    if isinstance(regions, RegionLayer):
        return regions
    if os.fspath(regions) in ("continent", "continents"):
        return continent_layer()
    if not os.path.exists(regions):
        raise ValueError(
            f"regions={os.fspath(regions)!r} is neither 'continent' nor an existing "
            "polygon file; give 'continent' or the path of a region layer (with "
            "region_attribute)"
        )
    if attribute is None:
        raise ValueError(
            f"region_attribute is required with regions={os.fspath(regions)!r}: "
            "name the column holding the region names"
        )
    return RegionLayer(os.fspath(regions), attribute)


def region_labels(
    lon: ArrayLike,
    lat: ArrayLike,
    layer: RegionLayer,
    max_distance_km: float = 500.0,
) -> NDArray[np.str_]:
    """Return the region of each sample (``UNASSIGNED`` where none).

    Samples with a NaN longitude or latitude (no known location) are
    ``UNASSIGNED``.

    Args:
        lon: Longitudes in degrees, shape ``(N,)``.
        lat: Latitudes in degrees, shape ``(N,)``.
        layer: The region layer (:func:`resolve_region_layer`).
        max_distance_km: Nearest-polygon fallback radius.

    Returns:
        String array ``(N,)``.

    Raises:
        ValueError: On out-of-range coordinates (from geography).
    """
    lon_a = np.asarray(lon, dtype=np.float64).reshape(-1)
    lat_a = np.asarray(lat, dtype=np.float64).reshape(-1)
    if lon_a.size == 0:
        return np.empty(0, dtype=np.str_)
    out = np.full(lon_a.shape, UNASSIGNED, dtype=object)
    known = np.isfinite(lon_a) & np.isfinite(lat_a)
    if known.any():
        assigned = layer.assign(lon_a[known], lat_a[known], max_distance_km)
        out[known] = [UNASSIGNED if v is None else str(v) for v in assigned]
    return out.astype(np.str_)


def group_regions(
    labels: Sequence[str] | NDArray[np.str_],
    min_samples: int = 1,
    regions: Sequence[str] = (),
) -> list[RegionGroup]:
    """Group sample positions by region.

    Args:
        labels: The region of each test sample.
        min_samples: Smallest count for which a region's metric is computed;
            smaller regions are reported with ``enough=False``.
        regions: Regions to report even when no sample falls in them (e.g.
            every continent); they get ``num_samples=0``.

    Returns:
        One :class:`RegionGroup` per region, sorted by name
        (``UNASSIGNED`` last).

    Raises:
        ValueError: If ``min_samples < 1``.
    """
    if (
        isinstance(min_samples, bool)
        or int(min_samples) != min_samples
        or min_samples < 1
    ):
        raise ValueError(
            f"min_samples={min_samples!r} is invalid; give an integer >= 1"
        )
    array = np.asarray(labels, dtype=np.str_).reshape(-1)
    names = sorted(
        set(array.tolist()) | set(regions), key=lambda r: (r == UNASSIGNED, r)
    )
    groups = []
    for name in names:
        indices = np.flatnonzero(array == name).astype(np.int64)
        count = int(indices.size)
        groups.append(RegionGroup(name, count, indices, count >= min_samples))
    return groups
