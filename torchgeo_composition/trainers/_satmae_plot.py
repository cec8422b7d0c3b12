"""Input / masked / reconstruction figures for SatMAE pretraining."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import LightningModule
from matplotlib.figure import Figure
from torch import Tensor

from ..bands import RGB_BANDS, canonical_band
from ..files import save_figure
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


def rgb_indices(model: GroupChannelMAE) -> list[int]:
    """Return the bands shown as red, green and blue.

    Args:
        model: The model; its ``bands`` name the input bands, if known.

    Returns:
        The indices of B4, B3 and B2 when the model has them, else the first
        (up to) three bands.
    """
    if model.bands is not None:
        names = [canonical_band(b) for b in model.bands]
        if all(b in names for b in RGB_BANDS):
            return [names.index(b) for b in RGB_BANDS]
    return list(range(min(3, model.in_chans)))


def log_reconstruction(
    module: LightningModule,
    model: GroupChannelMAE,
    images: Tensor,
    pred: Tensor,
    mask: Tensor,
) -> Path | None:
    """Save a reconstruction figure and send it to the loggers (rank zero only).

    The PNG goes to ``<log_dir>/reconstructions/epoch_<epoch>.png``; every logger
    with an ``add_figure`` method (TensorBoard) also receives it.

    Args:
        module: The training module (for the trainer, epoch, step and loggers).
        model: The model that produced ``pred``.
        images: Inputs ``(N, C, H, W)`` (already cut to the samples to show).
        pred: Predictions ``(N, C, L, p * p)`` in band order.
        mask: ``(N, G, L)``, 1 for masked tokens.

    Returns:
        The PNG written, or ``None`` on other ranks.
    """
    trainer = module.trainer
    if not trainer.is_global_zero:
        return None
    fig = reconstruction_figure(
        model,
        images.detach(),
        pred.detach(),
        mask,
        rgb_indices(model),
        title=f"epoch {module.current_epoch}, step {module.global_step}",
    )
    root = trainer.log_dir or trainer.default_root_dir
    name = f"epoch_{module.current_epoch:04d}.png"
    path = save_figure(fig, Path(root) / "reconstructions" / name, 80, None)
    for logger in module.loggers:
        add_figure = getattr(getattr(logger, "experiment", None), "add_figure", None)
        if callable(add_figure):
            add_figure("reconstruction", fig, module.global_step)
    return path


__all__ = [
    "log_reconstruction",
    "reconstruction_figure",
    "reconstruction_panels",
    "rgb_indices",
]
