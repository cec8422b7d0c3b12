"""Tiny GeoTIFF chips for the dataset, datamodule and compose tests (seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import Affine

from torchgeo_composition.bands import S2_BANDS

#: A few land points (lon, lat) and their continent.
LAND_POINTS: dict[str, list[tuple[float, float]]] = {
    "europe": [(10.0, 50.0), (2.3, 47.0), (15.0, 52.0), (24.0, 60.0), (-3.7, 40.4)],
    "africa": [(20.0, 10.0), (30.0, -20.0), (5.0, 25.0), (38.0, 8.0), (25.0, -28.0)],
    "asia": [(100.0, 40.0), (80.0, 22.0), (110.0, 30.0), (70.0, 50.0), (90.0, 35.0)],
    "north_america": [(-100.0, 40.0), (-110.0, 50.0), (-90.0, 35.0), (-85.0, 45.0)],
    "oceania": [(135.0, -25.0), (145.0, -30.0), (120.0, -22.0), (175.0, -40.0)],
    "south_america": [(-60.0, -10.0), (-65.0, -30.0), (-50.0, -15.0), (-70.0, -40.0)],
}


def utm_epsg(lon: float, lat: float) -> int:
    return (32600 if lat >= 0 else 32700) + min(int((lon + 180) // 6) + 1, 60)


def write_chip(
    path: str | Path,
    lon: float,
    lat: float,
    count: int = 13,
    size: int = 8,
    dtype: str = "uint16",
    crs: str | None = "utm",
    nodata: float | None = None,
    data: np.ndarray | None = None,
    seed: int = 0,
    descriptions: Sequence[str] | None = None,
) -> Path:
    """Write one chip centred on (lon, lat); ``crs`` "utm", "EPSG:4326" or None.

    ``descriptions`` names the bands in the file (GDAL band descriptions).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        rng = np.random.default_rng(seed)
        data = rng.integers(100, 5000, size=(count, size, size)).astype(dtype)
    size = data.shape[-1]
    if crs == "utm":
        epsg = f"EPSG:{utm_epsg(lon, lat)}"
        x, y = Transformer.from_crs("EPSG:4326", epsg, always_xy=True).transform(
            lon, lat
        )
        transform = Affine(10, 0.0, x - size * 5, 0.0, -10, y + size * 5)
        crs_out: str | None = epsg
    else:
        transform = Affine(1e-4, 0.0, lon - size * 5e-5, 0.0, -1e-4, lat + size * 5e-5)
        crs_out = crs
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs_out,
        transform=transform,
        nodata=nodata,
    ) as dst:
        for i, name in enumerate(descriptions or ()):  # first: the header stays first
            dst.set_band_description(i + 1, name)
        dst.write(data)
    return path


def make_chip_folder(
    root: str | Path,
    continents: Sequence[str] = tuple(LAND_POINTS),
    per_continent: int = 4,
    count: int = 13,
    size: int = 8,
    crs: str = "utm",
    dtype: str = "uint16",
    describe: bool = True,
) -> Path:
    """Write ``per_continent`` chips per continent (land points cycled, jittered).

    With ``describe`` (the default), 13-band chips name their bands (band
    descriptions ``B1 ... B12``, Sentinel-2 product order).
    """
    root = Path(root)
    for c in continents:
        points = LAND_POINTS[c]
        for i in range(per_continent):
            lon, lat = points[i % len(points)]
            lon += 0.01 * i
            write_chip(
                root / c / f"{c}_{i:03d}.tif",
                lon,
                lat,
                count=count,
                size=size,
                crs=crs,
                dtype=dtype,
                seed=i,
                descriptions=S2_BANDS if describe and count == len(S2_BANDS) else None,
            )
    return root
