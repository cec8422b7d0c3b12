"""The datamodules' device-side pipelines: normalisations as kornia augmentations.

Every datamodule of the package sets TorchGeo's ``aug`` / ``train_aug`` with
:func:`batch_pipeline` and :func:`build_normalization`; TorchGeo's
``on_after_batch_transfer`` applies them to whole batches on the device (keys
kornia does not know, such as ``lon``, ``lat`` and ``continent``, pass through).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import kornia.augmentation as K
import torch
from torch import Tensor, nn

from ..bands import FMOW_MEAN, FMOW_STD, canonical_band

__all__ = [
    "NORMALIZATIONS",
    "Normalization",
    "SatMAENormalize",
    "batch_pipeline",
    "build_normalization",
    "chip_pipelines",
]

#: What a datamodule's ``normalization`` may be.
Normalization = Literal["satmae", "standard", "none"]

#: Valid values of a datamodule's ``normalization``.
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)


class SatMAENormalize(K.IntensityAugmentationBase2D):
    """SatMAE's per-band normalisation: ``clip((x - (mean - 2 std)) / (4 std), 0, 1)``.

    Values within two standard deviations of the mean map linearly to [0, 1];
    values outside are clipped. With FMoW-Sentinel statistics
    (:data:`~torchgeo_composition.bands.FMOW_MEAN`,
    :data:`~torchgeo_composition.bands.FMOW_STD`) this is the normalisation SatMAE
    was pretrained with.
    """

    def __init__(
        self,
        mean: Sequence[float] | Tensor,
        std: Sequence[float] | Tensor,
        keepdim: bool = False,
    ) -> None:
        """Initialize a new SatMAENormalize instance.

        Args:
            mean: Per-band mean.
            std: Per-band standard deviation (> 0), same length as ``mean``.
            keepdim: Keep the input's shape (kornia option).

        Raises:
            ValueError: If the lengths differ or a standard deviation is not > 0.
        """
        super().__init__(p=1.0, keepdim=keepdim)
        mean_t = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std_t = torch.as_tensor(std, dtype=torch.float32).flatten()
        if mean_t.shape != std_t.shape:
            raise ValueError(
                f"mean and std must have the same length, got {len(mean_t)} and "
                f"{len(std_t)}"
            )
        if not bool((std_t > 0).all()):
            raise ValueError(f"std must be > 0 for every band, got {std_t.tolist()}")
        self.flags = {
            "low": (mean_t - 2 * std_t).view(1, -1, 1, 1),
            "scale": (4 * std_t).view(1, -1, 1, 1),
        }

    def apply_transform(
        self,
        input: Tensor,
        params: dict[str, Tensor],
        flags: dict[str, Any],
        transform: Tensor | None = None,
    ) -> Tensor:
        """Normalise a batch.

        Args:
            input: Images (B, C, H, W).
            params: Unused (kornia interface).
            flags: ``low`` and ``scale`` tensors of shape (1, C, 1, 1).
            transform: Unused (kornia interface).

        Returns:
            The normalised images in [0, 1].
        """
        low = flags["low"].to(input)
        scale = flags["scale"].to(input)
        return ((input - low) / scale).clamp(0.0, 1.0)


def _statistic(name: str, value: Sequence[float], bands: Sequence[str]) -> list[float]:
    """Validate a user-given mean or std: finite, one per band, std > 0."""
    values = [float(v) for v in value]
    if bands and len(values) != len(bands):
        raise ValueError(
            f"{name} has {len(values)} values but bands has {len(bands)}: "
            f"{list(bands)}; give one {name} per band, in band order"
        )
    names = list(bands) if bands else [f"channel {i}" for i in range(len(values))]
    for band, v in zip(names, values, strict=True):
        if not math.isfinite(v) or (name == "std" and v <= 0):
            need = "finite and > 0" if name == "std" else "finite"
            raise ValueError(
                f"{name} must be {need} for every band: {band!r} has {name}={v} "
                f"({name}={values}); a {name} of {v} makes every normalised pixel "
                "meaningless"
            )
    return values


def build_normalization(
    kind: str,
    bands: Sequence[str],
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> list[K.IntensityAugmentationBase2D]:
    """Build a datamodule's normalisation step for its bands.

    ``satmae`` is :class:`SatMAENormalize`, ``standard`` is ``(x - mean) / std``
    (:class:`kornia.augmentation.Normalize`) and ``none`` is no step. A ``mean`` or
    ``std`` left at ``None`` is looked up per band in the FMoW-Sentinel statistics
    (:data:`~torchgeo_composition.bands.FMOW_MEAN`,
    :data:`~torchgeo_composition.bands.FMOW_STD`).

    Args:
        kind: ``satmae``, ``standard`` or ``none``.
        bands: Band names of the images, in channel order (may be empty when
            ``mean`` and ``std`` are given).
        mean: Per-band mean; ``None`` = FMoW-Sentinel statistics.
        std: Per-band standard deviation; ``None`` = FMoW-Sentinel statistics.

    Returns:
        The steps to put in an ``AugmentationSequential`` (empty for ``none``).

    Raises:
        ValueError: If ``kind`` is unknown, statistics are missing for a band,
            ``mean`` / ``std`` do not have one value per band, or a value is not
            finite or a ``std`` is not > 0 (the message names the parameter, the
            band and the value).
    """
    if kind not in NORMALIZATIONS:
        raise ValueError(
            f"normalization {kind!r} is not valid; valid choices are "
            f"{list(NORMALIZATIONS)}"
        )
    if kind == "none":
        return []
    values: dict[str, list[float]] = {}
    for name, value, table in (("mean", mean, FMOW_MEAN), ("std", std, FMOW_STD)):
        if value is None:
            unknown = [b for b in bands if canonical_band(b) not in table]
            if not bands or unknown:
                raise ValueError(
                    f"normalization {kind!r} needs a {name} per band: give {name}, "
                    f"bands {unknown or list(bands)} have no FMoW-Sentinel "
                    f"statistics (they exist for {list(table)})"
                )
            values[name] = [table[canonical_band(b)] for b in bands]
        else:
            values[name] = _statistic(name, value, bands)
    if len(values["mean"]) != len(values["std"]):
        raise ValueError(
            f"mean has {len(values['mean'])} values but std has "
            f"{len(values['std'])}; give one of each per band"
        )
    if kind == "satmae":
        return [SatMAENormalize(values["mean"], values["std"])]
    return [K.Normalize(mean=values["mean"], std=values["std"])]


def batch_pipeline(
    *steps: K.AugmentationBase2D,
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Chain kornia steps into a transform of whole batches (TorchGeo's ``aug``).

    Args:
        *steps: Kornia augmentations, applied in order.

    Returns:
        ``AugmentationSequential(*steps, data_keys=None, keepdim=True)``, or an
        identity when there is no step (TorchGeo refuses an empty pipeline).
    """
    if not steps:
        return nn.Identity()
    return K.AugmentationSequential(*steps, data_keys=None, keepdim=True)


def chip_pipelines(
    normalization: Normalization,
    bands: Sequence[str],
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    crop_size: int | None = None,
    augment: bool = True,
    min_scale: float = 0.2,
) -> tuple[
    Callable[[dict[str, Any]], dict[str, Any]],
    Callable[[dict[str, Any]], dict[str, Any]] | None,
]:
    """Build the evaluation and training pipelines of pretraining chips.

    Evaluation: normalise, then resize to ``crop_size``. Training (when
    ``augment``): normalise, a random resized crop of ``crop_size`` with a scale
    in ``[min_scale, 1]``, and random horizontal and vertical flips.

    Args:
        normalization: See :func:`build_normalization`.
        bands: Band names in channel order.
        mean: Per-band means for ``standard`` (default: the FMoW statistics).
        std: Per-band standard deviations for ``standard``.
        crop_size: Output height and width, or ``None`` to keep the chips' size.
        augment: Build the training pipeline.
        min_scale: Smallest crop scale of the training pipeline.

    Returns:
        ``(aug, train_aug)``; ``train_aug`` is ``None`` without ``augment``.
    """
    norm = build_normalization(normalization, bands, mean, std)
    size = None if crop_size is None else (crop_size, crop_size)
    resize = [] if size is None else [K.Resize(size)]
    aug = batch_pipeline(*norm, *resize)
    if not augment:
        return aug, None
    crop = (
        []
        if size is None
        else [K.RandomResizedCrop(size, scale=(min_scale, 1.0), resample="bicubic")]
    )
    flips = [K.RandomHorizontalFlip(), K.RandomVerticalFlip()]
    return aug, batch_pipeline(*norm, *crop, *flips)
