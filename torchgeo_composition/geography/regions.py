"""Region layers: continents (vendored Natural Earth) or any user polygon file."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from ._lookup import PolygonLookup
from ._validate import validate_distance, validate_lonlat
from .continents import CONTINENTS, normalize_continent

DATA_DIR = Path(__file__).parent / "data"
NATURAL_EARTH = DATA_DIR / "naturalearth_110m_countries.geojson"
"""Vendored Natural Earth 1:110m admin-0 countries (public domain)."""
CONTINENT_LOOKUP = DATA_DIR / "naturalearth_110m_continents_lookup.npz"
"""Prebuilt lookup grid of :data:`NATURAL_EARTH` by continent (see ``scripts/``)."""


def _sha256_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _layer_files(path: Path) -> list[Path]:
    """Files making up a layer: a folder's files or the file and its sidecars."""
    if path.is_dir():
        return [p for p in path.rglob("*") if p.is_file()]
    return [p for p in path.parent.glob(f"{path.stem}.*") if p.is_file()]


class RegionLayer:
    """A polygon layer whose attribute values are the strata of a composition.

    With ``path=None`` the layer is the vendored Natural Earth 1:110m countries
    dissolved by continent, and the strata are :data:`CONTINENTS`. Otherwise any
    polygon file readable by geopandas/pyogrio (GeoJSON, GeoPackage, Shapefile,
    GeoParquet via ``.parquet``) with a CRS; it is reprojected to EPSG:4326 and
    dissolved by ``attribute``. Points in no polygon take the value of the
    nearest polygon within ``max_distance_km`` (geodesic, WGS84), else ``None``.
    Where polygons of different values overlap, the value first in sorted order
    wins.

    Args:
        path: polygon file, or ``None`` for the vendored continents.
        attribute: column whose values are the strata; ``None`` or
            ``"continent"`` for the vendored continents, required otherwise.
        max_distance_km: fallback radius for points outside every polygon
            (0 disables the fallback).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a readable polygon layer, has no CRS, lacks
            ``attribute`` (the message lists the columns), holds no polygon with
            a value, or if ``max_distance_km`` is negative.
    """

    def __init__(
        self,
        path: str | None = None,
        attribute: str | None = None,
        max_distance_km: float = 500.0,
    ) -> None:
        self.path = None if path is None else os.fspath(path)
        self.max_distance_km = validate_distance(max_distance_km)
        self._lookup: PolygonLookup | None = None
        self._fingerprint: str | None = None
        if self.path is None:
            if attribute not in (None, "continent"):
                raise ValueError(
                    f"attribute must be None or 'continent' for the built-in "
                    f"continent layer (path=None), got {attribute!r}"
                )
            self.attribute = "continent"
            self._frame: gpd.GeoDataFrame | None = None  # read on demand
            self._values: tuple[str, ...] = CONTINENTS
            return
        if attribute is None:
            raise ValueError(
                f"attribute is required with path={self.path!r}: name the column "
                "whose values are the regions"
            )
        self.attribute = attribute
        self._frame = self._read(Path(self.path), attribute)
        self._values = tuple(sorted(self._frame[attribute].unique()))

    @staticmethod
    def _read(path: Path, attribute: str) -> gpd.GeoDataFrame:
        if not path.exists():
            raise FileNotFoundError(f"path {os.fspath(path)!r} does not exist")
        try:
            if path.suffix.lower() in (".parquet", ".geoparquet"):
                frame = gpd.read_parquet(path)
            else:
                frame = gpd.read_file(path)
        except Exception as error:  # pyogrio/pyarrow raise many error types
            raise ValueError(
                f"path {os.fspath(path)!r} is not a polygon layer readable by "
                f"geopandas: {error}"
            ) from error
        if attribute not in frame.columns or attribute == frame.geometry.name:
            columns = [c for c in frame.columns if c != frame.geometry.name]
            raise ValueError(
                f"attribute {attribute!r} is not a column of {os.fspath(path)!r}; "
                f"columns: {', '.join(map(str, columns))}"
            )
        if frame.crs is None:
            raise ValueError(
                f"layer {os.fspath(path)!r} has no CRS; set one (e.g. EPSG:4326) "
                "so that it can be reprojected to longitude/latitude"
            )
        frame = frame[[attribute, frame.geometry.name]].to_crs("EPSG:4326")
        geometry = shapely.make_valid(frame.geometry.values)
        frame = frame.set_geometry(geometry)
        polygonal = np.isin(
            shapely.get_type_id(geometry),
            [
                shapely.GeometryType.POLYGON,
                shapely.GeometryType.MULTIPOLYGON,
                shapely.GeometryType.GEOMETRYCOLLECTION,
            ],
        ) & ~shapely.is_empty(geometry)
        frame = frame[polygonal & frame[attribute].notna().to_numpy()].copy()
        if frame.empty:
            raise ValueError(
                f"layer {os.fspath(path)!r} holds no polygon with a value in "
                f"column {attribute!r}"
            )
        frame[attribute] = frame[attribute].astype(str)
        return frame.reset_index(drop=True)

    @property
    def name(self) -> str:
        """Name of the stratum variable: ``"continent"`` or the attribute."""
        return self.attribute

    @property
    def values(self) -> tuple[str, ...]:
        """The valid strata, sorted (the continent slugs for the default layer)."""
        return self._values

    @property
    def geodataframe(self) -> gpd.GeoDataFrame:
        """The layer's features in EPSG:4326 (for maps; do not modify)."""
        if self._frame is None:
            self._frame = gpd.read_file(NATURAL_EARTH)
        return self._frame

    @property
    def is_continents(self) -> bool:
        """Whether this is the vendored continent layer."""
        return self.path is None

    def normalize(self, name: str) -> str:
        """Return the stratum a name refers to.

        Continent aliases are accepted for the continent layer; other layers
        accept their values, case-insensitively.

        Args:
            name: a stratum name.

        Returns:
            One of :attr:`values`.

        Raises:
            ValueError: if ``name`` matches no value; the message lists them.
        """
        if self.is_continents:
            return normalize_continent(name)
        if name in self._values:
            return name
        folded = {v.casefold(): v for v in self._values}
        if isinstance(name, str) and name.casefold() in folded:
            return folded[name.casefold()]
        shown = ", ".join(self._values[:50]) + (
            " ..." if len(self._values) > 50 else ""
        )
        raise ValueError(f"unknown {self.name} {name!r}; valid: {shown}")

    def _get_lookup(self) -> PolygonLookup:
        if self._lookup is None:
            prebuilt = _load_continent_lookup() if self.is_continents else None
            self._lookup = prebuilt or _build_lookup(
                self.geodataframe, self.attribute, self._values
            )
        return self._lookup

    def assign(
        self, lon: ArrayLike, lat: ArrayLike, max_distance_km: float | None = None
    ) -> NDArray[np.object_]:
        """Return the stratum of each point, ``None`` where unassigned.

        Args:
            lon: longitudes in degrees, scalar or array, in [-180, 180].
            lat: latitudes in degrees, same shape, in [-90, 90].
            max_distance_km: fallback radius; defaults to the layer's.

        Returns:
            Object array of the input shape holding strata or ``None``.

        Raises:
            ValueError: if lon/lat are NaN, out of range or of different shapes.
        """
        x, y = validate_lonlat(lon, lat)
        radius = (
            self.max_distance_km
            if max_distance_km is None
            else validate_distance(max_distance_km)
        )
        codes = self._get_lookup().assign(x, y, radius)
        table = np.array([*self._values, None], dtype=object)
        out: NDArray[np.object_] = table[codes.ravel()].reshape(codes.shape)
        return out

    def fingerprint(self) -> str:
        """Return a string identifying the layer's content and settings.

        Returns:
            ``"<source>:<attribute>:<max_distance_km>:sha256=<digest>"`` where the
            digest covers the layer's file(s).
        """
        if self._fingerprint is None:
            source = Path(self.path) if self.path else NATURAL_EARTH
            digest = _sha256_files(_layer_files(source) if self.path else [source])
            label = source.name if self.path else "naturalearth_110m_admin0"
            self._fingerprint = (
                f"{label}:{self.attribute}:{self.max_distance_km:g}km:"
                f"sha256={digest[:16]}"
            )
        return self._fingerprint

    def to_dict(self) -> dict[str, Any]:
        """Return the constructor arguments and fingerprint (JSON-serialisable)."""
        return {
            "path": self.path,
            "attribute": self.attribute,
            "max_distance_km": self.max_distance_km,
            "fingerprint": self.fingerprint(),
        }

    def __repr__(self) -> str:
        return f"RegionLayer({json.dumps(self.path)}, {self.attribute!r}, " + (
            f"max_distance_km={self.max_distance_km:g})"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lookup"] = None  # rebuilt on demand (cheap, and not pickled)
        return state


def _build_lookup(
    frame: gpd.GeoDataFrame, attribute: str, values: tuple[str, ...]
) -> PolygonLookup:
    dissolved = frame.dissolve(by=attribute).geometry.reindex(list(values))
    return PolygonLookup(dissolved.to_numpy())


def build_continent_lookup() -> dict[str, NDArray[Any]]:
    """Build the continent lookup grid as arrays for :data:`CONTINENT_LOOKUP`.

    Returns:
        The arrays of :meth:`PolygonLookup.to_arrays` plus ``source_sha256``,
        the digest of :data:`NATURAL_EARTH` they were built from.
    """
    frame = gpd.read_file(NATURAL_EARTH)
    arrays = _build_lookup(frame, "continent", CONTINENTS).to_arrays()
    arrays["source_sha256"] = np.array(_sha256_files([NATURAL_EARTH]))
    return arrays


def _load_continent_lookup() -> PolygonLookup | None:
    """Load the prebuilt continent grid if it matches the vendored polygons."""
    if not CONTINENT_LOOKUP.exists():
        return None
    with np.load(CONTINENT_LOOKUP) as arrays:
        if str(arrays["source_sha256"]) != _sha256_files([NATURAL_EARTH]):
            return None
        try:
            return PolygonLookup.from_arrays(arrays)
        except ValueError:  # written by another format version: rebuild
            return None


@functools.lru_cache(maxsize=1)
def continent_layer() -> RegionLayer:
    """Return the shared vendored continent layer (built once per process)."""
    return RegionLayer()


@functools.lru_cache(maxsize=4)
def _cached_layer(path: str, attribute: str, stamp: tuple[int, int]) -> RegionLayer:
    del stamp  # part of the cache key only: a changed file is read again
    return RegionLayer(path, attribute)


def continent_of(
    lon: ArrayLike, lat: ArrayLike, max_distance_km: float = 500.0
) -> NDArray[np.object_]:
    """Return the continent of each point (vectorised).

    Points on land take the continent of the Natural Earth 1:110m country
    containing them; overseas parts follow their country (French Guiana is
    ``europe``, Hawaii ``north_america``). Points off the coarse coastline take
    the continent of the nearest land within ``max_distance_km`` (geodesic
    distance on WGS84), else ``None``.

    Args:
        lon: longitudes in degrees, scalar or array, in [-180, 180].
        lat: latitudes in degrees, same shape, in [-90, 90].
        max_distance_km: radius of the nearest-land fallback (0 disables it).

    Returns:
        Object array of the input shape (0-d for scalars) holding slugs from
        :data:`CONTINENTS` or ``None``.

    Raises:
        ValueError: if lon/lat are NaN, out of range or of different shapes, or
            ``max_distance_km`` is negative.
    """
    return continent_layer().assign(lon, lat, max_distance_km)


def region_of(
    lon: ArrayLike,
    lat: ArrayLike,
    layer: str | os.PathLike[str] | RegionLayer,
    attribute: str | None = None,
    max_distance_km: float = 500.0,
) -> NDArray[np.object_]:
    """Return the value of ``attribute`` of the polygon containing each point.

    Args:
        lon: longitudes in degrees, scalar or array, in [-180, 180].
        lat: latitudes in degrees, same shape, in [-90, 90].
        layer: a polygon file (biomes, ecoregions, countries, ...) or a
            :class:`RegionLayer`. Files are read once and cached per process.
        attribute: column holding the region names (required for a file).
        max_distance_km: radius of the nearest-polygon fallback (0 disables it).

    Returns:
        Object array of the input shape holding region values or ``None``.

    Raises:
        FileNotFoundError: if the layer file does not exist.
        ValueError: on bad lon/lat, a missing attribute, a layer without CRS, or
            an ``attribute`` that differs from a given :class:`RegionLayer`'s.
    """
    if isinstance(layer, RegionLayer):
        if attribute not in (None, layer.name):
            raise ValueError(
                f"attribute {attribute!r} differs from the layer's {layer.name!r}"
            )
        return layer.assign(lon, lat, max_distance_km)
    path = Path(layer)
    if attribute is None:
        raise ValueError(f"attribute is required with layer={os.fspath(layer)!r}")
    if not path.exists():
        raise FileNotFoundError(f"layer {os.fspath(layer)!r} does not exist")
    stat = path.stat()
    resolved = _cached_layer(
        str(path.resolve()), attribute, (stat.st_mtime_ns, stat.st_size)
    )
    return resolved.assign(lon, lat, max_distance_km)
