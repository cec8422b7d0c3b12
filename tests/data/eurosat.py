"""Generate tiny EuroSAT-format data for TorchGeo's ``EuroSAT`` / ``EuroSATDataModule``.

Layout (as ``torchgeo.datasets.EuroSAT`` expects)::

    root/eurosat-{train,val,test}.txt            # file names, ".jpg" suffix
    root/ds/images/remote_sensing/otherDatasets/sentinel_2/tif/<Class>/<Class>_<i>.tif

Each GeoTIFF holds the 13 bands (uint16) in EuroSAT order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

CLASSES = (
    "AnnualCrop",
    "Forest",
    "HerbaceousVegetation",
    "Highway",
    "Industrial",
    "Pasture",
    "PermanentCrop",
    "Residential",
    "River",
    "SeaLake",
)
BASE_DIR = os.path.join(
    "ds", "images", "remote_sensing", "otherDatasets", "sentinel_2", "tif"
)
#: Band names in EuroSAT file order.
EUROSAT_BANDS = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07",
    "B08", "B09", "B10", "B11", "B12", "B8A",
)  # fmt: skip


def make_eurosat(
    root: str | os.PathLike[str],
    per_split: int = 1,
    size: int = 16,
    seed: int = 0,
) -> Path:
    """Write a tiny EuroSAT copy: ``per_split`` images per class and split.

    Args:
        root: Target directory.
        per_split: Images per class in each of train, val and test.
        size: Image height and width in pixels.
        seed: Random seed.

    Returns:
        ``root`` as a path.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    names: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for c, cls in enumerate(CLASSES):
        folder = root / BASE_DIR / cls
        folder.mkdir(parents=True, exist_ok=True)
        i = 0
        for split in names:
            for _ in range(per_split):
                i += 1
                data = rng.normal(1000 + 150 * c, 300, size=(13, size, size))
                data = np.clip(data, 0, 10000).astype(np.uint16)
                path = folder / f"{cls}_{i}.tif"
                with rasterio.open(
                    path, "w", driver="GTiff", width=size, height=size, count=13,
                    dtype="uint16", crs="EPSG:32631",
                    transform=Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 5000000.0),
                ) as dst:  # fmt: skip
                    dst.write(data)
                names[split].append(f"{cls}_{i}.jpg")
    for split, files in names.items():
        (root / f"eurosat-{split}.txt").write_text("\n".join(files) + "\n")
    return root
