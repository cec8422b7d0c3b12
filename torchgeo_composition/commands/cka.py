"""``torchgeo-composition cka``: linear CKA between backbones' features.

Runs each backbone (registry names, as in a fusion config) over up to
``--num_samples`` images of a datamodule split, computes linear CKA between the
pooled features of every pair, and writes ``cka.csv`` (the table) and ``cka.png``
(a heat-map) to ``--output``. A fusion ``fit`` config can be given as it is: its
``data`` section is used, and ``model.init_args.backbones`` / ``bands`` /
``normalization`` are the defaults::

    torchgeo-composition cka --config configs/fusion/eurosat_concat.yaml --output cka/
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from jsonargparse import ActionConfigFile, ArgumentParser  # type: ignore[attr-defined]
from matplotlib.figure import Figure
from torch import Tensor
from tqdm.auto import tqdm

from ..files import atomic_path
from ..models.fusion.cka import linear_cka
from ..models.fusion.model import FeatureFusion

__all__ = ["cka_matrix", "main", "markdown_table", "plot_cka"]


def cka_matrix(features: Sequence[Tensor]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Linear CKA between every pair of feature matrices.

    Args:
        features: One ``(N, D_i)`` matrix per backbone, same samples.

    Returns:
        Symmetric ``(B, B)`` matrix with ones on the diagonal.
    """
    n = len(features)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            out[i, j] = out[j, i] = linear_cka(features[i], features[j])
    return out


def _write(path: Path, write: Callable[[str], None]) -> None:
    with atomic_path(path) as tmp:
        write(str(tmp))


def plot_cka(table: pd.DataFrame, path: Path) -> None:
    """Write a CKA heat-map PNG atomically.

    Args:
        table: Square CKA table indexed by backbone name.
        path: Output PNG.
    """
    n = len(table)
    fig = Figure(figsize=(2 + 1.2 * n, 1.5 + 1.0 * n))
    ax = fig.add_subplot()
    im = ax.imshow(table.to_numpy(), vmin=0.0, vmax=1.0, cmap="viridis")
    labels = [str(name) for name in table.index]
    ax.set_xticks(range(n), labels, rotation=30, ha="right")
    ax.set_yticks(range(n), labels)
    for i in range(n):
        for j in range(n):
            value = float(table.to_numpy()[i, j])
            color = "black" if value > 0.6 else "white"
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=color)
    ax.set_title("linear CKA")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    _write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


def markdown_table(table: pd.DataFrame) -> str:
    """Format a CKA table as Markdown.

    Args:
        table: Square CKA table indexed by backbone name.

    Returns:
        The Markdown text.
    """
    header = "| | " + " | ".join(map(str, table.columns)) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    rows = [
        f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |"
        for name, row in zip(table.index, table.to_numpy(), strict=True)
    ]
    return "\n".join([header, rule, *rows])


def _batches(dm: Any, split: str) -> Iterator[dict[str, Any]]:
    stage = {"train": "fit", "val": "validate", "test": "test"}[split]
    dm.setup("fit" if stage == "validate" else stage)
    aug = getattr(dm, f"{split}_aug", None) or getattr(dm, "aug", None)
    for batch in getattr(dm, f"{split}_dataloader")():
        yield aug(batch) if aug is not None else batch


def _parser() -> ArgumentParser:
    from torchgeo.datamodules import BaseDataModule

    parser = ArgumentParser(
        prog="torchgeo-composition cka",
        description="Linear CKA between backbones' features on a dataset split.",
    )
    parser.add_argument("--config", action=ActionConfigFile)
    parser.add_subclass_arguments(BaseDataModule, "data", required=True)
    parser.add_argument("--backbones", type=list[str | dict[str, Any]] | None)
    parser.add_argument("--bands", type=list[str] | None)
    parser.add_argument(
        "--normalization", type=Literal["datamodule", "backbone"] | None
    )
    parser.add_argument("--split", type=Literal["train", "val", "test"], default="val")
    parser.add_argument("--num_samples", type=int, default=512)
    parser.add_argument("--output", type=str, default="cka")
    parser.add_argument("--model", type=dict[str, Any] | None, help="fit config model")
    parser.add_argument("--trainer", type=dict[str, Any] | None, help="ignored")
    parser.add_argument("--seed_everything", type=Any, help="ignored")
    return parser


def main(argv: list[str]) -> int:
    """Run the command.

    Args:
        argv: Command-line arguments.

    Returns:
        Exit code 0.

    Raises:
        ValueError: If fewer than two backbones, no bands, or fewer than two
            samples are given.
    """
    parser = _parser()
    cfg = parser.parse_args(argv)
    init = dict((cfg.model or {}).get("init_args", {}))
    backbones = cfg.backbones or init.get("backbones")
    bands = cfg.bands or init.get("bands")
    normalization = cfg.normalization or init.get("normalization", "datamodule")
    if not backbones or len(backbones) < 2:
        raise ValueError(f"backbones={backbones!r}: give at least two backbones")
    if not bands:
        raise ValueError("bands is missing: give --bands (the data's band names)")
    if cfg.num_samples < 2:
        raise ValueError(f"num_samples={cfg.num_samples} must be >= 2")
    dm = parser.instantiate_classes(cfg).data
    model = FeatureFusion(
        backbones, bands, num_classes=2, freeze=True, normalization=normalization
    ).eval()
    if normalization == "backbone" and getattr(dm, "mean", None) is not None:
        model.set_input_stats(dm.mean, dm.std)
    parts: list[list[Tensor]] = []
    seen = 0
    with torch.inference_mode():
        for batch in tqdm(_batches(dm, cfg.split), desc="cka", disable=None):
            parts.append(model.backbone_features(batch["image"].float()))
            seen += len(batch["image"])
            if seen >= cfg.num_samples:
                break
    if seen < 2:
        raise ValueError(f"split {cfg.split!r} has {seen} samples; need >= 2")
    feats = [torch.cat(col)[: cfg.num_samples] for col in zip(*parts, strict=True)]
    names = [spec["name"] for spec in model.specs]
    table = pd.DataFrame(cka_matrix(feats), index=names, columns=names)
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "cka.csv", lambda tmp: table.to_csv(tmp, float_format="%.4f"))
    plot_cka(table, out / "cka.png")
    print(markdown_table(table))
    print(f"wrote {out / 'cka.csv'} and {out / 'cka.png'} ({len(feats[0])} samples)")
    return 0
