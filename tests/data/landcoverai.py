"""Generate tiny LandCover.ai-format data for TorchGeo's ``LandCoverAIDataModule``.

Layout (as ``torchgeo.datasets.LandCoverAI`` expects)::

    root/{train,val,test}.txt          # one id per line
    root/output/<id>.jpg               # RGB image
    root/output/<id>_m.png             # mask, classes 0..4
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image


def make_landcoverai(
    root: str | os.PathLike[str], per_split: int = 2, size: int = 32, seed: int = 0
) -> Path:
    """Write ``per_split`` image/mask pairs per split.

    Args:
        root: Target directory.
        per_split: Pairs per split.
        size: Image height and width.
        seed: Random seed.

    Returns:
        ``root`` as a path.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "output").mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        ids = [f"M-{split}_{i}" for i in range(per_split)]
        for id_ in ids:
            mask = rng.integers(0, 5, size=(size, size), dtype=np.uint8)
            image = mask[..., None] * 40 + rng.integers(0, 40, (size, size, 3))
            Image.fromarray(image.astype(np.uint8)).save(root / "output" / f"{id_}.jpg")
            Image.fromarray(mask).save(root / "output" / f"{id_}_m.png")
        (root / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root
