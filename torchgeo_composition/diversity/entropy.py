"""Per-sample spectral entropy and categorical (composition) entropy, in nats.

Spectral entropy of one sample is defined as follows. For every band, the sample's
values are put into a ``bins``-bin histogram over the fixed interval
``value_range = (low, high)``: bin ``k`` holds values in
``[low + k * w, low + (k + 1) * w)`` with ``w = (high - low) / bins``; values below
``low`` count in the first bin and values at or above ``high`` in the last (they are
clipped, not dropped). The Shannon entropy ``-sum(p_k * ln p_k)`` of the bin shares
``p_k`` is that band's entropy; the sample's spectral entropy is the mean over its
bands. NaN values and masked pixels are left out of the histogram.

The value lies between 0 (every value in one bin) and ``ln(bins)`` (values spread
evenly over all bins): ``ln 32 = 3.47`` nats with the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from .recipes import get_recipe

__all__ = ["categorical_entropy", "resolve_recipe", "spectral_entropy"]

#: Number of values processed per block on CPU. The flattened (sample, band) rows
#: are histogrammed a block of rows at a time so that the temporaries stay in cache;
#: each block is one vectorised bincount over all of its samples and bands.
CPU_BLOCK_VALUES = 1 << 18

#: Block size on accelerators (bounds the temporary index tensor to ~1 GiB).
DEVICE_BLOCK_VALUES = 1 << 27


class _UnitRange(tuple[float, float]):
    """The default ``value_range``; distinguishable from an explicit ``(0.0, 1.0)``."""

    __slots__ = ()


#: Default range of :func:`spectral_entropy`: normalised images in [0, 1].
UNIT_RANGE: tuple[float, float] = _UnitRange((0.0, 1.0))


def _check_range(
    images: Tensor, value_range: tuple[float, float] | Sequence[float] | None
) -> tuple[float, float]:
    integer = not (images.is_floating_point() or images.is_complex())
    if value_range is None:
        if not integer:
            raise ValueError(
                "value_range=None is only valid for integer images (it means the "
                f"full range of their dtype); images of dtype {images.dtype} need an "
                "explicit value_range=(low, high), e.g. (0.0, 1.0) for normalised "
                "images"
            )
        info = torch.iinfo(images.dtype)
        return float(info.min), float(info.max) + 1.0
    if integer and value_range is UNIT_RANGE:
        raise ValueError(
            f"images of integer dtype {images.dtype} need a declared value_range: "
            "the default (0.0, 1.0) is meant for normalised float images; pass the "
            "range of the digital numbers, e.g. value_range=(0, 10000) for "
            "Sentinel-2 reflectance, or value_range=None for the full range of "
            "the dtype"
        )
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"value_range must be a pair (low, high) of numbers; got {value_range!r}"
        ) from err
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"value_range must be finite; got {value_range!r}")
    if not low < high:
        kind = "empty" if low == high else "inverted"
        raise ValueError(
            f"value_range={value_range!r} is {kind}; it must satisfy low < high"
        )
    return low, high


def _check_mask(mask: Tensor, shape: torch.Size) -> Tensor:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        dtype = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise ValueError(
            f"mask must be a boolean tensor (True = pixel excluded); got {dtype}"
        )
    b, c, h, w = shape
    if mask.shape == (b, h, w):
        mask = mask.unsqueeze(1)
    if mask.ndim != 4 or mask.shape[0] != b or mask.shape[2:] != (h, w):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match images shape "
            f"{tuple(shape)}; valid shapes are {(b, c, h, w)}, {(b, 1, h, w)} and "
            f"{(b, h, w)}"
        )
    if mask.shape[1] not in (1, c):
        raise ValueError(
            f"mask shape {tuple(mask.shape)} does not match images shape "
            f"{tuple(shape)}: it has {mask.shape[1]} bands; valid are 1 or {c}"
        )
    return mask.expand(b, c, h, w)


def _band_counts(
    values: Tensor, mask: Tensor | None, bins: int, low: float, high: float
) -> Tensor:
    """Histogram every row of ``values`` (R, N); returns int64 counts (R, bins)."""
    rows, n = values.shape
    work = torch.float64 if values.dtype == torch.float64 else torch.float32
    scale = bins / (high - low)
    block = CPU_BLOCK_VALUES if values.device.type == "cpu" else DEVICE_BLOCK_VALUES
    step = max(1, block // max(n, 1))
    # One extra bin per row collects the excluded values (NaN, masked).
    width = bins + 1
    id_dtype = torch.int32 if step * width < 2**31 else torch.int64
    offsets = torch.arange(min(step, rows), device=values.device, dtype=id_dtype)
    offsets = (offsets * width).unsqueeze(1)
    shift = torch.tensor(-low * scale, dtype=work, device=values.device)
    counts = []
    for start in range(0, rows, step):
        chunk = values[start : start + step]
        r = chunk.shape[0]
        # (x - low) * scale as one fused pass: shift + scale * x
        pos = torch.add(shift, chunk.to(work), alpha=scale)
        pos.clamp_(0.0, bins - 1).nan_to_num_(nan=float(bins))
        ids = pos.to(id_dtype)
        if mask is not None:
            ids.masked_fill_(mask[start : start + step], bins)
        ids += offsets[:r]
        hist = torch.bincount(ids.view(-1), minlength=r * width)
        counts.append(hist.view(r, width)[:, :bins])
    if not counts:
        return torch.zeros(0, bins, dtype=torch.int64, device=values.device)
    return torch.cat(counts)


def resolve_recipe(
    recipe: str | None,
    bins: int,
    value_range: tuple[float, float] | None,
) -> tuple[int, tuple[float, float] | None]:
    """Return the bins and value range a recipe sets (or the given ones).

    Args:
        recipe: A recipe name (see :mod:`~torchgeo_composition.diversity.recipes`)
            or ``None`` to keep ``bins`` and ``value_range``.
        bins: Bins asked for explicitly (must stay at 32 with a recipe).
        value_range: Range asked for explicitly (must stay at the default with a
            recipe).

    Returns:
        ``(bins, value_range)``.

    Raises:
        ValueError: If a recipe is combined with non-default bins or range, or the
            recipe is unknown (the message lists the recipes).
    """
    if recipe is None:
        return bins, value_range
    if bins != 32 or value_range is not UNIT_RANGE:
        raise ValueError(
            f"recipe={recipe!r} sets bins and value_range; leave them at their "
            f"defaults (got bins={bins!r}, value_range={value_range!r})"
        )
    chosen = get_recipe(recipe)
    return chosen.bins, chosen.value_range


def spectral_entropy(
    images: Tensor,
    bins: int = 32,
    value_range: tuple[float, float] | None = UNIT_RANGE,
    mask: Tensor | None = None,
    reduction: Literal["mean", "none"] = "mean",
    recipe: str | None = None,
) -> Tensor:
    """Per-sample spectral entropy in nats (definition in the module docstring).

    Computed on the tensor's device and batched over samples and bands: values are
    turned into bin ids with one offset per (sample, band) and counted with
    :func:`torch.bincount`. On CPU the rows are processed in blocks of about
    :data:`CPU_BLOCK_VALUES` values so that temporaries stay in cache.

    Args:
        images: Tensor of shape (B, C, H, W). Float images are binned as they are;
            integer images (e.g. Sentinel-2 digital numbers) need a declared
            ``value_range``.
        bins: Number of histogram bins per band (at least 2).
        value_range: ``(low, high)`` interval of the histogram, ``low < high``;
            values outside are clipped into the first or last bin. The default
            ``(0.0, 1.0)`` suits normalised float images (e.g. SatMAE's
            normalisation) and is refused for integer images, which must pass their
            range explicitly. ``None`` is accepted for integer images only and means
            the full range of their dtype (``(0, 256)`` for ``uint8``).
        mask: Optional boolean tensor, ``True`` marking pixels to exclude (nodata),
            of shape (B, C, H, W), (B, 1, H, W) or (B, H, W); the last two apply to
            every band.
        reduction: ``"mean"`` returns the mean over bands, shape (B,); ``"none"``
            returns one entropy per band, shape (B, C).
        recipe: Name of an entropy recipe
            (:data:`~torchgeo_composition.diversity.recipes.RECIPES`), which sets
            ``bins`` and ``value_range`` (leave those at their defaults); the
            images must already be prepared as the recipe says (``olmoearth``:
            raw digital numbers; ``default``: SatMAE-normalised).

    Returns:
        Float tensor of shape (B,) or (B, C) on the images' device (float64 for
        float64 images, float32 otherwise). A band without any valid pixel (all
        NaN or masked) has entropy NaN, meaning "no data", not "no diversity". With
        ``reduction="mean"`` the mean is over the bands that have data, so a sample
        is NaN only when it has no valid pixel in any band.

    Raises:
        ValueError: If ``images`` is not a 4-D real tensor, ``bins`` < 2, the
            range is empty, inverted, non-finite or missing for integer images, the
            mask is not boolean or its shape does not match, ``reduction`` is
            unknown, or ``recipe`` is unknown or given with ``bins`` or
            ``value_range``.
    """
    bins, value_range = resolve_recipe(recipe, bins, value_range)
    if not isinstance(images, Tensor):
        raise ValueError(f"images must be a torch.Tensor; got {type(images).__name__}")
    if images.ndim != 4:
        hint = " (use images.unsqueeze(0) for one sample)" if images.ndim == 3 else ""
        raise ValueError(
            f"images must be a 4-D tensor (B, C, H, W); got shape "
            f"{tuple(images.shape)}{hint}"
        )
    if images.dtype == torch.bool or images.is_complex():
        raise ValueError(
            f"images must be a real float or integer tensor; got {images.dtype}"
        )
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2; got {bins!r}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be one of 'mean', 'none'; got {reduction!r}")
    low, high = _check_range(images, value_range)
    shape = images.shape
    b, c, h, w = shape
    flat_mask = None
    if mask is not None:
        flat_mask = _check_mask(mask, shape).to(images.device).reshape(b * c, h * w)
    counts = _band_counts(images.reshape(b * c, h * w), flat_mask, int(bins), low, high)
    out_dtype = torch.float64 if images.dtype == torch.float64 else torch.float32
    acc = torch.float32 if images.device.type == "mps" else torch.float64
    counts_f = counts.to(acc)
    total = counts_f.sum(dim=1, keepdim=True)
    p = counts_f / total
    per_band = -torch.special.xlogy(p, p).sum(dim=1)
    per_band = per_band.where(total.squeeze(1) > 0, torch.nan).reshape(b, c)
    if reduction == "none":
        return per_band.to(out_dtype)
    return torch.nanmean(per_band, dim=1).to(out_dtype)


def categorical_entropy(
    values: Sequence[object] | np.ndarray | Tensor | dict[object, float],
) -> float:
    """Shannon entropy in nats of a categorical distribution.

    Used for continent, biome, land-cover or any region-layer composition: the
    entropy of the shares of the classes (``ln 6 = 1.79`` for six equal shares).

    Args:
        values: Either counts (or weights) per class: a mapping
            ``class -> count`` or a 1-D sequence, array or tensor of non-negative
            numbers; or one label per sample: a sequence of strings (or other
            non-numeric labels), in which case ``None`` labels (unassigned samples)
            are ignored. Numeric input is always read as counts.

    Returns:
        The entropy in nats (0.0 for a single class).

    Raises:
        ValueError: If counts are negative, non-finite or all zero, or no label is
            given.
    """
    if isinstance(values, dict):
        counts = np.asarray(list(values.values()), dtype=np.float64)
    elif isinstance(values, Tensor):
        counts = values.detach().cpu().double().numpy().ravel()
    else:
        arr = np.asarray(values, dtype=object).ravel()
        numeric = arr.size > 0 and all(
            isinstance(v, int | float | np.integer | np.floating)
            and not isinstance(v, bool)
            for v in arr
        )
        if numeric:
            counts = arr.astype(np.float64)
        else:
            labels = [v for v in arr if v is not None]
            if not labels:
                raise ValueError("categorical_entropy needs at least one label")
            _, label_counts = np.unique(
                np.asarray(labels, dtype=str), return_counts=True
            )
            counts = label_counts.astype(np.float64)
    if counts.size == 0:
        raise ValueError("categorical_entropy needs at least one count or label")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(
            f"counts must be finite and non-negative; got {counts.tolist()}"
        )
    if counts.sum() <= 0:
        raise ValueError(f"counts must not all be zero; got {counts.tolist()}")
    return float(stats.entropy(counts))
