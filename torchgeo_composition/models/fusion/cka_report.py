"""Linear CKA between the backbones of a fusion model on a datamodule split.

:func:`cka_report` runs each backbone over up to ``num_samples`` images of a
split, computes linear CKA between the pooled features of every pair
(:func:`~torchgeo_composition.models.fusion.cka.cka_matrix`) and writes
``cka.csv`` (the table) and ``cka.png`` (a heat-map), both atomically.

Linear CKA needs many more samples than feature dimensions: 2 samples give 1 by
construction (refused), and with fewer samples than the features are wide,
unrelated features already score about
:func:`~torchgeo_composition.models.fusion.cka.cka_chance_level` (0.5 when the
two numbers are equal). :func:`cka_report` then warns (a
:class:`CKASampleWarning`, also kept in :attr:`CKAReport.warning`) with that
chance level.
"""

from __future__ import annotations

import warnings
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
from .cka import cka_chance_level, cka_matrix
from .model import BackboneSpec, FeatureFusion, InputNormalization

__all__ = [
    "MIN_SAMPLES",
    "CKAReport",
    "CKASampleWarning",
    "cka_figure",
    "cka_report",
    "cka_table",
    "sample_size_warning",
]

#: Fewest samples CKA is computed on (2 samples give CKA = 1 by construction).
MIN_SAMPLES = 3

#: Chance level above which :func:`cka_report` warns (reached when the number of
#: samples is about the feature width).
_WARN_CHANCE = 0.5


class CKASampleWarning(UserWarning):
    """CKA was computed on too few samples for its feature widths."""


@dataclass(frozen=True)
class CKAReport:
    """What :func:`cka_report` computed and wrote.

    Attributes:
        table: Square CKA table indexed by backbone name.
        num_samples: Images the features were computed on.
        csv: The table file.
        figure: The heat-map file.
        widths: Feature width of each backbone, in table order.
        warning: Why the values may be inflated (too few samples for the
            feature widths), or ``None``.
    """

    table: pd.DataFrame
    num_samples: int
    csv: Path
    figure: Path
    widths: tuple[int, ...] = ()
    warning: str | None = None


def sample_size_warning(
    num_samples: int, names: Sequence[str], widths: Sequence[int]
) -> str | None:
    """Say whether ``num_samples`` is too few for CKA between features of ``widths``.

    Args:
        num_samples: Samples the features were computed on.
        names: Backbone names.
        widths: Feature width of each backbone.

    Returns:
        A message naming the chance level of unrelated features (see
        :func:`~torchgeo_composition.models.fusion.cka.cka_chance_level`) when it
        is above 0.5 for some pair, else ``None``.
    """
    n = len(widths)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if not pairs:
        return None
    chance, i, j = max(
        (cka_chance_level(num_samples, widths[i], widths[j]), i, j) for i, j in pairs
    )
    if chance <= _WARN_CHANCE:
        return None
    return (
        f"CKA on {num_samples} samples is inflated: unrelated features of widths "
        f"{widths[i]} ({names[i]}) and {widths[j]} ({names[j]}) would score about "
        f"{chance:.2f}; raise num_samples well above the feature width (e.g. "
        f"{10 * max(widths)})"
    )


def cka_table(
    model: FeatureFusion, batches: Iterable[Mapping[str, Any]], num_samples: int
) -> tuple[pd.DataFrame, int, list[int]]:
    """Linear CKA between the pooled features of a fusion model's backbones.

    Args:
        model: The fusion model (its backbones are compared).
        batches: Batches with an ``image`` entry, in the model's band order.
        num_samples: Images to use at most.

    Returns:
        The square table indexed by backbone name, the number of images and
        the feature width of each backbone.

    Raises:
        ValueError: If fewer than :data:`MIN_SAMPLES` images are given, or the
            images do not have one channel per band of the model.
    """
    parts: list[list[Tensor]] = []
    seen = 0
    with torch.inference_mode():
        for batch in tqdm(batches, desc="cka", disable=None):
            images = batch["image"]
            if images.ndim != 4 or images.shape[1] != len(model.bands):
                raise ValueError(
                    f"bands={list(model.bands)} names {len(model.bands)} bands but "
                    f"the data's images have shape {tuple(images.shape)}; give one "
                    "band name per channel, in order"
                )
            parts.append(model.backbone_features(images.float()))
            seen += len(images)
            if seen >= num_samples:
                break
    if seen < MIN_SAMPLES:
        raise ValueError(
            f"the split has {seen} samples; CKA needs >= {MIN_SAMPLES} (with 2 it "
            "is 1 by construction)"
        )
    feats = [torch.cat(col)[:num_samples] for col in zip(*parts, strict=True)]
    names = [spec["name"] for spec in model.specs]
    table = pd.DataFrame(cka_matrix(feats), index=names, columns=names)
    widths = [int(f.shape[1]) for f in feats]
    return table, len(feats[0]), widths


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
        ValueError: If fewer than two backbones, no bands, or fewer than
            :data:`MIN_SAMPLES` samples are given.

    Warns:
        CKASampleWarning: If there are too few samples for the feature widths
            (see :func:`sample_size_warning`).
    """
    if len(backbones) < 2:
        raise ValueError(f"backbones={list(backbones)!r}: give at least two backbones")
    if not bands:
        raise ValueError("bands is missing: give the data's band names")
    if num_samples < MIN_SAMPLES:
        raise ValueError(
            f"num_samples={num_samples}: CKA needs >= {MIN_SAMPLES} samples (with 2 "
            "it is 1 by construction), and many more than the feature width"
        )
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
    table, seen, widths = cka_table(model, split_batches(data, split), num_samples)
    warning = sample_size_warning(seen, [str(n) for n in table.index], widths)
    if warning is not None:
        warnings.warn(warning, CKASampleWarning, stacklevel=2)
    out = Path(output)
    with atomic_path(out / "cka.csv") as tmp:
        table.to_csv(tmp, float_format="%.4f")
    figure = save_figure(cka_figure(table), out / "cka.png", bbox_inches=None)
    return CKAReport(table, seen, out / "cka.csv", figure, tuple(widths), warning)
