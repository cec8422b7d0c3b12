"""Diversity report of a pretraining set: spectral entropy overall, per stratum and band.

:func:`measure` reads a dataset through DataLoader workers and computes the
per-sample and per-band spectral entropy of every (or a seeded subset of) sample;
:func:`summarize` turns the measurements into a JSON-friendly report (with the
continent and region-layer entropy of the measured samples); :func:`write_report`
writes it as JSON, a Markdown table, a per-sample CSV and two figures.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from ..files import write_text
from .entropy import UNIT_RANGE, categorical_entropy, spectral_entropy
from .plots import plot_band_entropy, plot_stratum_distributions

__all__ = [
    "QUANTILES",
    "EntropyMeasurements",
    "measure",
    "summarize",
    "to_markdown",
    "write_report",
]

#: Quantiles of the per-sample entropy given in reports.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class EntropyMeasurements:
    """Per-sample results of :func:`measure`.

    Attributes:
        positions: Dataset position of each measured sample.
        per_band: Spectral entropy (N, C) in nats, NaN for bands without data.
        strata: Stratum of each sample (``None`` when the dataset has none).
        lon: Longitude of each sample (NaN when the dataset has none).
        lat: Latitude of each sample (NaN when the dataset has none).
    """

    positions: np.ndarray
    per_band: np.ndarray
    strata: list[str | None]
    lon: np.ndarray
    lat: np.ndarray

    @property
    def per_sample(self) -> np.ndarray:
        """Mean over the bands with data, shape (N,); NaN for samples without data."""
        if self.per_band.size == 0:
            return np.zeros(len(self.per_band))
        valid = ~np.isnan(self.per_band)
        total = np.where(valid, self.per_band, 0.0).sum(axis=1)
        count = valid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def to_frame(self) -> pd.DataFrame:
        """Return one row per sample: position, stratum, lon, lat, entropy.

        Returns:
            The per-sample table.
        """
        return pd.DataFrame(
            {
                "position": self.positions,
                "stratum": self.strata,
                "lon": self.lon,
                "lat": self.lat,
                "spectral_entropy": self.per_sample,
            }
        )


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
) -> EntropyMeasurements:
    """Measure the spectral entropy of the samples of a dataset.

    Args:
        dataset: Map-style dataset of sample dicts with ``image`` (C, H, W), and
            optionally ``lon``, ``lat`` and ``continent`` (the stratum).
        bins: Histogram bins per band.
        value_range: Histogram range (see
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

    Returns:
        The per-sample measurements, in dataset order.

    Raises:
        ValueError: If ``num_samples`` is not in [1, len(dataset)], or
            ``batch_size`` / ``num_workers`` is invalid.
    """
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
    per_band, strata, lon, lat = [], [], [], []
    disable = None if progress is None else not progress
    for batch in tqdm(loader, desc="spectral entropy", unit="batch", disable=disable):
        images = batch["image"].to(device)
        if transform is not None:
            images = transform(images)
        per_band.append(
            spectral_entropy(images, bins, value_range, reduction="none").cpu()
        )
        strata += [None if s is None else str(s) for s in batch["stratum"]]
        lon += batch["lon"]
        lat += batch["lat"]
    values = torch.cat(per_band).double().numpy() if per_band else np.zeros((0, 0))
    return EntropyMeasurements(
        positions=positions,
        per_band=values,
        strata=strata,
        lon=np.asarray(lon, dtype=np.float64),
        lat=np.asarray(lat, dtype=np.float64),
    )


def _stats(values: np.ndarray) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    out: dict[str, Any] = {
        "n": int(finite.size),
        "empty": int(values.size - finite.size),
    }
    if finite.size == 0:
        return out
    out["mean"] = float(finite.mean())
    out["std"] = float(finite.std(ddof=1)) if finite.size > 1 else None
    out["min"] = float(finite.min())
    out["max"] = float(finite.max())
    for q, v in zip(QUANTILES, np.quantile(finite, QUANTILES), strict=True):
        out[f"q{round(q * 100):02d}"] = float(v)
    return out


def summarize(
    measurements: EntropyMeasurements,
    bands: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    regions: Sequence[str | None] | None = None,
    region_name: str = "region",
) -> dict[str, Any]:
    """Build the report of :func:`measure`'s results.

    Args:
        measurements: Per-sample results.
        bands: Band names (default ``band0``, ``band1`` ...).
        settings: Parameters to record (bins, range, source ...).
        regions: Region-layer label of each measured sample; adds the shares and
            entropy of that layer.
        region_name: Name of the region layer.

    Returns:
        JSON-friendly report: ``spectral_entropy`` (overall statistics),
        ``per_stratum``, ``per_band``, ``continent_entropy_nats``,
        ``stratum_counts`` and ``region`` (when given).

    Raises:
        ValueError: If ``bands`` does not match the number of bands measured.
    """
    from ..geography import continent_of

    per_sample = measurements.per_sample
    channels = measurements.per_band.shape[1] if measurements.per_band.ndim == 2 else 0
    names = list(bands) if bands is not None else [f"band{i}" for i in range(channels)]
    if len(names) != channels:
        raise ValueError(
            f"bands has {len(names)} names but the images have {channels} bands"
        )
    report: dict[str, Any] = {
        "settings": dict(settings or {}),
        "num_samples": len(per_sample),
        "spectral_entropy": _stats(per_sample),
    }
    strata = pd.Series(measurements.strata, dtype=object)
    per_stratum = {}
    for name in sorted({s for s in strata if s is not None}):
        per_stratum[name] = _stats(per_sample[(strata == name).to_numpy()])
    report["per_stratum"] = per_stratum
    report["stratum_counts"] = {k: v["n"] + v["empty"] for k, v in per_stratum.items()}
    with np.errstate(invalid="ignore"):
        band_means = [
            float(np.nanmean(col)) if np.isfinite(col).any() else None
            for col in measurements.per_band.T
        ]
    report["per_band"] = dict(zip(names, band_means, strict=True))
    located = np.isfinite(measurements.lon) & np.isfinite(measurements.lat)
    if located.any():
        continents = [
            c
            for c in continent_of(measurements.lon[located], measurements.lat[located])
            if c is not None
        ]
        counts = pd.Series(continents, dtype=object).value_counts().sort_index()
        report["continent_counts"] = {str(k): int(v) for k, v in counts.items()}
        report["continent_entropy_nats"] = (
            categorical_entropy(counts.to_numpy()) if len(counts) else None
        )
    if regions is not None:
        labels = pd.Series(list(regions), dtype=object).dropna()
        counts = labels.value_counts().sort_index()
        report["region"] = {
            "name": region_name,
            "counts": {str(k): int(v) for k, v in counts.items()},
            "unassigned": int(len(regions) - len(labels)),
            "entropy_nats": categorical_entropy(counts.to_numpy())
            if len(counts)
            else None,
        }
    return report


def _fmt(value: Any) -> str:
    return (
        "-"
        if value is None
        else f"{value:.3f}"
        if isinstance(value, float)
        else str(value)
    )


def to_markdown(report: Mapping[str, Any]) -> str:
    """Render a report as Markdown tables.

    Args:
        report: Output of :func:`summarize`.

    Returns:
        Markdown text.
    """
    cols = [
        "n",
        "empty",
        "mean",
        "std",
        "min",
        *[f"q{round(q * 100):02d}" for q in QUANTILES],
        "max",
    ]
    lines = [
        "# Spectral entropy (nats)",
        "",
        "| stratum | " + " | ".join(cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    rows = {"all": report["spectral_entropy"], **report["per_stratum"]}
    for name, stats in rows.items():
        lines.append(
            f"| {name} | " + " | ".join(_fmt(stats.get(c)) for c in cols) + " |"
        )
    lines += ["", "| band | mean entropy |", "|---|---:|"]
    lines += [f"| {b} | {_fmt(v)} |" for b, v in report["per_band"].items()]
    lines.append("")
    if report.get("continent_entropy_nats") is not None:
        lines.append(f"Continent entropy: {report['continent_entropy_nats']:.3f} nats")
    region = report.get("region")
    if region and region.get("entropy_nats") is not None:
        lines.append(f"{region['name']} entropy: {region['entropy_nats']:.3f} nats")
    settings = report.get("settings", {})
    if settings:
        lines += ["", "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())]
    return "\n".join(lines) + "\n"


def write_report(
    report: Mapping[str, Any],
    measurements: EntropyMeasurements,
    out_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Write a report (atomically, file by file) into ``out_dir``.

    Files: ``diversity.json``, ``diversity.md``, ``per_sample.csv``,
    ``entropy_by_stratum.png`` and ``entropy_by_band.png``.

    Args:
        report: Output of :func:`summarize`.
        measurements: The per-sample results it was built from.
        out_dir: Output folder (created if missing).

    Returns:
        Kind -> written path.
    """
    out = Path(out_dir)
    per_sample = measurements.per_sample
    strata = np.asarray(measurements.strata, dtype=object)
    groups = {"all": per_sample}
    for name in report["per_stratum"]:
        groups[name] = per_sample[strata == name]
    bins = report.get("settings", {}).get("bins")
    paths = {
        "json": write_text(out / "diversity.json", json.dumps(report, indent=2) + "\n"),
        "markdown": write_text(out / "diversity.md", to_markdown(report)),
        "per_sample": write_text(
            out / "per_sample.csv", measurements.to_frame().to_csv(index=False)
        ),
        "by_stratum": plot_stratum_distributions(
            groups, out / "entropy_by_stratum.png"
        ),
        "by_band": plot_band_entropy(
            list(report["per_band"]),
            [math.nan if v is None else v for v in report["per_band"].values()],
            out / "entropy_by_band.png",
            max_entropy=math.log(bins) if bins else None,
        ),
    }
    return paths
