"""A tiny folder in SSL4EO-S12's layout: <root>/<split>/<7-digit id>/<season>/<band>.tif."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torchgeo.datasets import SSL4EOS12

from .chips import write_chip

SEASONS = (
    "20200105T000000_20200105T000000_T32UNA",
    "20200415T000000_20200415T000000_T32UNA",
)


def make_ssl4eo_s12(
    root: str | Path,
    points: Sequence[tuple[float, float]],
    split: str = "s2c",
    size: int = 4,
) -> Path:
    """Write one single-band UTM GeoTIFF per band, season and location."""
    root = Path(root)
    bands = SSL4EOS12.metadata[split]["bands"]
    for i, (lon, lat) in enumerate(points):
        for s, season in enumerate(SEASONS):
            for b, band in enumerate(bands):
                write_chip(
                    root / split / f"{i:07d}" / season / f"{band}.tif",
                    lon,
                    lat,
                    count=1,
                    size=size,
                    seed=100 * i + 10 * s + b,
                )
    return root
