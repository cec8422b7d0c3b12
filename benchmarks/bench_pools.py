"""Benchmark: the metadata pools -- indexing, composing and reading, as ratios in one run.

1. Indexing: a synthetic Major TOM ``metadata.parquet`` of ``--rows`` rows
   (2,250,000, the size of Core-S2L2A; real column names and types) is indexed by
   :class:`~torchgeo_composition.datasets.MajorTOMPool` from scratch (cache
   miss) and again (cache hit), and every sample gets its continent. Target:
   under 10 s for 2,250,000 rows. Baseline in the same run: opening each sample
   to locate it (open its part file, read its row group's B04 GeoTIFF bytes and
   the raster's bounds) for 200 samples of real-layout parts, extrapolated to
   ``--rows``. Target: indexing at least 50x faster.
2. Composing: a 700,000-sample set (``proportional``, redistributing
   shortfalls) drawn from that index with
   :func:`~torchgeo_composition.sampling.build_manifest`. Target: under 5 s.
3. Reading: samples/s per core of each pool (SSL4EO-S12 v1.1, Major TOM,
   FMoW-Sentinel, TerraMesh, TablePool) against a bare read of the same bytes
   in the same run (the Zarr slice; the Parquet row group plus GeoTIFF
   decoding; the GeoTIFF file; the tar member's Zarr zip), with the same file
   handles kept open. Target: at least 0.8x of the bare read. Both are warmed
   up once and timed ``--repeats`` times in turn; the best CPU time of each
   counts (one torch thread).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_pools.py           # full size
    OMP_NUM_THREADS=1 python benchmarks/bench_pools.py --quick   # 100,000 rows, small images
    OMP_NUM_THREADS=1 python benchmarks/bench_pools.py --parts index   # Major TOM only
    python benchmarks/bench_pools.py --json results/pools.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import rasterio
import torch
import zarr
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the seeded writers of the test fixtures

from tests.data.fmow_sentinel import make_fmow_sentinel  # noqa: E402
from tests.data.majortom import make_majortom  # noqa: E402
from tests.data.ssl4eo_v11 import make_ssl4eo_v11  # noqa: E402
from tests.data.terramesh import make_terramesh  # noqa: E402
from torchgeo_composition.datasets import (  # noqa: E402
    FMoWSentinelPool,
    MajorTOMPool,
    SSL4EOS12V11Pool,
    TablePool,
    TerraMeshPool,
)
from torchgeo_composition.datasets.geotiff import ensure_gdal_env  # noqa: E402
from torchgeo_composition.datasets.terramesh import shard_members  # noqa: E402
from torchgeo_composition.datasets.zarrzip import (  # noqa: E402
    open_zarr_zip,
    open_zarr_zip_bytes,
)
from torchgeo_composition.sampling import build_manifest, stratified_index  # noqa: E402

TARGET_INDEX_S = 10.0
TARGET_INDEX_RATIO = 50.0
TARGET_COMPOSE_S = 5.0
TARGET_READ_RATIO = 0.8

#: Land centres (lon, lat) around which synthetic cells are drawn.
LAND = np.array(
    [
        (10, 50),
        (2, 47),
        (25, 60),
        (20, 10),
        (30, -20),
        (38, 8),
        (100, 40),
        (80, 22),
        (110, 30),
        (-100, 40),
        (-90, 35),
        (-60, -10),
        (-65, -30),
        (135, -25),
        (145, -30),
        (70, 50),
        (-110, 55),
        (45, 25),
    ],
    dtype=np.float64,
)


def synthetic_metadata(path: Path, rows: int, seed: int = 0) -> None:
    """A Major TOM metadata.parquet of ``rows`` cells around land centres."""
    rng = np.random.default_rng(seed)
    centre = LAND[rng.integers(len(LAND), size=rows)]
    lon = np.clip(centre[:, 0] + rng.normal(0, 3, rows), -179.9, 179.9)
    lat = np.clip(centre[:, 1] + rng.normal(0, 3, rows), -89.9, 89.9)
    zone = np.minimum(((lon + 180) // 6).astype(int) + 1, 60)
    crs = np.where(lat >= 0, 32600, 32700) + zone
    row_u = np.round(lat / 0.0898).astype(int)
    col_r = np.round(lon / 0.12).astype(int)
    cell = pd.Series(np.abs(row_u).astype(str)) + np.where(row_u >= 0, "U_", "D_")
    cell = cell + pd.Series(np.abs(col_r).astype(str)) + np.where(col_r >= 0, "R", "L")
    part = np.arange(rows) // 1000
    base = "https://huggingface.co/datasets/Major-TOM/Core-S2L2A/resolve/main/images/"
    urls = np.array([f"{base}part_{p + 1:05d}.parquet" for p in range(part.max() + 1)])
    frame = pd.DataFrame(
        {
            "grid_cell": cell,
            "grid_row_u": row_u,
            "grid_col_r": col_r,
            "product_id": [
                f"S2B_MSIL2A_20200{i % 9 + 1}01T000000_{i:08d}" for i in range(rows)
            ],
            "timestamp": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 365 * 24, rows), "h"),
            "cloud_cover": rng.uniform(0, 100, rows),
            "nodata": rng.uniform(0, 1, rows),
            "centre_lat": lat,
            "centre_lon": lon,
            "crs": pd.Series(crs.astype(str)).radd("EPSG:"),
            "parquet_url": urls[part],
            "parquet_row": np.arange(rows) % 1000,
        }
    )
    frame.to_parquet(path, index=False)


def bench_index_others(work: Path, rows: int, seed: int = 0) -> dict[str, Any]:
    """Index synthetic metadata of SSL4EO-S12 v1.1, FMoW-Sentinel and TerraMesh."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    centre = LAND[rng.integers(len(LAND), size=rows)]
    lon = np.clip(centre[:, 0] + rng.normal(0, 3, rows), -179.9, 179.9)
    lat = np.clip(centre[:, 1] + rng.normal(0, 3, rows), -89.9, 89.9)
    boxes = shapely.box(lon - 0.012, lat - 0.012, lon + 0.012, lat + 0.012)
    number = pd.Series(np.arange(rows))
    ssl = work / "ssl4eo-index"
    (ssl / "splits").mkdir(parents=True)
    files = (number // 256 + 1).astype(str).str.zfill(6)
    gpd.GeoDataFrame(
        {
            "sample_id": (number // 4).astype(str).str.zfill(7),
            "time_id": number % 4,
            "time": pd.Timestamp("2020-01-01"),
            "tile_id": "T32UNA",
            "tile_crs": 32632,
            "file": "ssl4eos12_train_seasonal_data_" + files + ".zarr.zip",
        },
        geometry=boxes,
        crs="EPSG:4326",
    ).to_parquet(ssl / "splits" / "train_metadata.parquet")
    fmow = work / "fmow-index"
    fmow.mkdir()
    pd.DataFrame(
        {
            "category": "airport",
            "location_id": number // 10,
            "image_id": number % 10,
            "timestamp": "2017-01-15T00:00:00Z",
            "polygon": shapely.to_wkt(boxes, rounding_precision=12),
        }
    ).to_csv(fmow / "train.csv")
    mesh = work / "terramesh-index"
    mesh.mkdir()
    pd.DataFrame(
        {
            "__key__": "majortom_train_" + number.astype(str).str.zfill(7),
            "shard": "majortom_shard_" + (number // 10240 + 1).astype(str).str.zfill(6),
            "center_lon": lon,
            "center_lat": lat,
        }
    ).to_parquet(mesh / "train_metadata.parquet", index=False)
    pools: dict[str, Callable[[], Any]] = {
        "ssl4eo_v11": lambda: SSL4EOS12V11Pool(ssl, split="train", on_missing="ignore"),
        "fmow_sentinel": lambda: FMoWSentinelPool(fmow, on_missing="ignore"),
        "terramesh": lambda: TerraMeshPool(mesh, split="train", on_missing="ignore"),
    }
    out: dict[str, Any] = {}
    for name, make in pools.items():
        miss, _ = wall_time(make)
        hit, _ = wall_time(make)
        out[name] = {"rows": rows, "cache_miss_s": miss, "cache_hit_s": hit}
    return out


def cpu_time(fn: Callable[[], Any]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def wall_time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def best_of(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    for fn in fns.values():  # warm up: files in the OS cache, handles open
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(cpu_time(fn))
    return {name: min(values) for name, values in times.items()}


def bench_index(work: Path, rows: int, compose_n: int) -> dict[str, Any]:
    root = work / "majortom-index"
    root.mkdir()
    synthetic_metadata(root / "metadata.parquet", rows)
    miss, pool = wall_time(lambda: MajorTOMPool(root))
    hit, pool = wall_time(lambda: MajorTOMPool(root))
    strata_s, index = wall_time(lambda: stratified_index(pool))
    assigned = int(index["stratum"].notna().sum())
    compose_s, selection = wall_time(
        lambda: build_manifest(
            pool,
            "proportional",
            min(compose_n, assigned),
            seed=0,
            on_shortfall="redistribute",
        )
    )
    # baseline: open every sample to locate it, timed on real-layout parts
    parts = work / "majortom-open"
    make_majortom(parts, [tuple(p) for p in LAND[:10]] * 20, cell_size=264, per_part=50)
    meta = pd.read_parquet(parts / "metadata.parquet")
    ensure_gdal_env()

    def open_each() -> None:
        for name, row in zip(meta["parquet_url"], meta["parquet_row"], strict=True):
            file = parts / "images" / name.rsplit("/", 1)[1]
            data = pq.ParquetFile(file).read_row_group(int(row), columns=["B04"])
            with MemoryFile(data.column("B04")[0].as_py()) as mem, mem.open() as src:
                _ = src.bounds, src.crs

    per_sample = cpu_time(open_each) / len(meta)
    total_index = miss + strata_s
    return {
        "rows": rows,
        "index_cache_miss_s": miss,
        "index_cache_hit_s": hit,
        "continents_s": strata_s,
        "index_and_continents_s": total_index,
        "open_each_sample_s_extrapolated": per_sample * rows,
        "index_speedup_over_opening": per_sample * rows / total_index,
        "compose_samples": len(selection.manifest),
        "compose_s": compose_s,
    }


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def bench_ssl4eo(work: Path, size: int, repeats: int) -> dict[str, float]:
    root = make_ssl4eo_v11(
        work / "ssl4eo", [tuple(p) for p in LAND[:16]], per_file=16, size=size
    )
    pool = SSL4EOS12V11Pool(root, split="val")
    index = pool.index()
    group = open_zarr_zip(root / index["path"].iloc[0])
    samples = {str(s): i for i, s in enumerate(np.asarray(group["sample"][...]))}
    where = [(samples[r.location], int(r.time_id)) for r in index.itertuples()]
    bands = group["bands"]
    assert isinstance(bands, zarr.Array)
    return _ratio(
        pool,
        lambda: [to_tensor(bands[s, t]) for s, t in where],
        repeats,
    )


def bench_majortom(work: Path, cell: int, repeats: int) -> dict[str, float]:
    root = make_majortom(
        work / "majortom", [tuple(p) for p in LAND[:16]], cell_size=cell, per_part=8
    )
    pool = MajorTOMPool(root, cell_size=cell)
    index = pool.index()
    files = {n: pq.ParquetFile(root / "images" / n) for n in index["path"].unique()}
    columns = list(pool.bands)

    def bare() -> None:
        for name, row in zip(index["path"], index["parquet_row"], strict=True):
            table = files[name].read_row_group(int(row), columns=columns)
            out = np.empty((len(columns), cell, cell), dtype=np.float32)
            for i, column in enumerate(columns):
                with (
                    MemoryFile(table.column(column)[0].as_py()) as mem,
                    mem.open() as src,
                ):
                    out[i] = src.read(
                        1,
                        out_shape=(cell, cell),
                        out_dtype="float32",
                        resampling=Resampling.nearest,
                    )
            torch.from_numpy(out)

    return _ratio(pool, bare, repeats)


def bench_geotiffs(
    pool: FMoWSentinelPool | TablePool, paths: list[str], repeats: int
) -> dict[str, float]:
    indexes = list(range(1, len(pool.bands) + 1))

    def bare() -> None:
        for path in paths:
            with rasterio.open(path) as src:
                to_tensor(src.read(indexes, out_dtype="float32"))

    return _ratio(pool, bare, repeats)


def bench_terramesh(work: Path, size: int, repeats: int) -> dict[str, float]:
    root = make_terramesh(
        work / "terramesh", [tuple(p) for p in LAND[:16]], per_shard=8, size=size
    )
    pool = TerraMeshPool(root, split="val")
    index = pool.index()
    members = {p: shard_members(root / p) for p in index["path"].unique()}
    files = {p: open(root / p, "rb") for p in members}

    def bare() -> None:
        for key, path in zip(index["sample_id"], index["path"], strict=True):
            offset, length = members[path][key]
            files[path].seek(offset)
            group = open_zarr_zip_bytes(files[path].read(length), key)
            bands = group["bands"]
            assert isinstance(bands, zarr.Array)
            to_tensor(bands[0])

    return _ratio(pool, bare, repeats)


def _ratio(pool: Any, bare: Callable[[], Any], repeats: int) -> dict[str, float]:
    n = len(pool)
    best = best_of({"pool": lambda: [pool[i] for i in range(n)], "bare": bare}, repeats)
    return {
        "samples": n,
        "pool_per_s": n / best["pool"],
        "bare_per_s": n / best["bare"],
        "ratio": best["bare"] / best["pool"],
    }


PARTS = ("index", "others", "read")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rows, small images"
    )
    parser.add_argument("--rows", type=int, help="metadata rows to index")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="what to measure: Major TOM indexing and composing (index), the "
        "other pools' indexing (others), reading (read); default: all",
    )
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = args.rows or (100_000 if args.quick else 2_250_000)
    compose_n = int(rows * 700_000 / 2_250_000)
    size = 64 if args.quick else 264
    figures: dict[str, Any] = {
        "quick": args.quick,
        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        "load_average": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "index" in args.parts:
            figures["index"] = bench_index(work, rows, compose_n)
        if "others" in args.parts:
            figures["index_others"] = bench_index_others(work, rows)
        if "read" in args.parts:
            figures["read"] = bench_reads(work, size, args.quick, args.repeats)
    figures["load_average_after"] = os.getloadavg()
    print_table(figures)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def bench_reads(work: Path, size: int, quick: bool, repeats: int) -> dict[str, Any]:
    """Reading each pool against a bare read of the same bytes."""
    read: dict[str, Any] = {}
    read["ssl4eo_v11"] = bench_ssl4eo(work, size, repeats)
    read["majortom"] = bench_majortom(work, 96 if quick else 264, repeats)
    fmow_root = make_fmow_sentinel(
        work / "fmow", [tuple(p) for p in LAND], images_per_location=3
    )
    fmow = FMoWSentinelPool(fmow_root)
    read["fmow_sentinel"] = bench_geotiffs(
        fmow, [str(fmow_root / p) for p in fmow.index()["path"]], repeats
    )
    table = fmow.index()[["path", "lon", "lat"]]
    table.to_csv(fmow_root / "table.csv", index=False)
    tpool = TablePool(fmow_root / "table.csv", all_bands=fmow.all_bands)
    read["table"] = bench_geotiffs(
        tpool, [str(fmow_root / p) for p in table["path"]], repeats
    )
    read["terramesh"] = bench_terramesh(work, size, repeats)
    return read


def print_table(figures: dict[str, Any]) -> None:
    """Print the figures measured as a Markdown table."""
    before, after = figures["load_average"], figures["load_average_after"]
    print(
        f"load average (1, 5, 15 min): {before[0]:.2f} {before[1]:.2f} "
        f"{before[2]:.2f} before, {after[0]:.2f} {after[1]:.2f} {after[2]:.2f} after"
    )
    print("| figure | value | target |\n|---|---|---|")
    idx = figures.get("index")
    if idx is not None:
        print(
            f"| Major TOM: index {idx['rows']:,} rows + continents | "
            f"{idx['index_and_continents_s']:.2f} s ({idx['index_cache_miss_s']:.2f} "
            f"+ {idx['continents_s']:.2f}) | < {TARGET_INDEX_S:.0f} s at 2,250,000 "
            "rows |"
        )
        print(f"| index from cache | {idx['index_cache_hit_s']:.2f} s | |")
        print(
            f"| faster than opening each sample | "
            f"{idx['index_speedup_over_opening']:.0f}x | >= {TARGET_INDEX_RATIO:.0f}x |"
        )
        print(
            f"| compose {idx['compose_samples']:,} samples | {idx['compose_s']:.2f} s "
            f"| < {TARGET_COMPOSE_S} s |"
        )
    for name, fig in figures.get("index_others", {}).items():
        print(
            f"| {name}: index {fig['rows']:,} rows | {fig['cache_miss_s']:.2f} s "
            f"(from cache {fig['cache_hit_s']:.2f} s) | |"
        )
    for name, fig in figures.get("read", {}).items():
        print(
            f"| read {name}: {fig['pool_per_s']:.0f} vs bare {fig['bare_per_s']:.0f} "
            f"samples/s | {fig['ratio']:.2f}x | >= {TARGET_READ_RATIO}x |"
        )


if __name__ == "__main__":
    main()
