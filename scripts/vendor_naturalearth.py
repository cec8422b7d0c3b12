"""Vendor Natural Earth 1:110m admin-0 countries into the package (one-off).

Natural Earth is in the public domain. The 1:110m admin-0 countries layer ships
in the pyogrio wheel as a test fixture; this script reads that copy once and
writes the columns the package needs (``name``, ``iso_a3``, ``continent`` as a
slug) to ``torchgeo_composition/geography/data/naturalearth_110m_countries.geojson``,
and the continent lookup grid built from it to
``naturalearth_110m_continents_lookup.npz`` next to it. The package reads only
these vendored files at run time.

Usage::

    .venv/bin/python scripts/vendor_naturalearth.py [--source PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio

ROOT = Path(__file__).resolve().parents[1]
TARGET = (
    ROOT
    / "torchgeo_composition"
    / "geography"
    / "data"
    / "naturalearth_110m_countries.geojson"
)
CONTINENT_SLUGS = {
    "Africa": "africa",
    "Antarctica": "antarctica",
    "Asia": "asia",
    "Europe": "europe",
    "North America": "north_america",
    "Oceania": "oceania",
    "South America": "south_america",
}
# Codes Natural Earth leaves as "-99" although an ISO 3166 code exists.
ISO_FIXES = {"France": "FRA", "Norway": "NOR"}


def default_source() -> Path:
    """Return the path of the Natural Earth fixture inside the pyogrio wheel."""
    package = Path(pyogrio.__file__).parent
    return package / "tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp"


def main(argv: list[str] | None = None) -> None:
    """Write the vendored layer (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=default_source())
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if not args.source.exists():
        raise FileNotFoundError(f"--source {args.source} does not exist")

    frame = gpd.read_file(args.source).to_crs("EPSG:4326")
    # "Seven seas (open ocean)" (French Southern and Antarctic Lands) is no continent.
    frame = frame[frame["continent"].isin(list(CONTINENT_SLUGS))].copy()
    frame["continent"] = frame["continent"].map(CONTINENT_SLUGS)
    frame["iso_a3"] = [
        ISO_FIXES.get(name, code)
        for name, code in zip(frame["name"], frame["iso_a3"], strict=True)
    ]
    frame = frame[["name", "iso_a3", "continent", "geometry"]]
    frame = frame.sort_values(["continent", "name"]).reset_index(drop=True)

    args.output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".geojson", dir=args.output.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        frame.to_file(
            tmp,
            driver="GeoJSON",
            layer=args.output.stem,
            COORDINATE_PRECISION=5,
            RFC7946="YES",
            index=False,
        )
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    # The prebuilt lookup grid saves building it in every process.
    from torchgeo_composition.geography.regions import (
        CONTINENT_LOOKUP,
        build_continent_lookup,
    )

    if args.output == TARGET:
        tmp_npz = CONTINENT_LOOKUP.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = build_continent_lookup()
        np.savez_compressed(tmp_npz, **arrays)
        os.replace(tmp_npz, CONTINENT_LOOKUP)
        print(f"wrote {CONTINENT_LOOKUP}")
    counts = frame["continent"].value_counts().sort_index()
    print(f"wrote {len(frame)} countries to {args.output}")
    print(counts.to_string())


if __name__ == "__main__":
    main()
