"""Per-sample measurements of a dataset with any list of diversity measures."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from .entropy import UNIT_RANGE
from .measure import DiversityMeasure
from .spectral import SpectralEntropy

__all__ = ["EntropyMeasurements", "Measurements", "measure"]


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
    """

    measures: tuple[DiversityMeasure, ...]
    positions: np.ndarray
    values: dict[str, np.ndarray]
    per_band: dict[str, np.ndarray]
    strata: list[str | None]
    lon: np.ndarray
    lat: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample: position, stratum, lon, lat, one column per measure.

        Returns:
            The per-sample table.
        """
        columns = {
            "position": self.positions,
            "stratum": self.strata,
            "lon": self.lon,
            "lat": self.lat,
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
    return out


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
) -> Measurements:
    """Measure the samples of a dataset.

    Band-resolved measures (spectral entropy) are computed per band and averaged
    over the bands with data; the others per sample.

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

    Returns:
        The per-sample measurements, in dataset order.

    Raises:
        ValueError: If ``num_samples`` is not in [1, len(dataset)],
            ``batch_size`` / ``num_workers`` is invalid, or measure names repeat.
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
    strata, lon, lat = [], [], []
    disable = None if progress is None else not progress
    desc = ", ".join(names)
    for batch in tqdm(loader, desc=desc, unit="batch", disable=disable):
        images = batch["image"].to(device)
        if transform is not None:
            images = transform(images)
        with torch.no_grad():
            for m in taken:
                values = m.per_band(images)
                if values is not None:
                    banded.add(m.name)
                else:
                    values = m.per_sample(images)
                chunks[m.name].append(values.cpu())
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
    )
