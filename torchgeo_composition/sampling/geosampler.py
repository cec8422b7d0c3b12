"""A TorchGeo GeoSampler that draws patches with per-stratum shares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import Polygon
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import Units

from ..compat import GeoSampler
from ..geography import RegionLayer, continent_layer
from .composition import Composition
from .quotas import largest_remainder, redistribute_quotas

__all__ = ["StratifiedGeoSampler"]

_MAX_REJECTION_ROUNDS = 64
#: Vertex spacing (degrees) of region pieces before reprojection to the dataset CRS.
_DENSIFY_DEG = 0.005


def _to_pair(value: tuple[float, float] | float, name: str) -> tuple[float, float]:
    """Return ``(height, width)`` from a number or a pair, validating it."""
    pair = (value, value) if isinstance(value, int | float) else tuple(value)
    if len(pair) != 2 or not all(np.isfinite(v) and v > 0 for v in pair):
        raise ValueError(
            f"{name} must be a number > 0 or a pair of them, got {value!r}"
        )
    return float(pair[0]), float(pair[1])


class StratifiedGeoSampler(GeoSampler):
    """Draw random patches from a GeoDataset with a share per stratum.

    The footprints of the dataset's index are reprojected to EPSG:4326 and
    intersected with the polygons of a region layer (continents by default). Each
    epoch splits ``length`` patches into exact per-stratum quotas
    (largest-remainder rounding of the composition's weights) and, for each
    patch, picks a piece of its stratum (weighted by area) and a uniformly random
    patch centre inside it; the patch is snapped to the pixel grid of its tile.
    A patch thus belongs to the stratum that contains its centre. Tiles that
    touch no polygon (off a coarse coastline) take the stratum that
    :meth:`RegionLayer.assign` gives their centre, within its fallback radius.

    With ``proportional`` the shares are the strata's areas; with ``uniform``
    patches are drawn over all tiles by area, ignoring strata. Patches may
    overlap. Areas are measured in the dataset's CRS.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        composition: Composition | str | Mapping[str, float] = "global",
        size: tuple[float, float] | float = 256,
        length: int = 1000,
        layer: RegionLayer | None = None,
        roi: Polygon | None = None,
        toi: pd.Interval | None = None,
        units: Units = Units.PIXELS,
        seed: int = 0,
        on_shortfall: Literal["error", "redistribute"] = "error",
    ) -> None:
        """Initialize a new StratifiedGeoSampler instance.

        Args:
            dataset: dataset to index from (e.g. a ``RasterDataset``).
            composition: composition or spec for one (preset or ``{stratum: weight}``).
            size: patch size (height, width) or one number for both.
            length: number of patches per epoch.
            layer: region layer; None for the vendored continents.
            roi: region of interest in the dataset CRS (defaults to the index bounds).
            toi: time of interest (defaults to the index bounds).
            units: whether ``size`` is in pixels or CRS units.
            seed: seed of the sampler's PCG64 generator; successive epochs continue
                the same stream.
            on_shortfall: what to do with a stratum of positive weight that the
                dataset does not cover: ``"error"`` or ``"redistribute"`` (its share
                goes to the other strata in proportion to their weights).

        Raises:
            ValueError: for a bad size, length, seed or shortfall policy, a dataset
                with no tile large enough for a patch, or an uncovered stratum with
                ``on_shortfall="error"``.
        """
        super().__init__(dataset, roi, toi)
        if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
            raise ValueError(f"length must be an integer > 0, got {length!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
        if on_shortfall not in ("error", "redistribute"):
            raise ValueError(
                "on_shortfall must be one of ['error', 'redistribute'], got "
                f"{on_shortfall!r}"
            )
        self.size = _to_pair(size, "size")
        if units == Units.PIXELS:
            self.size = (self.size[0] * self.res[1], self.size[1] * self.res[0])
        self.length = length
        self.layer = layer if layer is not None else continent_layer()
        self.composition = (
            composition
            if isinstance(composition, Composition)
            else Composition(composition, layer=layer)
        )
        self.generator = np.random.Generator(np.random.PCG64(seed))
        self._build_tiles()
        self._build_pieces()
        self._build_quotas(on_shortfall)

    def _build_tiles(self) -> None:
        """Keep tiles that fit a patch; compute their valid patch-centre boxes."""
        geoms = np.asarray(self.index.geometry.values, dtype=object)
        bounds = shapely.bounds(geoms).reshape(-1, 4)
        height, width = self.size
        fits = ((bounds[:, 2] - bounds[:, 0]) >= width) & (
            (bounds[:, 3] - bounds[:, 1]) >= height
        )
        if not fits.any():
            raise ValueError(
                f"no tile of the dataset is large enough for a patch of size "
                f"{self.size} (CRS units)"
            )
        self._tile = np.flatnonzero(fits)
        self._bounds = bounds[fits]
        b = self._bounds
        # Patch centres range over the tile shrunk by half a patch on each side;
        # degenerate (line) boxes are widened by a hair to keep an area.
        eps = 1e-9 * max(width, height)
        self._centre_box = shapely.box(
            b[:, 0] + width / 2,
            b[:, 1] + height / 2,
            np.maximum(b[:, 2] - width / 2, b[:, 0] + width / 2 + eps),
            np.maximum(b[:, 3] - height / 2, b[:, 1] + height / 2 + eps),
        )
        self._centre_box = shapely.intersection(self._centre_box, geoms[fits])

    def _build_pieces(self) -> None:
        """Intersect the tiles' centre boxes with the region polygons."""
        crs = self.index.crs
        regions = self.layer.geodataframe
        names = regions[self.layer.name].to_numpy(dtype=object)
        region_geoms = np.asarray(regions.geometry.values, dtype=object)
        step = max(self.size) if all(np.isfinite(self.size)) else None
        dense = shapely.segmentize(self._centre_box, step) if step else self._centre_box
        lonlat = gpd.GeoSeries(dense, crs=crs).to_crs("EPSG:4326").to_numpy()
        tree = shapely.STRtree(region_geoms)
        tile_i, region_i = tree.query(lonlat, predicate="intersects")
        pieces_ll = shapely.intersection(lonlat[tile_i], region_geoms[region_i])
        # Densify so that edges straight in lon/lat stay (nearly) exact in the CRS.
        pieces_ll = shapely.segmentize(pieces_ll, _DENSIFY_DEG)
        pieces = gpd.GeoSeries(pieces_ll, crs="EPSG:4326").to_crs(crs).to_numpy()
        pieces = shapely.intersection(pieces, self._centre_box[tile_i])
        strata = names[region_i]
        # Tiles touching no polygon: the layer's nearest-region fallback.
        missing = np.setdiff1d(np.arange(len(lonlat)), tile_i)
        if missing.size:
            centre = shapely.centroid(lonlat[missing])
            assigned = self.layer.assign(shapely.get_x(centre), shapely.get_y(centre))
            ok = np.asarray([a is not None for a in assigned], dtype=bool)
            tile_i = np.concatenate([tile_i, missing[ok]])
            pieces = np.concatenate([pieces, self._centre_box[missing[ok]]])
            strata = np.concatenate([strata, np.asarray(assigned, dtype=object)[ok]])
        area = shapely.area(pieces)
        keep = area > 0
        self._piece_tile = tile_i[keep]
        self._pieces = pieces[keep]
        self._piece_area = area[keep]
        self._piece_stratum = strata[keep]
        shapely.prepare(self._pieces)
        self.areas: dict[str, float] = {
            str(s): float(self._piece_area[self._piece_stratum == s].sum())
            for s in sorted(set(self._piece_stratum.tolist()))
        }

    def _build_quotas(self, on_shortfall: str) -> None:
        """Per-epoch quota of each stratum."""
        if not self.composition.is_stratified:
            self.quotas: dict[str, int] = {}
            return
        covered = {k: v for k, v in self.areas.items() if v > 0}
        if self.composition.kind == "proportional":
            total = sum(covered.values())
            weights = {k: v / total for k, v in covered.items()}
        else:
            weights = self.composition.weights()
        uncovered = [k for k, w in weights.items() if w > 0 and k not in covered]
        if uncovered and on_shortfall == "error":
            raise ValueError(
                f"dataset covers no part of stratum {uncovered[0]!r} (composition "
                f"{self.composition.name!r}; covered strata: {sorted(covered)}); use "
                "on_shortfall='redistribute' or a composition over covered strata"
            )
        if uncovered:
            capacity = {k: self.length if k in covered else 0 for k in weights}
            self.quotas = redistribute_quotas(weights, capacity, self.length)
        else:
            self.quotas = largest_remainder(weights, self.length)

    def _draw_centres(self, piece: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Uniform random points inside the given pieces (rejection sampling)."""
        rng = self.generator
        x = np.empty(len(piece))
        y = np.empty(len(piece))
        todo = np.arange(len(piece))
        box = shapely.bounds(self._pieces[piece])
        for _ in range(_MAX_REJECTION_ROUNDS):
            if todo.size == 0:
                break
            b = box[todo]
            cx = b[:, 0] + rng.random(todo.size) * (b[:, 2] - b[:, 0])
            cy = b[:, 1] + rng.random(todo.size) * (b[:, 3] - b[:, 1])
            inside = shapely.intersects_xy(self._pieces[piece[todo]], cx, cy)
            x[todo[inside]], y[todo[inside]] = cx[inside], cy[inside]
            todo = todo[~inside]
        if todo.size:  # slivers: fall back to a point on the piece
            point = shapely.point_on_surface(self._pieces[piece[todo]])
            x[todo], y[todo] = shapely.get_x(point), shapely.get_y(point)
        return x, y

    def draw(self) -> pd.DataFrame:
        """Draw one epoch of patches.

        Returns:
            One row per patch, in yield order: ``stratum``, ``tile`` (row of the
            dataset index), ``x``, ``y`` (the drawn centre, inside the stratum),
            and the patch bounds ``minx``, ``maxx``, ``miny``, ``maxy`` (CRS
            units; snapped to the pixel grid, so the patch centre may lie up to
            half a pixel from the drawn one).
        """
        rng = self.generator
        if self.composition.is_stratified:
            labels = np.repeat(
                np.asarray(list(self.quotas), dtype=object),
                list(self.quotas.values()),
            )
            labels = labels[rng.permutation(len(labels))]
            piece = np.empty(len(labels), dtype=np.int64)
            for name in self.quotas:
                where = np.flatnonzero(labels == name)
                if where.size == 0:
                    continue
                members = np.flatnonzero(self._piece_stratum == name)
                p = self._piece_area[members] / self._piece_area[members].sum()
                piece[where] = members[rng.choice(len(members), where.size, p=p)]
        else:
            p = self._piece_area / self._piece_area.sum()
            piece = rng.choice(len(self._pieces), self.length, p=p)
            labels = self._piece_stratum[piece]
        cx, cy = self._draw_centres(piece)
        tile = self._piece_tile[piece]
        b = self._bounds[tile]
        height, width = self.size
        res_x, res_y = self.res
        # Snap to the tile's pixel grid and keep the patch inside the tile.
        minx = b[:, 0] + np.round((cx - width / 2 - b[:, 0]) / res_x) * res_x
        miny = b[:, 1] + np.round((cy - height / 2 - b[:, 1]) / res_y) * res_y
        minx = np.clip(minx, b[:, 0], np.maximum(b[:, 2] - width, b[:, 0]))
        miny = np.clip(miny, b[:, 1], np.maximum(b[:, 3] - height, b[:, 1]))
        return pd.DataFrame(
            {
                "stratum": labels,
                "tile": self._tile[tile],
                "x": cx,
                "y": cy,
                "minx": minx,
                "maxx": minx + width,
                "miny": miny,
                "maxy": miny + height,
            }
        )

    def __iter__(self) -> Iterator[tuple[slice, slice, slice]]:
        """Yield one epoch of patches.

        Yields:
            ``[xmin:xmax, ymin:ymax, tmin:tmax]`` coordinates to index a dataset.
        """
        patches = self.draw()
        intervals = self.index.index
        tiles = patches["tile"].to_numpy(dtype=np.int64)
        minx, maxx = patches["minx"].to_numpy(), patches["maxx"].to_numpy()
        miny, maxy = patches["miny"].to_numpy(), patches["maxy"].to_numpy()
        for k, tile in enumerate(tiles):
            interval = intervals[int(tile)]
            yield (
                slice(float(minx[k]), float(maxx[k])),
                slice(float(miny[k]), float(maxy[k])),
                slice(interval.left, interval.right),
            )

    def __len__(self) -> int:
        """Return the number of patches per epoch.

        Returns:
            ``length``.
        """
        return self.length
