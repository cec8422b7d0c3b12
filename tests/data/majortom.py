"""A tiny Major TOM Core download: Parquet parts of GeoTIFF-bytes bands plus metadata.parquet.

Layout (as released)::

    metadata.parquet           grid_cell, grid_row_u, grid_col_r, product_id, timestamp,
                               cloud_cover, nodata, centre_lat, centre_lon, crs,
                               parquet_url, parquet_row
    images/part_<n>.parquet    one row group per sample; columns product_id, grid_cell,
                               product_datetime, thumbnail (PNG), one column per band
                               (single-band GeoTIFF bytes: 10 m bands cell_size px,
                               20 m bands half, 60 m bands a sixth), cloud_mask

Pixel values encode what they are: the 10 m pixel (y, x) under a band's pixel, as
``band * 1000 + y * 30 + x`` (y, x of the pixel's top-left 10 m pixel).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image
from pyproj import Transformer
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from torchgeo_composition.datasets import MAJORTOM_BANDS

from .chips import utm_epsg

URL = "https://huggingface.co/datasets/Major-TOM/Core-{modality}/resolve/main/images/{name}"

#: Pixel size of each band in metres (Sentinel-2).
RESOLUTION = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B10": 60,
    "B11": 20,
    "B12": 20,
}


def pixel_value(band: int, y: int, x: int) -> int:
    return band * 1000 + y * 30 + x


def geotiff_bytes(data: np.ndarray, crs: str, transform: Affine) -> bytes:
    with MemoryFile() as memfile:
        with memfile.open(
            driver="GTiff",
            width=data.shape[1],
            height=data.shape[0],
            count=1,
            dtype=data.dtype,
            crs=crs,
            transform=transform,
        ) as dst:
            dst.write(data, 1)
        return bytes(memfile.read())


def cell_bands(
    lon: float, lat: float, cell_size: int, modality: str
) -> dict[str, bytes]:
    crs = f"EPSG:{utm_epsg(lon, lat)}"
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    left, top = x - cell_size * 5, y + cell_size * 5
    out = {}
    for b, band in enumerate(MAJORTOM_BANDS[modality]):
        step = RESOLUTION[band] // 10
        n = cell_size // step
        yy, xx = np.mgrid[0:n, 0:n] * step
        data = pixel_value(b, yy, xx).astype(np.uint16)
        out[band] = geotiff_bytes(
            data, crs, Affine(10.0 * step, 0, left, 0, -10.0 * step, top)
        )
    mask = np.zeros((cell_size, cell_size), dtype=np.uint8)
    out["cloud_mask"] = geotiff_bytes(mask, crs, Affine(10.0, 0, left, 0, -10.0, top))
    return out


def png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def make_majortom(
    root: str | Path,
    points: Sequence[tuple[float, float]],
    modality: str = "S2L2A",
    cell_size: int = 24,
    per_part: int = 3,
    seed: int = 0,
) -> Path:
    """Write the parts under ``root/images`` and ``root/metadata.parquet``."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    meta = []
    for start in range(0, len(points), per_part):
        name = f"part_{start // per_part + 1:05d}.parquet"
        rows = []
        for row, i in enumerate(range(start, min(start + per_part, len(points)))):
            lon, lat = points[i]
            cell = f"{abs(int(lat * 10))}{'U' if lat >= 0 else 'D'}_{abs(int(lon * 10))}{'R' if lon >= 0 else 'L'}"
            product = f"S2A_MSIL2A_2021060{i % 9 + 1}T100000_N0300_R000_T32UNA_{i:04d}"
            rows.append(
                {
                    "product_id": product,
                    "grid_cell": cell,
                    "product_datetime": f"2021060{i % 9 + 1}T100000",
                    "thumbnail": png_bytes(seed + i),
                    **cell_bands(lon, lat, cell_size, modality),
                }
            )
            meta.append(
                {
                    "grid_cell": cell,
                    "grid_row_u": int(lat * 10),
                    "grid_col_r": int(lon * 10),
                    "product_id": product,
                    "timestamp": pd.Timestamp(f"2021-06-0{i % 9 + 1}T10:00:00"),
                    "cloud_cover": float(rng.uniform(0, 40)),
                    "nodata": 0.0 if i % 2 == 0 else float(rng.uniform(0, 0.2)),
                    "centre_lat": lat,
                    "centre_lon": lon,
                    "crs": f"EPSG:{utm_epsg(lon, lat)}",
                    "parquet_url": URL.format(modality=modality, name=name),
                    "parquet_row": row,
                }
            )
        pq.write_table(
            pa.Table.from_pylist(rows), root / "images" / name, row_group_size=1
        )
    pq.write_table(
        pa.Table.from_pandas(pd.DataFrame(meta), preserve_index=False),
        root / "metadata.parquet",
    )
    return root


def part_files(root: str | Path) -> list[Path]:
    return sorted((Path(root) / "images").glob("part_*.parquet"))
