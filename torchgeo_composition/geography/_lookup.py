"""Fast, exact point-to-region assignment for polygon layers in EPSG:4326.

The engine answers "which region contains this point?" for millions of points
without a per-point Python loop:

1. A regular longitude/latitude grid is laid over the world. Cells covered by
   one region are answered by a table lookup; cells touched by no region are
   sea; only the *boundary* cells keep the pieces of the regions clipped to the
   cell, tested exactly with shapely's vectorised ``intersects_xy``.
2. Points left unassigned (at sea, or just off a coarse coastline) take the
   region of the nearest boundary vertex within a radius. Boundaries are
   densified, put on the unit sphere and searched with a k-d tree; the
   candidate distance is then measured on the WGS84 ellipsoid with
   :class:`pyproj.Geod`.

The grid is built with a shapely :class:`~shapely.STRtree` in two levels
(coarse tiles, then cells), so building it takes well under a second for
Natural Earth 1:110m.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod
from scipy.spatial import cKDTree

_EARTH_RADIUS_KM = 6371.0088
_GEOD = Geod(ellps="WGS84")
_SEA = -1
_BOUNDARY = -2
_FORMAT = 1  # version of the arrays written by PolygonLookup.to_arrays


def _to_unit_xyz(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> NDArray[np.float64]:
    lam, phi = np.radians(lon), np.radians(lat)
    cos_phi = np.cos(phi)
    return np.column_stack([cos_phi * np.cos(lam), cos_phi * np.sin(lam), np.sin(phi)])


def _clip_to_grid(
    geoms: NDArray[np.object_],
    codes: NDArray[np.int64],
    cell: float,
    clip: bool = True,
) -> tuple[
    NDArray[np.int64], NDArray[np.int64], NDArray[np.object_], NDArray[np.bool_]
]:
    """Clip polygons to the cells of a global grid of ``cell`` degrees.

    Args:
        geoms: polygons in EPSG:4326.
        codes: region code of each polygon.
        cell: cell size in degrees (divides 180).
        clip: whether to clip the polygons to the cells; if not, the pieces
            are the (prepared) input polygons themselves.

    Returns:
        For each (cell, polygon) overlap: the flat cell index (``row * nx +
        col``, rows from the south), the region code, the piece (clipped or
        not) and whether the polygon covers the whole cell.
    """
    nx, ny = round(360 / cell), round(180 / cell)
    cols, rows = np.meshgrid(np.arange(nx), np.arange(ny))
    x0 = cols.ravel() * cell - 180.0
    y0 = rows.ravel() * cell - 90.0
    boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
    box_i, geom_i = shapely.STRtree(geoms).query(boxes)  # bounding boxes only
    shapely.prepare(geoms)
    hit = shapely.intersects(geoms[geom_i], boxes[box_i])
    box_i, geom_i = box_i[hit], geom_i[hit]
    covered = shapely.covers(geoms[geom_i], boxes[box_i])
    if not clip:
        return box_i, codes[geom_i], geoms[geom_i], covered
    pieces = boxes[box_i].copy()
    partial = ~covered
    pieces[partial] = shapely.intersection(
        geoms[geom_i[partial]], boxes[box_i[partial]]
    )
    # Intersections may be collections holding lines or points: keep areas only.
    pieces, index = shapely.get_parts(pieces, return_index=True)
    keep = (shapely.get_type_id(pieces) == shapely.GeometryType.POLYGON) & (
        shapely.area(pieces) > 0
    )
    index = index[keep]
    return box_i[index], codes[geom_i[index]], pieces[keep], covered[index]


def _group_starts(keys: NDArray[np.int64]) -> NDArray[np.bool_]:
    """Return a mask marking the first element of each run of equal sorted keys."""
    return np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)


class PolygonLookup:
    """Assign points to the region polygon containing them (or the nearest one).

    Args:
        geoms: one (multi)polygon per region, in EPSG:4326. Where regions
            overlap, the region with the lower index wins.
        cell_deg: grid cell size in degrees; must divide 180.
        vertex_spacing_deg: densification of region boundaries for the
            nearest-region fallback, in degrees.

    Raises:
        ValueError: if ``cell_deg`` does not divide 180 or no polygon is given.
    """

    def __init__(
        self,
        geoms: NDArray[np.object_],
        cell_deg: float = 1.0,
        vertex_spacing_deg: float = 0.02,
    ) -> None:
        steps = 180 / cell_deg if cell_deg > 0 else 0.0
        if not (0 < cell_deg <= 10 and abs(steps - round(steps)) < 1e-9):
            raise ValueError(
                f"cell_deg must divide 180 and be in (0, 10], got {cell_deg!r}"
            )
        parts, region = shapely.get_parts(
            np.asarray(geoms, dtype=object), return_index=True
        )
        nested = (
            shapely.GeometryType.MULTIPOLYGON,
            shapely.GeometryType.GEOMETRYCOLLECTION,
        )
        # Flatten collections (make_valid output) holding multipolygons.
        while np.isin(shapely.get_type_id(parts), nested).any():
            parts, inner = shapely.get_parts(parts, return_index=True)
            region = region[inner]
        polygonal = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        parts, region = parts[polygonal], region[polygonal].astype(np.int64)
        if len(parts) == 0:
            raise ValueError("geoms must hold at least one polygon")
        self.cell = float(cell_deg)
        self.nx, self.ny = round(360 / cell_deg), round(180 / cell_deg)
        self._parts, self._region = parts, region
        self._spacing = float(vertex_spacing_deg)
        self._kdtree: cKDTree | None = None
        self._vertex_lonlat = np.zeros((0, 2))
        self._vertex_region = np.zeros(0, dtype=np.int64)
        self._build_grid()

    def _build_grid(self) -> None:
        # Two levels (10 degree tiles, then cells) keep the exact predicates of the
        # fine grid on small pieces instead of whole continents.
        _, tile_codes, tile_pieces, _ = _clip_to_grid(self._parts, self._region, 10.0)
        cells, codes, pieces, covered = _clip_to_grid(
            tile_pieces, tile_codes, self.cell
        )
        order = np.lexsort((codes, cells))
        cells, codes = cells[order], codes[order]
        pieces, covered = pieces[order], covered[order]
        first = _group_starts(cells)
        group = np.cumsum(first) - 1
        new_code = _group_starts(codes) & ~first  # a second region in the cell
        mixed = np.bincount(group, weights=new_code) > 0
        any_cover = np.bincount(group, weights=covered) > 0
        uniform = any_cover & ~mixed
        table = np.full(self.nx * self.ny, _SEA, dtype=np.int64)
        table[cells[first][uniform]] = codes[first][uniform]
        boundary = cells[first][~uniform]
        table[boundary] = _BOUNDARY
        # Pieces of boundary cells, padded to (n_boundary, max pieces per cell).
        keep = ~uniform[group]
        slot_of_cell = np.full(self.nx * self.ny, -1, dtype=np.int64)
        slot_of_cell[boundary] = np.arange(len(boundary))
        slot = slot_of_cell[cells[keep]]
        starts = np.flatnonzero(_group_starts(slot))
        rank = np.arange(len(slot)) - np.repeat(
            starts, np.diff(np.r_[starts, len(slot)])
        )
        width = int(rank.max()) + 1 if len(rank) else 0
        self._pieces = np.full((len(boundary), width), None, dtype=object)
        self._piece_code = np.full((len(boundary), width), _SEA, dtype=np.int64)
        self._pieces[slot, rank] = pieces[keep]
        self._piece_code[slot, rank] = codes[keep]
        shapely.prepare(pieces[keep])
        self._table = table
        self._slot_of_cell = slot_of_cell

    def contains(
        self, lon: NDArray[np.float64], lat: NDArray[np.float64]
    ) -> NDArray[np.int64]:
        """Return the code of the region containing each point, -1 where none.

        Points on a region's boundary count as inside it.

        Args:
            lon: longitudes in degrees (validated), 1-D.
            lat: latitudes in degrees (validated), 1-D.

        Returns:
            Region codes, int64, -1 for points in no region.
        """
        col = np.minimum(((lon + 180.0) / self.cell).astype(np.int64), self.nx - 1)
        row = np.minimum(((lat + 90.0) / self.cell).astype(np.int64), self.ny - 1)
        cell = row * self.nx + col
        result = self._table[cell]
        todo = np.flatnonzero(result == _BOUNDARY)
        result[todo] = _SEA
        slot = self._slot_of_cell[cell[todo]]
        for k in range(self._pieces.shape[1]):  # a few slots, not points
            code = self._piece_code[slot, k]
            has = code != _SEA
            idx, pieces, code = todo[has], self._pieces[slot[has], k], code[has]
            inside = shapely.intersects_xy(pieces, lon[idx], lat[idx])
            hit = idx[inside]
            # Lower codes win where regions overlap (slots are sorted by code).
            free = result[hit] == _SEA
            result[hit[free]] = code[inside][free]
        return result

    def _build_kdtree(self) -> cKDTree:
        if self._kdtree is None:
            rings = shapely.segmentize(shapely.boundary(self._parts), self._spacing)
            coords, index = shapely.get_coordinates(rings, return_index=True)
            self._vertex_lonlat = coords
            self._vertex_region = self._region[index]
            self._kdtree = cKDTree(_to_unit_xyz(coords[:, 0], coords[:, 1]))
        return self._kdtree

    def nearest(
        self,
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
        max_distance_km: float,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Return the region of the nearest boundary vertex within a radius.

        Args:
            lon: longitudes in degrees (validated), 1-D.
            lat: latitudes in degrees (validated), 1-D.
            max_distance_km: search radius in km, measured on the WGS84 ellipsoid.

        Returns:
            Region codes (-1 where no region lies within the radius) and the
            geodesic distances in km (``inf`` where none).
        """
        codes = np.full(len(lon), _SEA, dtype=np.int64)
        dist_km = np.full(len(lon), np.inf)
        if len(lon) == 0 or max_distance_km <= 0:
            return codes, dist_km
        tree = self._build_kdtree()
        # Chord on the unit sphere for the radius, with a margin for the
        # ellipsoid; the final test uses the geodesic distance.
        angle = min(np.pi, 1.01 * max_distance_km / _EARTH_RADIUS_KM)
        chord = 2.0 * np.sin(angle / 2.0)
        _, vertex = tree.query(_to_unit_xyz(lon, lat), k=1, distance_upper_bound=chord)
        found = np.flatnonzero(vertex < len(self._vertex_region))
        if len(found) == 0:
            return codes, dist_km
        target = self._vertex_lonlat[vertex[found]]
        _, _, metres = _GEOD.inv(lon[found], lat[found], target[:, 0], target[:, 1])
        km = np.asarray(metres) / 1000.0
        ok = km <= max_distance_km
        codes[found[ok]] = self._vertex_region[vertex[found[ok]]]
        dist_km[found[ok]] = km[ok]
        return codes, dist_km

    def assign(
        self,
        lon: NDArray[np.float64],
        lat: NDArray[np.float64],
        max_distance_km: float,
    ) -> NDArray[np.int64]:
        """Return the containing region, else the nearest within the radius.

        Args:
            lon: longitudes in degrees (validated), any shape.
            lat: latitudes in degrees (validated), same shape.
            max_distance_km: fallback radius in km (0 disables the fallback).

        Returns:
            Region codes with the input shape, -1 where unassigned.
        """
        shape = lon.shape
        flat_lon, flat_lat = lon.ravel(), lat.ravel()
        codes = self.contains(flat_lon, flat_lat)
        miss = np.flatnonzero(codes == _SEA)
        if len(miss) and max_distance_km > 0:
            near, _ = self.nearest(flat_lon[miss], flat_lat[miss], max_distance_km)
            codes[miss] = near
        return codes.reshape(shape)

    def to_arrays(self) -> dict[str, NDArray[Any]]:
        """Return the built lookup as plain arrays (for :func:`numpy.savez`).

        Returns:
            Arrays from which :meth:`from_arrays` restores the lookup without
            rebuilding the grid; geometries are stored as concatenated WKB.
        """
        slot, rank = np.nonzero(self._piece_code != _SEA)
        pieces_wkb, pieces_offsets = _pack_wkb(self._pieces[slot, rank])
        parts_wkb, parts_offsets = _pack_wkb(self._parts)
        return {
            "format": np.array(_FORMAT),
            "cell": np.array(self.cell),
            "spacing": np.array(self._spacing),
            "table": self._table.astype(np.int16),
            "piece_slot": slot.astype(np.int32),
            "piece_rank": rank.astype(np.int16),
            "piece_code": self._piece_code[slot, rank].astype(np.int16),
            "piece_shape": np.array(self._pieces.shape, dtype=np.int64),
            "pieces_wkb": pieces_wkb,
            "pieces_offsets": pieces_offsets,
            "parts_wkb": parts_wkb,
            "parts_offsets": parts_offsets,
            "region": self._region.astype(np.int16),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, NDArray[Any]]) -> PolygonLookup:
        """Restore a lookup saved with :meth:`to_arrays`.

        Args:
            arrays: the mapping returned by :meth:`to_arrays` (or an ``NpzFile``).

        Returns:
            The lookup, ready to use.

        Raises:
            ValueError: if the arrays come from another format version.
        """
        if int(arrays["format"]) != _FORMAT:
            raise ValueError(
                f"lookup arrays have format {arrays['format']}, want {_FORMAT}"
            )
        self = cls.__new__(cls)
        self.cell = float(arrays["cell"])
        self.nx, self.ny = round(360 / self.cell), round(180 / self.cell)
        self._spacing = float(arrays["spacing"])
        self._parts = _unpack_wkb(arrays["parts_wkb"], arrays["parts_offsets"])
        self._region = arrays["region"].astype(np.int64)
        self._table = arrays["table"].astype(np.int64)
        boundary = np.flatnonzero(self._table == _BOUNDARY)
        self._slot_of_cell = np.full(self._table.shape, -1, dtype=np.int64)
        self._slot_of_cell[boundary] = np.arange(len(boundary))
        shape = tuple(int(n) for n in arrays["piece_shape"])
        slot, rank = arrays["piece_slot"], arrays["piece_rank"]
        pieces = _unpack_wkb(arrays["pieces_wkb"], arrays["pieces_offsets"])
        shapely.prepare(pieces)
        self._pieces = np.full(shape, None, dtype=object)
        self._pieces[slot, rank] = pieces
        self._piece_code = np.full(shape, _SEA, dtype=np.int64)
        self._piece_code[slot, rank] = arrays["piece_code"]
        self._kdtree = None
        self._vertex_lonlat = np.zeros((0, 2))
        self._vertex_region = np.zeros(0, dtype=np.int64)
        return self


def _pack_wkb(
    geoms: NDArray[np.object_],
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    blobs = shapely.to_wkb(geoms)
    sizes = np.array([len(b) for b in blobs], dtype=np.int64)
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    return data, np.r_[0, np.cumsum(sizes)]


def _unpack_wkb(
    data: NDArray[np.uint8], offsets: NDArray[np.int64]
) -> NDArray[np.object_]:
    raw = data.tobytes()
    blobs = np.array([raw[a:b] for a, b in itertools.pairwise(offsets)], dtype=object)
    return shapely.from_wkb(blobs)
