"""A tiny TerraMesh download: WebDataset tar shards of Zarr-zip samples plus the metadata parquet.

Layout (as released)::

    <split>_metadata.parquet                 one row per sample (see below)
    <split>/<modality>/majortom_shard_<n>.tar    members majortom_<split>_<id>.zarr.zip
    <split>/<modality>/ssl4eos12_shard_<n>.tar   members ssl4eos12_<split>_<id>.zarr.zip

Each member is a Zarr (format 2) zip with ``bands (time, band, y, x)`` (one
timestamp) and the coordinates ``band``, ``time``, ``x``, ``y`` plus
``center_lat``, ``center_lon`` and ``crs``. The dataset card does not document
the metadata parquet's columns; this fixture writes ``__key__`` (the member name
without ``.zarr.zip``), ``shard`` (optional), ``center_lon``, ``center_lat``,
``time`` and ``source``. Pixel values: ``band * 1000 + sample number``.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from torchgeo_composition.datasets import TERRAMESH_BANDS

from .chips import utm_epsg
from .zarr_zip import cf_seconds, zarr_zip_bytes


def pixel_value(band: int, sample: int) -> int:
    return band * 1000 + sample


def sample_zip(i: int, lon: float, lat: float, modality: str, size: int) -> bytes:
    bands = TERRAMESH_BANDS[modality]
    data = np.stack(
        [
            np.full((size, size), pixel_value(b, i), dtype=np.int16)
            for b in range(len(bands))
        ]
    )[None]
    seconds, cf = cf_seconds(np.array(["2021-06-01T10:00:00"], dtype="datetime64[s]"))
    return zarr_zip_bytes(
        {
            "bands": (["time", "band", "y", "x"], data, {}),
            "band": (
                ["band"],
                np.array(bands, dtype=f"<U{max(len(b) for b in bands)}"),
                {},
            ),
            "time": (["time"], seconds, cf),
            "x": (["x"], np.arange(size) * 10.0, {}),
            "y": (["y"], np.arange(size) * -10.0, {}),
            "center_lon": (["time"], np.array([lon]), {}),
            "center_lat": (["time"], np.array([lat]), {}),
            "crs": (["time"], np.array([utm_epsg(lon, lat)]), {}),
        }
    )


def make_terramesh(
    root: str | Path,
    points: Sequence[tuple[float, float]],
    split: str = "val",
    modalities: Sequence[str] = ("S2L2A",),
    per_shard: int = 3,
    size: int = 8,
    shard_column: bool = True,
) -> Path:
    """Write shards of ``per_shard`` samples (Major TOM then SSL4EO halves) and the metadata."""
    root = Path(root)
    rows = []
    half = (len(points) + 1) // 2
    groups = {
        "majortom": list(range(half)),
        "ssl4eos12": list(range(half, len(points))),
    }
    for source, members in groups.items():
        for s in range(0, len(members), per_shard):
            shard = f"{source}_shard_{s // per_shard + 1:06d}"
            chunk = members[s : s + per_shard]
            for modality in modalities:
                path = root / split / modality / f"{shard}.tar"
                path.parent.mkdir(parents=True, exist_ok=True)
                with tarfile.open(path, "w") as archive:
                    for i in chunk:
                        data = sample_zip(i, *points[i], modality, size)
                        info = tarfile.TarInfo(f"{source}_{split}_{i:07d}.zarr.zip")
                        info.size = len(data)
                        archive.addfile(info, io.BytesIO(data))
            for i in chunk:
                row = {
                    "__key__": f"{source}_{split}_{i:07d}",
                    "center_lon": points[i][0],
                    "center_lat": points[i][1],
                    "time": pd.Timestamp("2021-06-01T10:00:00"),
                    "source": source,
                }
                if shard_column:
                    row["shard"] = shard
                rows.append(row)
    pd.DataFrame(rows).to_parquet(root / f"{split}_metadata.parquet", index=False)
    return root


def shard_files(
    root: str | Path, split: str = "val", modality: str = "S2L2A"
) -> list[Path]:
    return sorted((Path(root) / split / modality).glob("*.tar"))
