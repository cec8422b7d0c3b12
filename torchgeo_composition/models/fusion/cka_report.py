"""Linear CKA between the backbones of a fusion model on a datamodule split.

:func:`cka_report` runs each backbone over up to ``num_samples`` images of a
split, computes linear CKA between the pooled features of every pair
(:func:`~torchgeo_composition.models.fusion.cka.cka_matrix`) and writes
``cka.csv`` (the table) and ``cka.png`` (a heat-map), both atomically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import Tensor
from tqdm.auto import tqdm

from ...files import atomic_path, save_figure
from .cache import split_batches
from .cka import cka_matrix
from .model import BackboneSpec, FeatureFusion, InputNormalization

__all__ = ["CKAReport", "cka_figure", "cka_report", "cka_table"]


@dataclass(frozen=True)
class CKAReport:
    """What :func:`cka_report` computed and wrote.

    Attributes:
        table: Square CKA table indexed by backbone name.
        num_samples: Images the features were computed on.
        csv: The table file.
        figure: The heat-map file.
    """

    table: pd.DataFrame
    num_samples: int
    csv: Path
    figure: Path


def cka_table(
    model: FeatureFusion, batches: Iterable[Mapping[str, Any]], num_samples: int
) -> tuple[pd.DataFrame, int]:
    """Linear CKA between the pooled features of a fusion model's backbones.

    Args:
        model: The fusion model (its backbones are compared).
        batches: Batches with an ``image`` entry, in the model's band order.
        num_samples: Images to use at most.

    Returns:
        The square table indexed by backbone name, and the number of images.

    Raises:
        ValueError: If fewer than two images are given.
    """
    parts: list[list[Tensor]] = []
    seen = 0
    with torch.inference_mode():
        for batch in tqdm(batches, desc="cka", disable=None):
            parts.append(model.backbone_features(batch["image"].float()))
            seen += len(batch["image"])
            if seen >= num_samples:
                break
    if seen < 2:
        raise ValueError(f"the split has {seen} samples; CKA needs >= 2")
    feats = [torch.cat(col)[:num_samples] for col in zip(*parts, strict=True)]
    names = [spec["name"] for spec in model.specs]
    return pd.DataFrame(cka_matrix(feats), index=names, columns=names), len(feats[0])


def cka_figure(table: pd.DataFrame) -> Figure:
    """Draw a CKA table as an annotated heat-map.

    Args:
        table: Square CKA table indexed by backbone name.

    Returns:
        The figure.
    """
    n = len(table)
    values = table.to_numpy()
    fig = Figure(figsize=(2 + 1.2 * n, 1.5 + 1.0 * n))
    ax = fig.add_subplot()
    im = ax.imshow(values, vmin=0.0, vmax=1.0, cmap="viridis")
    labels = [str(name) for name in table.index]
    ax.set_xticks(range(n), labels, rotation=30, ha="right")
    ax.set_yticks(range(n), labels)
    for i in range(n):
        for j in range(n):
            color = "black" if values[i, j] > 0.6 else "white"
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", color=color)
    ax.set_title("linear CKA")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def cka_report(
    data: Any,
    backbones: Sequence[BackboneSpec],
    bands: Sequence[str],
    input_normalization: InputNormalization = "datamodule",
    split: Literal["train", "val", "test"] = "val",
    num_samples: int = 512,
    output: str | Path = "cka",
) -> CKAReport:
    """Compute linear CKA between backbones on a datamodule split and write it.

    Args:
        data: A datamodule (it is set up for the split here).
        backbones: Backbone names or spec mappings, as in a fusion config.
        bands: The data's band names, in order.
        input_normalization: As :class:`FeatureFusion`'s; ``"backbone"`` takes
            the datamodule's ``mean``/``std``.
        split: The split whose images are used.
        num_samples: Images to use at most.
        output: Directory of ``cka.csv`` and ``cka.png``.

    Returns:
        The table and the written files.

    Raises:
        ValueError: If fewer than two backbones, no bands, or fewer than two
            samples are given.
    """
    if len(backbones) < 2:
        raise ValueError(f"backbones={list(backbones)!r}: give at least two backbones")
    if not bands:
        raise ValueError("bands is missing: give the data's band names")
    if num_samples < 2:
        raise ValueError(f"num_samples={num_samples} must be >= 2")
    model = FeatureFusion(
        backbones,
        bands,
        num_classes=2,
        freeze=True,
        input_normalization=input_normalization,
    ).eval()
    if input_normalization == "backbone" and getattr(data, "mean", None) is not None:
        model.set_input_stats(data.mean, data.std)
    data.setup({"train": "fit", "val": "fit", "test": "test"}[split])
    table, seen = cka_table(model, split_batches(data, split), num_samples)
    out = Path(output)
    with atomic_path(out / "cka.csv") as tmp:
        table.to_csv(tmp, float_format="%.4f")
    figure = save_figure(cka_figure(table), out / "cka.png", bbox_inches=None)
    return CKAReport(table, seen, out / "cka.csv", figure)
