"""Where is each sample? Continents and other region layers for lon/lat points.

Continents come from a vendored copy of Natural Earth 1:110m admin-0 countries
(public domain); any polygon file can serve as a region layer instead.
"""

from .continents import CONTINENTS, INHABITED, continent_aliases, normalize_continent
from .location import bounds_center_lonlat, raster_center_lonlat
from .plot import plot_world
from .regions import (
    NATURAL_EARTH,
    RegionLayer,
    continent_layer,
    continent_of,
    region_of,
)

__all__ = [
    "CONTINENTS",
    "INHABITED",
    "NATURAL_EARTH",
    "RegionLayer",
    "bounds_center_lonlat",
    "continent_aliases",
    "continent_layer",
    "continent_of",
    "normalize_continent",
    "plot_world",
    "raster_center_lonlat",
    "region_of",
]
