"""Input / masked / reconstruction figures for SatMAE pretraining."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..files import save_figure as _save_figure
from ..models import GroupChannelMAE
from ..models.satmae.trunk import patchify, unpatchify


@torch.no_grad()
def reconstruction_panels(
    model: GroupChannelMAE, images: Tensor, pred: Tensor, mask: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Return masked input and reconstruction images, in input units.

    Args:
        model: The model that produced ``pred``.
        images: Inputs ``(N, C, H, W)``.
        pred: Predictions ``(N, C, L, p * p)`` in band order.
        mask: ``(N, G, L)``, 1 for masked tokens.

    Returns:
        ``(masked, reconstruction, band_mask)``: the input with masked patches set
        to NaN, the prediction with visible patches taken from the input, both
        ``(N, C, H, W)``, and the per-band mask ``(N, C, L)``.
    """
    p = model.patch_size
    images = images.float()
    pred = pred.float()
    target = patchify(images, p)
    if model.norm_pix_loss:
        n, c, num, p2 = target.shape
        flat = target.transpose(1, 2).reshape(n, num, c * p2)
        mean = flat.mean(-1, keepdim=True)
        std = (flat.var(-1, keepdim=True) + 1.0e-6) ** 0.5
        pred_flat = pred.transpose(1, 2).reshape(n, num, c * p2) * std + mean
        pred = pred_flat.view(n, num, c, p2).transpose(1, 2)
    band_mask = torch.zeros(pred.shape[:3], device=pred.device)
    for g, group in enumerate(model.channel_groups):
        band_mask[:, list(group)] = mask[:, g : g + 1].float()
    hidden = band_mask.unsqueeze(-1).bool()
    masked = unpatchify(target.masked_fill(hidden, float("nan")), p)
    recon = unpatchify(torch.where(hidden, pred, target), p)
    return masked, recon, band_mask


def reconstruction_figure(
    model: GroupChannelMAE,
    images: Tensor,
    pred: Tensor,
    mask: Tensor,
    rgb: Sequence[int],
    title: str = "",
) -> Figure:
    """Draw input, masked input and reconstruction side by side (RGB view).

    Args:
        model: The model that produced ``pred``.
        images: Inputs ``(N, C, H, W)``.
        pred: Predictions ``(N, C, L, p * p)`` in band order.
        mask: ``(N, G, L)``, 1 for masked tokens.
        rgb: Indices of the bands shown as red, green and blue (one index gives
            a grey image).
        title: Figure title.

    Returns:
        The figure (one row per image).
    """
    masked, recon, _ = reconstruction_panels(model, images, pred, mask)
    rows = images.shape[0]
    fig = Figure(figsize=(7.5, 2.5 * rows), layout="constrained")
    axes = fig.subplots(rows, 3, squeeze=False)
    bands = list(rgb) if len(rgb) >= 3 else [rgb[0]] * 3
    for i in range(rows):
        panels = (images[i].float(), masked[i], recon[i])
        stretch_ref = panels[0][bands].permute(1, 2, 0).cpu().numpy()
        lo, hi = np.percentile(stretch_ref, [2, 98]) if stretch_ref.size else (0, 1)
        for j, (panel, name) in enumerate(
            zip(panels, ("input", "masked", "reconstruction"), strict=True)
        ):
            view = panel[bands].permute(1, 2, 0).cpu().numpy()
            view = np.clip((view - lo) / max(float(hi - lo), 1e-6), 0, 1)
            view = np.where(np.isfinite(view), view, 0.5)
            axes[i, j].imshow(view)
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(name)
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save a figure as PNG atomically.

    Args:
        fig: The figure.
        path: Destination file.

    Returns:
        The path written.
    """
    return _save_figure(fig, path, dpi=80, bbox_inches=None)


__all__ = ["reconstruction_figure", "reconstruction_panels", "save_figure"]
