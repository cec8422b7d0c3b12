"""A tiny SSL4EO-S12 v1.1 download: Zarr zips of a few locations plus the metadata parquet.

Layout (as released)::

    splits/<split>_metadata.parquet      GeoParquet: sample_id, time_id, time, tile_id,
                                         geometry, tile_crs, file
    <split>/<modality>/ssl4eos12_<split>_seasonal_data_<n>.zarr.zip

Each zip holds ``bands (sample, time, band, y, x)`` int16 with coordinates
``band``, ``sample``, ``time``, ``x``, ``y`` and the variables ``center_lat``,
``center_lon``, ``crs``, ``cloud_mask``, ``file_id``, ``sample_id``, ``time_``,
``x_``, ``y_``. Locations are stored in a seeded shuffled order. Pixel values
encode what they are: ``band * 1000 + time * 100 + location number``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from torchgeo_composition.datasets import SSL4EO_V11_BANDS

from .chips import utm_epsg
from .zarr_zip import cf_seconds, write_zarr_zip

TIMES = np.array(
    [
        "2020-03-15T10:00:00",
        "2020-06-15T10:00:00",
        "2020-09-15T10:00:00",
        "2020-12-15T10:00:00",
    ],
    dtype="datetime64[s]",
)


def pixel_value(band: int, time: int, location: int) -> int:
    return band * 1000 + time * 100 + location


def make_ssl4eo_v11(
    root: str | Path,
    points: Sequence[tuple[float, float]],
    split: str = "val",
    modalities: Sequence[str] = ("S2L2A",),
    per_file: int = 3,
    size: int = 8,
    seed: int = 0,
) -> Path:
    """Write the metadata parquet and one zip per ``per_file`` locations."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    rows = []
    n_files = (len(points) + per_file - 1) // per_file
    for k in range(n_files):
        file = f"ssl4eos12_{split}_seasonal_data_{k + 1:06d}.zarr.zip"
        members = list(range(k * per_file, min((k + 1) * per_file, len(points))))
        order = [members[i] for i in rng.permutation(len(members))]
        for i in members:
            lon, lat = points[i]
            half = 0.012
            for t, when in enumerate(TIMES):
                rows.append(
                    {
                        "sample_id": f"{i:07d}",
                        "time_id": t,
                        "time": pd.Timestamp(when),
                        "tile_id": f"T{utm_epsg(lon, lat) % 100:02d}ABC",
                        "geometry": box(lon - half, lat - half, lon + half, lat + half),
                        "tile_crs": utm_epsg(lon, lat),
                        "file": file,
                        "_name": f"{i:07d}_{t}",
                    }
                )
        for modality in modalities:
            bands = SSL4EO_V11_BANDS[modality]
            data = np.zeros(
                (len(order), len(TIMES), len(bands), size, size), dtype=np.int16
            )
            for s, i in enumerate(order):
                for t in range(len(TIMES)):
                    for b in range(len(bands)):
                        data[s, t, b] = pixel_value(b, t, i)
            seconds, cf = cf_seconds(np.tile(TIMES, (len(order), 1)))
            ids = np.array([f"{i:07d}" for i in order], dtype="<U7")
            write_zarr_zip(
                root / split / modality / file,
                {
                    "bands": (["sample", "time", "band", "y", "x"], data, {}),
                    "band": (["band"], np.array(bands, dtype="<U3"), {}),
                    "sample": (["sample"], ids, {}),
                    "time": (["time"], np.arange(len(TIMES), dtype=np.int64), {}),
                    "x": (["x"], np.arange(size, dtype=np.int64), {}),
                    "y": (["y"], np.arange(size, dtype=np.int64), {}),
                    "center_lon": (
                        ["sample"],
                        np.array([points[i][0] for i in order]),
                        {},
                    ),
                    "center_lat": (
                        ["sample"],
                        np.array([points[i][1] for i in order]),
                        {},
                    ),
                    "crs": (
                        ["sample"],
                        np.array([utm_epsg(*points[i]) for i in order]),
                        {},
                    ),
                    "cloud_mask": (
                        ["sample", "time", "y", "x"],
                        rng.integers(0, 2, (len(order), len(TIMES), size, size)).astype(
                            np.uint8
                        ),
                        {},
                    ),
                    "file_id": (
                        ["sample", "time"],
                        np.array(
                            [
                                [
                                    f"2020{t:02d}15T100000_T32UNA"
                                    for t in range(len(TIMES))
                                ]
                                for _ in order
                            ],
                            dtype="<U38",
                        ),
                        {},
                    ),
                    "sample_id": (
                        ["sample", "time"],
                        np.array(
                            [
                                [f"{i:07d}_{t}" for t in range(len(TIMES))]
                                for i in order
                            ],
                            dtype="<U9",
                        ),
                        {},
                    ),
                    "time_": (["sample", "time"], seconds, cf),
                    "x_": (
                        ["sample", "x"],
                        np.tile(np.arange(size) * 10.0, (len(order), 1)),
                        {},
                    ),
                    "y_": (
                        ["sample", "y"],
                        np.tile(np.arange(size) * -10.0, (len(order), 1)),
                        {},
                    ),
                },
                chunks={"bands": (len(order), 1, len(bands), size, size)},
            )
    frame = pd.DataFrame(rows).set_index("_name")
    frame.index.name = None
    splits = root / "splits"
    splits.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326").to_parquet(
        splits / f"{split}_metadata.parquet"
    )
    return root


def zip_files(
    root: str | Path, split: str = "val", modality: str = "S2L2A"
) -> list[Path]:
    return sorted((Path(root) / split / modality).glob("*.zarr.zip"))
