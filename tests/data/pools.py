"""Small synthetic pools shared by datamodule and command tests."""

from __future__ import annotations

from pathlib import Path

from torchgeo_composition.datasets import SyntheticSentinel2Pool


def tiny_pool(
    root: str | Path, num_chips: int = 60, size: int = 8
) -> SyntheticSentinel2Pool:
    """A 60-chip pool of 8 x 8 px chips (12 Asia, 12 Africa, 9 Europe, ...)."""
    return SyntheticSentinel2Pool(root, num_chips=num_chips, size=size, seed=0)
