"""A small, reproducible, synthetic Sentinel-2 pool on six continents (for demos)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine
from scipy.ndimage import zoom
from torch import Tensor
from tqdm.auto import tqdm

from ..bands import S2_BANDS
from ..files import atomic_path, write_text
from .chips import ChipFolder

__all__ = ["CONTINENT_SHARES", "LAND_COVERS", "SyntheticSentinel2Pool", "render_covers"]

#: Land-cover classes and their typical top-of-atmosphere spectra (digital numbers,
#: reflectance x 10000) in the 13-band order B1 ... B12.
LAND_COVERS: dict[str, tuple[int, ...]] = {
    "water": (1100, 900, 800, 600, 500, 400, 350, 300, 280, 150, 10, 100, 80),
    "forest": (1200, 900, 800, 500, 900, 2200, 2800, 3000, 3100, 1000, 15, 1500, 700),
    "cropland": (
        1300, 1100, 1200, 1000, 1500, 2400, 2800, 3000, 3200, 1000, 15, 2200, 1300
    ),
    "desert": (
        1800, 2000, 2400, 2900, 3100, 3300, 3500, 3600, 3700, 1300, 20, 4500, 3800
    ),
    "urban": (1600, 1500, 1500, 1600, 1700, 1900, 2000, 2100, 2200, 800, 15, 2400, 2000),
    "snow": (8000, 8500, 8300, 8000, 7800, 7500, 7300, 7000, 6900, 3000, 50, 1500, 1200),
}  # fmt: skip

#: Share of the pool's chips on each continent.
CONTINENT_SHARES: dict[str, float] = {
    "africa": 0.2,
    "asia": 0.25,
    "europe": 0.15,
    "north_america": 0.15,
    "oceania": 0.1,
    "south_america": 0.15,
}

# Land-cover mix (order of LAND_COVERS) and mean number of covers per chip.
_MIX: dict[str, tuple[tuple[float, ...], float]] = {
    "africa": ((0.05, 0.15, 0.2, 0.55, 0.05, 0.0), 1.2),
    "asia": ((0.05, 0.2, 0.3, 0.25, 0.1, 0.1), 1.8),
    "europe": ((0.1, 0.3, 0.3, 0.02, 0.2, 0.08), 2.6),
    "north_america": ((0.1, 0.3, 0.25, 0.15, 0.1, 0.1), 2.2),
    "oceania": ((0.05, 0.1, 0.15, 0.65, 0.05, 0.0), 1.3),
    "south_america": ((0.1, 0.55, 0.2, 0.05, 0.05, 0.05), 2.0),
}

# Mostly-land boxes (lon_min, lon_max, lat_min, lat_max) to draw candidates from.
_BOXES: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "africa": ((-10, 35, 5, 30), (15, 35, -30, 0)),
    "asia": ((60, 120, 25, 55), (75, 85, 15, 25)),
    "europe": ((-5, 30, 43, 60), (-9, 3, 37, 43), (8, 30, 60, 68)),
    "north_america": ((-120, -80, 30, 55), (-105, -95, 18, 28)),
    "oceania": ((115, 150, -32, -18), (170, 176, -45, -38)),
    "south_america": ((-70, -40, -35, 2),),
}

_MARKER = ".tgc_synthetic.json"
_GSD = 10.0


def _land_points(
    continent: str, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` points on land that :func:`continent_of` assigns to ``continent``."""
    from ..geography import continent_of

    boxes = np.asarray(_BOXES[continent], dtype=np.float64)
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    kept = 0
    for _ in range(50):
        m = max(4 * (n - kept), 16)
        which = rng.integers(0, len(boxes), m)
        lon = rng.uniform(boxes[which, 0], boxes[which, 1])
        lat = rng.uniform(boxes[which, 2], boxes[which, 3])
        ok = continent_of(lon, lat, max_distance_km=0.0) == continent
        lons.append(lon[ok])
        lats.append(lat[ok])
        kept += int(ok.sum())
        if kept >= n:
            break
    else:  # pragma: no cover - boxes are mostly land
        raise RuntimeError(f"could not draw {n} land points in {continent}")
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def render_covers(
    covers: np.ndarray, size: int, rng: np.random.Generator, lead: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate a 13-band chip whose pixels are shared among some land covers.

    Each cover gets a smooth random field (4 x 4 noise, zoomed to ``size``); a pixel
    shows the cover whose field is highest there, with that cover's spectrum of
    :data:`LAND_COVERS`, a random brightness for the chip (0.85 to 1.15),
    4 % multiplicative and 30 DN additive noise.

    Args:
        covers: Indices of the covers into :data:`LAND_COVERS`.
        size: Height and width in pixels.
        rng: Random generator (consumed in a fixed order).
        lead: Added to the first cover's field, so that it tends to dominate.

    Returns:
        ``(cover, image)``: the cover index of every pixel (H, W) and the image
        (13, H, W) in digital numbers, rounded and clipped to [1, 65535] (float64).
    """
    spectra = np.asarray(list(LAND_COVERS.values()), dtype=np.float64)  # (K, 13)
    fields = np.stack(
        [zoom(rng.normal(size=(4, 4)), size / 4, order=1) for _ in covers]
    )
    if lead:
        fields[0] += lead
    cover = covers[np.argmax(fields, axis=0)]  # (H, W) cover index per pixel
    image = spectra[cover].transpose(2, 0, 1) * rng.uniform(0.85, 1.15)
    image *= 1 + 0.04 * rng.normal(size=image.shape)
    image += 30 * rng.normal(size=image.shape)
    return cover, np.clip(np.rint(image), 1, 65535)


def _chip(continent: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Simulate one 13-band uint16 chip of a few land covers plus noise."""
    mix, mean_covers = _MIX[continent]
    k = int(np.clip(rng.poisson(mean_covers - 1) + 1, 1, 4))
    covers = rng.choice(len(LAND_COVERS), size=k, replace=False, p=np.asarray(mix))
    return render_covers(covers, size, rng)[1].astype(np.uint16)


@lru_cache(maxsize=128)
def _to_utm(epsg: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", epsg, always_xy=True)


def _utm_epsg(lon: float, lat: float) -> int:
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def _write_chip(path: Path, image: np.ndarray, lon: float, lat: float) -> None:
    """Write one chip atomically in the UTM zone of its centre."""
    epsg = _utm_epsg(lon, lat)
    x, y = _to_utm(epsg).transform(lon, lat)
    _, h, w = image.shape
    transform = Affine(_GSD, 0.0, x - w * _GSD / 2, 0.0, -_GSD, y + h * _GSD / 2)
    with (
        atomic_path(path) as tmp,
        rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=w,
            height=h,
            count=image.shape[0],
            dtype="uint16",
            crs=f"EPSG:{epsg}",
            transform=transform,
        ) as dst,
    ):
        dst.write(image)
        dst.descriptions = S2_BANDS


class SyntheticSentinel2Pool(ChipFolder):
    """A reproducible pool of small synthetic Sentinel-2 L1C chips on six continents.

    On first use, ``num_chips`` 13-band uint16 GeoTIFFs are written to ``root``
    (each in the UTM zone of its centre, 10 m pixels), named
    ``<continent>_<number>.tif``. Chip centres are random points on land that
    :func:`~torchgeo_composition.geography.continent_of` assigns to the intended
    continent; :data:`CONTINENT_SHARES` sets how many per continent. Pixels mix a
    few land covers (:data:`LAND_COVERS`: water, forest, cropland, desert, urban,
    snow) with continent-dependent proportions and numbers of covers per chip, plus
    noise, so spectral statistics differ between continents (European chips are the
    most varied, African and Australian chips mostly desert).

    The same arguments always give byte-identical files. Writing is idempotent:
    existing chips are kept, missing ones are (re)written atomically. The folder
    remembers the arguments it was generated with and refuses different ones.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "demo_output/pool",
        num_chips: int = 600,
        size: int = 32,
        seed: int = 0,
        bands: Sequence[str] | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new SyntheticSentinel2Pool instance, writing it if needed.

        Args:
            root: Folder to write the chips into (created if missing).
            num_chips: Number of chips (at least 6, one per continent).
            size: Height and width of each chip in pixels (at least 4).
            seed: Random seed; the same seed gives identical files.
            bands: Bands to load (default all 13, :data:`~torchgeo_composition.bands.S2_BANDS`).
            transforms: A function/transform that takes a sample dict and returns a
                transformed version.

        Raises:
            ValueError: If ``num_chips`` < 6 or ``size`` < 4, or ``root`` holds a pool
                generated with other arguments.
        """
        if num_chips < 6:
            raise ValueError(
                f"num_chips must be >= 6 (one per continent), got {num_chips}"
            )
        if size < 4:
            raise ValueError(f"size must be >= 4 pixels, got {size}")
        self.num_chips = num_chips
        self.seed = seed
        self._generate(Path(root), num_chips, size, seed)
        super().__init__(root, bands=bands, all_bands=S2_BANDS, transforms=transforms)

    @staticmethod
    def plan(num_chips: int, seed: int) -> list[tuple[str, float, float]]:
        """Return the continent and centre (lon, lat) of every chip.

        Args:
            num_chips: Number of chips.
            seed: Random seed.

        Returns:
            ``(continent, lon, lat)`` per chip, in file-number order.
        """
        names = list(CONTINENT_SHARES)
        shares = np.asarray([CONTINENT_SHARES[c] for c in names])
        counts = np.floor(shares * num_chips).astype(int)
        order = np.argsort(-(shares * num_chips - counts), kind="stable")
        counts[order[: num_chips - counts.sum()]] += 1
        out: list[tuple[str, float, float]] = []
        for j, (name, count) in enumerate(zip(names, counts, strict=True)):
            rng = np.random.default_rng([seed, 1000 + j])
            lon, lat = _land_points(name, int(count), rng)
            out += [(name, float(a), float(b)) for a, b in zip(lon, lat, strict=True)]
        return out

    @classmethod
    def _generate(cls, root: Path, num_chips: int, size: int, seed: int) -> None:
        """Write the pool's chips that are missing."""
        params = {"num_chips": num_chips, "size": size, "seed": seed, "version": 1}
        root.mkdir(parents=True, exist_ok=True)
        marker = root / _MARKER
        if marker.exists():
            old = json.loads(marker.read_text())
            if old != params:
                raise ValueError(
                    f"root {str(root)!r} holds a synthetic pool generated with {old}, "
                    f"not {params}; use another root or the same arguments"
                )
        else:
            write_text(marker, json.dumps(params))
        plan = cls.plan(num_chips, seed)
        todo = [
            (i, c, lon, lat)
            for i, (c, lon, lat) in enumerate(plan)
            if not (root / f"{c}_{i:05d}.tif").exists()
        ]
        for i, continent, lon, lat in tqdm(todo, desc="Writing chips", disable=None):
            rng = np.random.default_rng([seed, i])
            image = _chip(continent, size, rng)
            _write_chip(root / f"{continent}_{i:05d}.tif", image, lon, lat)
