"""Per-sample measurements of a dataset with any list of diversity measures.

Missing pixels (NaN or infinite values, or the ``nodata`` value, in the images as
the dataset delivers them) are NaN in the images the measures see, so that they
are left out of every histogram; a sample without any valid pixel is *empty*: its
value is NaN for every measure and the report counts it under ``empty`` instead
of giving it a value (a constant, filled image would otherwise have entropy 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from .entropy import UNIT_RANGE
from .measure import DiversityMeasure
from .spectral import SpectralEntropy

__all__ = [
    "EntropyMeasurements",
    "Measurements",
    "check_device",
    "dataset_sample_ids",
    "measure",
]


@dataclass(frozen=True)
class Measurements:
    """Per-sample results of :func:`measure`.

    Attributes:
        measures: The measures taken, in order.
        positions: Dataset position of each measured sample.
        values: Measure name -> value of each sample (N,); NaN without data.
        per_band: Measure name -> value of each band of each sample (N, C), for
            band-resolved measures (NaN for bands without data).
        strata: Stratum of each sample (``None`` when the dataset has none).
        lon: Longitude of each sample (NaN when the dataset has none).
        lat: Latitude of each sample (NaN when the dataset has none).
        sample_ids: Sample id of each sample (``None`` when the dataset does
            not name its samples).
        empty: Whether each sample has no valid pixel (its values are NaN).
        nodata: The pixel value that marked missing pixels, if any.
    """

    measures: tuple[DiversityMeasure, ...]
    positions: np.ndarray
    values: dict[str, np.ndarray]
    per_band: dict[str, np.ndarray]
    strata: list[str | None]
    lon: np.ndarray
    lat: np.ndarray
    sample_ids: list[str | None] | None = None
    empty: np.ndarray | None = None
    nodata: float | None = None

    @property
    def empty_ids(self) -> list[str]:
        """Sample ids (or ``#<position>`` without ids) of the empty samples."""
        if self.empty is None:
            return []
        ids = self.sample_ids or [None] * len(self.positions)
        return [
            str(i) if i is not None else f"#{p}"
            for i, p, e in zip(ids, self.positions, self.empty, strict=True)
            if e
        ]

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample: ids, stratum, place, emptiness, measures.

        Returns:
            The per-sample table: ``sample_id``, ``position``, ``stratum``,
            ``lon``, ``lat``, ``empty`` (no valid pixel) and one column per
            measure (blank for empty samples).
        """
        n = len(self.positions)
        empty = self.empty if self.empty is not None else np.zeros(n, dtype=bool)
        columns = {
            "sample_id": self.sample_ids or [None] * n,
            "position": self.positions,
            "stratum": self.strata,
            "lon": self.lon,
            "lat": self.lat,
            "empty": empty,
        }
        return pd.DataFrame(columns | self.values)


#: Former name of :class:`Measurements`.
EntropyMeasurements = Measurements


def _band_mean(per_band: np.ndarray) -> np.ndarray:
    """Mean over the bands with data, shape (N,); NaN for samples without data."""
    if per_band.size == 0:
        return np.zeros(len(per_band))
    valid = ~np.isnan(per_band)
    total = np.where(valid, per_band, 0.0).sum(axis=1)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"image": torch.stack([s["image"] for s in samples])}
    for key in ("lon", "lat"):
        out[key] = [float(s[key]) if key in s else math.nan for s in samples]
    out["stratum"] = [s.get("continent") for s in samples]
    out["sample_id"] = [s.get("sample_id") for s in samples]
    return out


def check_device(device: str | torch.device) -> torch.device:
    """Return ``device`` as a :class:`torch.device` after checking it exists here.

    Args:
        device: ``cpu``, ``cuda``, ``cuda:1``, ``mps`` ...

    Returns:
        The device.

    Raises:
        ValueError: If ``device`` is not a device name, or this machine lacks it.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device={device!r} is not a device; use 'cpu', 'cuda', 'cuda:0', 'mps' ..."
        ) from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"device={device!r}: no CUDA device on this machine; use device='cpu'"
            )
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"device={device!r}: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r}: MPS is not available; use device='cpu'")
    return dev


def dataset_sample_ids(dataset: Dataset[dict[str, Any]]) -> list[str] | None:
    """Return the sample id of each position of ``dataset``, when it can tell.

    Read from, in order: a ``sample_ids`` attribute; the ``sample_id`` column of
    ``dataset.pool.index()`` at ``dataset.positions`` (a manifest's samples); the
    ``sample_id`` column of ``dataset.index()`` (a pool).

    Args:
        dataset: The dataset.

    Returns:
        One id per position, or ``None``.
    """
    ids = getattr(dataset, "sample_ids", None)
    if ids is not None:
        return [str(i) for i in ids]
    pool = getattr(dataset, "pool", None)
    positions = getattr(dataset, "positions", None)
    owner = pool if pool is not None and positions is not None else dataset
    index = getattr(owner, "index", None)
    if not callable(index):
        return None
    frame = index()
    if not isinstance(frame, pd.DataFrame) or "sample_id" not in frame:
        return None
    column = frame["sample_id"].astype(str).tolist()
    if owner is pool:
        return [column[int(p)] for p in positions]  # type: ignore[union-attr]
    return column if len(column) == len(dataset) else None  # type: ignore[arg-type]


def _missing(raw: Tensor, nodata: float | None) -> Tensor:
    """Missing pixels of a batch as delivered (B, C, H, W): non-finite or nodata."""
    if raw.is_floating_point():
        missing = ~torch.isfinite(raw)
    else:
        missing = torch.zeros_like(raw, dtype=torch.bool)
    if nodata is not None:
        missing |= raw == nodata
    return missing


def _blank(images: Tensor, missing: Tensor) -> Tensor:
    """Set the missing pixels of the transformed ``images`` to NaN."""
    if not images.is_floating_point() or images.ndim != 4:
        return images
    mask = missing
    if mask.shape[-2:] != images.shape[-2:]:
        size = (int(images.shape[-2]), int(images.shape[-1]))
        mask = F.interpolate(mask.float(), size=size, mode="nearest").bool()
    if mask.shape[1] != images.shape[1]:
        mask = mask.all(dim=1, keepdim=True)
    return images.masked_fill(mask, math.nan)


def measure(
    dataset: Dataset[dict[str, Any]],
    bins: int = 32,
    value_range: tuple[float, float] | None = UNIT_RANGE,
    transform: Callable[[Tensor], Tensor] | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    measures: Sequence[DiversityMeasure] | None = None,
    nodata: float | None = None,
    sample_ids: Sequence[str] | None = None,
) -> Measurements:
    """Measure the samples of a dataset.

    Band-resolved measures (spectral entropy) are computed per band and averaged
    over the bands with data; the others per sample. Missing pixels (NaN, +-inf
    or ``nodata`` in the images as the dataset delivers them) are NaN in the
    images the measures see; samples without any valid pixel are *empty*: NaN
    for every measure.

    Args:
        dataset: Map-style dataset of sample dicts with ``image`` (C, H, W), and
            optionally ``lon``, ``lat`` and ``continent`` (the stratum).
        bins: Histogram bins per band of the default measure.
        value_range: Histogram range of the default measure (see
            :func:`~torchgeo_composition.diversity.spectral_entropy`).
        transform: Applied to each batch of images (B, C, H, W) on ``device``
            before measuring, e.g. the normalisation the model sees.
        num_samples: Measure a random subset of this many samples (without
            replacement, seeded by ``seed``); ``None`` measures all.
        seed: Seed of the subset.
        batch_size: Samples per batch.
        num_workers: DataLoader worker processes reading in parallel.
        device: Device to compute on.
        progress: Show a progress bar; ``None`` shows it on a terminal only.
        measures: The measures to take, with distinct names; ``None`` takes
            :class:`~torchgeo_composition.diversity.SpectralEntropy` with ``bins``
            and ``value_range``.
        nodata: Pixel value (before ``transform``) that marks a missing pixel,
            e.g. the value a pool fills missing pixels with; ``None``: only NaN
            and infinite values are missing.
        sample_ids: Sample id of each dataset position; ``None`` asks the
            dataset (see :func:`dataset_sample_ids`). A ``sample_id`` entry of a
            sample dict wins.

    Returns:
        The per-sample measurements, in dataset order.

    Raises:
        ValueError: If ``num_samples`` is not in [1, len(dataset)],
            ``batch_size`` / ``num_workers`` / ``device`` is invalid, measure
            names repeat, or ``nodata`` is not finite.
    """
    taken = (
        tuple(measures)
        if measures is not None
        else (SpectralEntropy(bins, value_range),)
    )
    names = [m.name for m in taken]
    if not names or len(set(names)) != len(names):
        raise ValueError(
            f"measures must be one or more measures with distinct names; got {names}"
        )
    size = len(dataset)  # type: ignore[arg-type]
    if num_samples is not None and not 1 <= num_samples <= size:
        raise ValueError(
            f"num_samples must be between 1 and the dataset size {size}; got "
            f"{num_samples}"
        )
    if batch_size < 1 or num_workers < 0:
        raise ValueError(
            f"batch_size must be >= 1 and num_workers >= 0; got {batch_size}, "
            f"{num_workers}"
        )
    device = check_device(device)
    if nodata is not None and not math.isfinite(nodata):
        raise ValueError(
            f"nodata must be a finite number or None (NaN pixels are always "
            f"missing); got {nodata!r}"
        )
    ids_by_position = (
        [str(i) for i in sample_ids]
        if sample_ids is not None
        else dataset_sample_ids(dataset)
    )
    if ids_by_position is not None and len(ids_by_position) != size:
        raise ValueError(
            f"sample_ids has {len(ids_by_position)} entries for a dataset of {size}"
        )
    positions = np.arange(size)
    if num_samples is not None and num_samples < size:
        rng = np.random.default_rng(seed)
        positions = np.sort(rng.choice(size, num_samples, replace=False))
    loader = DataLoader(
        Subset(dataset, positions.tolist()),
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=_collate,
    )
    chunks: dict[str, list[Tensor]] = {name: [] for name in names}
    banded: set[str] = set()
    strata: list[str | None] = []
    lon: list[float] = []
    lat: list[float] = []
    ids: list[str | None] = []
    empties: list[Tensor] = []
    disable = None if progress is None else not progress
    desc = ", ".join(names)
    for batch in tqdm(loader, desc=desc, unit="batch", disable=disable):
        raw = batch["image"].to(device)
        missing = _missing(raw, nodata)
        empty = missing.flatten(1).all(dim=1)
        images = transform(raw) if transform is not None else raw
        if bool(missing.any()):
            images = _blank(images, missing)
        empties.append(empty.cpu())
        with torch.no_grad():
            for m in taken:
                values = m.per_band(images)
                if values is not None:
                    banded.add(m.name)
                else:
                    values = m.per_sample(images)
                values = values.double()
                values[empty] = math.nan
                chunks[m.name].append(values.cpu())
        first = len(strata)
        for k, given in enumerate(batch["sample_id"]):
            if given is not None:
                ids.append(str(given))
            elif ids_by_position is not None:
                ids.append(ids_by_position[int(positions[first + k])])
            else:
                ids.append(None)
        strata += [None if s is None else str(s) for s in batch["stratum"]]
        lon += batch["lon"]
        lat += batch["lat"]
    per_band: dict[str, np.ndarray] = {}
    per_sample: dict[str, np.ndarray] = {}
    for name, parts in chunks.items():
        if name in banded:
            per_band[name] = torch.cat(parts).double().numpy()
            per_sample[name] = _band_mean(per_band[name])
        elif parts:
            per_sample[name] = torch.cat(parts).double().numpy()
        else:
            per_sample[name] = np.zeros(0)
    return Measurements(
        measures=taken,
        positions=positions,
        values=per_sample,
        per_band=per_band,
        strata=strata,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
        sample_ids=ids if any(i is not None for i in ids) else None,
        empty=torch.cat(empties).numpy() if empties else np.zeros(0, dtype=bool),
        nodata=nodata,
    )
