"""Validation of coordinates and radii shared by the geography functions."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def validate_lonlat(
    lon: object, lat: object
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert lon/lat to float arrays of equal shape and check their range.

    Args:
        lon: longitudes in degrees, scalar or array-like, in [-180, 180].
        lat: latitudes in degrees, scalar or array-like, in [-90, 90].

    Returns:
        ``(lon, lat)`` as float64 arrays of the same shape.

    Raises:
        ValueError: if the shapes differ, a value is not numeric, NaN or out of
            range. The message names the parameter and the first bad value.
    """
    arrays = []
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be numeric, got {value!r}") from error
        bad = ~(np.abs(array) <= limit)  # also catches NaN
        if bad.any():
            first = array[bad].flat[0]
            raise ValueError(
                f"{name} must be finite and within [-{limit:g}, {limit:g}] degrees, "
                f"got {first!r} ({int(bad.sum())} invalid value(s))"
            )
        arrays.append(array)
    if arrays[0].shape != arrays[1].shape:
        raise ValueError(
            f"lon and lat must have the same shape, got {arrays[0].shape} "
            f"and {arrays[1].shape}"
        )
    return arrays[0], arrays[1]


def validate_distance(max_distance_km: float) -> float:
    """Check a fallback radius.

    Args:
        max_distance_km: radius in kilometres, finite and >= 0.

    Returns:
        The radius as a float.

    Raises:
        ValueError: if the radius is negative, NaN or infinite.
    """
    value = float(max_distance_km)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(
            f"max_distance_km must be a finite number >= 0, got {max_distance_km!r}"
        )
    return value
