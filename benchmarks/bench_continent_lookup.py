"""Benchmark: continent assignment of random land points.

Compares :func:`torchgeo_composition.geography.continent_of` (grid lookup +
shapely 2 vectorised predicates + k-d tree fallback) with a naive baseline: a
geopandas ``sjoin`` of points in the Natural Earth countries, then a per-point
nearest-country search for points the join leaves unassigned. The baseline is
timed on a subset and scaled per point (reported in the output). Both are
measured in one run on the same points.

Usage::

    .venv/bin/python benchmarks/bench_continent_lookup.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from torchgeo_composition.geography import CONTINENTS, NATURAL_EARTH, continent_of
from torchgeo_composition.geography.regions import _build_lookup


def random_land_points(
    n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:  # uniform on the sphere, kept if on land
    rng = np.random.default_rng(seed)
    land = shapely.union_all(gpd.read_file(NATURAL_EARTH).geometry.values)
    shapely.prepare(land)
    lons, lats, have = [], [], 0
    while have < n:
        lon = rng.uniform(-180, 180, 4 * n)
        lat = np.degrees(np.arcsin(rng.uniform(-1, 1, 4 * n)))
        keep = shapely.intersects_xy(land, lon, lat)
        lons.append(lon[keep])
        lats.append(lat[keep])
        have += int(keep.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def naive_baseline(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Geopandas sjoin, then a per-point nearest search in an equal-area CRS."""
    countries = gpd.read_file(NATURAL_EARTH)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    joined = gpd.sjoin(points, countries, how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    result = joined["continent"].to_numpy(dtype=object)
    projected = countries.to_crs("EPSG:6933")
    missing = np.flatnonzero(joined["continent"].isna().to_numpy())
    for i in missing:  # the naive per-point fallback
        point = gpd.GeoSeries([points.geometry.iloc[i]], crs="EPSG:4326")
        distance = projected.distance(point.to_crs("EPSG:6933").iloc[0])
        nearest = distance.idxmin()
        if distance[nearest] <= 500_000:
            result[i] = countries["continent"].iloc[nearest]
        else:
            result[i] = None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (< 20 s)")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    args = parser.parse_args()
    n = 20_000 if args.quick else 1_000_000
    n_base = 5_000 if args.quick else 100_000

    lon, lat = random_land_points(n)

    start = time.perf_counter()
    continent_of(0.0, 0.0)  # reads the layer, builds the grid and the k-d tree
    build_s = time.perf_counter() - start

    start = time.perf_counter()
    _build_lookup(gpd.read_file(NATURAL_EARTH), "continent", CONTINENTS)
    rebuild_s = time.perf_counter() - start

    start = time.perf_counter()
    ours = continent_of(lon, lat)
    ours_s = time.perf_counter() - start

    start = time.perf_counter()
    base = naive_baseline(lon[:n_base], lat[:n_base])
    base_sub_s = time.perf_counter() - start
    base_s = base_sub_s * n / n_base
    agree = float(np.mean(base == ours[:n_base]))
    assigned = float(np.mean(ours != None))  # noqa: E711

    figures = {
        "points": n,
        "baseline_points": n_base,
        "baseline_subset_s": base_sub_s,
        "baseline_scaled_s": base_s,
        "ours_s": ours_s,
        "ours_build_s": build_s,
        "grid_from_polygons_s": rebuild_s,
        "speedup": base_s / ours_s,
        "speedup_incl_build": base_s / (ours_s + build_s),
        "agreement": agree,
        "assigned_fraction": assigned,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(f"Continent assignment of {n:,} random land points")
    print()
    print("| method | points timed | seconds (for all points) | points/s | speed-up |")
    print("|---|---|---|---|---|")
    print(
        f"| naive sjoin + per-point nearest | {n_base:,} (scaled per point) "
        f"| {base_s:.2f} | {n / base_s:,.0f} | 1.0x |"
    )
    print(
        f"| continent_of (grid + STRtree pieces + k-d tree) | {n:,} | {ours_s:.2f} "
        f"| {n / ours_s:,.0f} | {base_s / ours_s:.1f}x |"
    )
    print(
        f"| continent_of incl. one-off build ({build_s:.2f} s) | {n:,} "
        f"| {ours_s + build_s:.2f} | {n / (ours_s + build_s):,.0f} "
        f"| {base_s / (ours_s + build_s):.1f}x |"
    )
    print()
    print(f"agreement with the baseline on its {n_base:,} points: {agree:.4%}")
    print(
        f"one-off build = loading the prebuilt grid + k-d tree; building the grid "
        f"from the polygons instead takes {rebuild_s:.2f} s"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
