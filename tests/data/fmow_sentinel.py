"""A tiny FMoW-Sentinel download: the split CSVs and 13-band GeoTIFFs in their folders.

Layout (as released)::

    train.csv  val.csv  test_gt.csv     category, location_id, image_id, timestamp, polygon
    <csv stem>/<category>/<category>_<location_id>/<category>_<location_id>_<image_id>.tif

Images are EPSG:4326 GeoTIFFs of the 13 Sentinel-2 bands, of differing sizes.
Pixel values encode what they are: ``band * 1000 + row number in the CSV``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .chips import write_chip

CATEGORIES = ("airport", "crop_field", "dam", "port")
SPLIT_CSV = {"train": "train.csv", "val": "val.csv", "test": "test_gt.csv"}


def pixel_value(band: int, row: int) -> int:
    return band * 1000 + row


def polygon(lon: float, lat: float, half: float = 0.005) -> str:
    corners = [
        (lon - half, lat + half),
        (lon + half, lat + half),
        (lon + half, lat - half),
        (lon - half, lat - half),
    ]
    ring = ", ".join(f"{x:.16f} {y:.16f}" for x, y in [*corners, corners[0]])
    return f"POLYGON (({ring}))"


def make_fmow_sentinel(
    root: str | Path,
    points: Sequence[tuple[float, float]],
    split: str = "train",
    images_per_location: int = 2,
    seed: int = 0,
) -> Path:
    """Write the split's CSV and one image per (location, image id)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    csv = root / SPLIT_CSV[split]
    folder = csv.stem
    rows = []
    for i, (lon, lat) in enumerate(points):
        category = CATEGORIES[i % len(CATEGORIES)]
        location = i // len(CATEGORIES)
        for k in range(images_per_location):
            image_id = k if k < images_per_location - 1 else 100 + k
            row = len(rows)
            rows.append(
                {
                    "category": category,
                    "location_id": location,
                    "image_id": image_id,
                    "timestamp": f"2017-0{k + 1}-15T00:00:00Z",
                    "polygon": polygon(lon, lat),
                }
            )
            size = int(rng.integers(6, 11))
            data = np.stack(
                [
                    np.full((size, size), pixel_value(b, row), dtype=np.uint16)
                    for b in range(13)
                ]
            )
            stem = f"{category}_{location}"
            write_chip(
                root / folder / category / stem / f"{stem}_{image_id}.tif",
                lon,
                lat,
                crs="EPSG:4326",
                data=data,
            )
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(
        csv
    )  # with pandas' unnamed index column, like the release
    return root


def image_files(root: str | Path, split: str = "train") -> list[Path]:
    return sorted((Path(root) / Path(SPLIT_CSV[split]).stem).rglob("*.tif"))
