"""Diversity report of a pretraining set: every measure overall, per stratum and band.

:func:`diversity_report` is the whole report in one call: it measures the predict
set of a datamodule-like source (:class:`PredictSource`) with the configured
measures, summarises and writes it. Its parts: :func:`measure` (in
:mod:`~torchgeo_composition.diversity.measurements`) reads a dataset through
DataLoader workers; :func:`summarize` turns the measurements into a JSON-friendly
report (with the continent and region-layer entropy of the measured samples);
:func:`write_report` writes it as JSON, Markdown, a per-sample CSV and two figures.

The first measure is the report's headline: its statistics per stratum and per
band (``per_stratum``, ``per_band``) and its figures; every measure ``name`` has
its overall statistics under ``report[name]`` and a per-sample column.

Samples without any valid pixel (all NaN or nodata) are *empty*: they get no
value, are counted under ``empty`` in every statistic, and the report lists
them (``empty_samples``: count and first sample ids; ``per_sample.csv`` has a
``sample_id`` and an ``empty`` column).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from torch import Tensor
from torch.utils.data import Dataset

from ..files import ensure_writable_dir, write_text
from ..geography import RegionLayer, continent_of
from .entropy import categorical_entropy
from .markdown import QUANTILES, to_markdown
from .measure import DiversityMeasure
from .measurements import EntropyMeasurements, Measurements, check_device, measure
from .plots import plot_band_entropy, plot_stratum_distributions

__all__ = [
    "MAX_LISTED_EMPTY",
    "QUANTILES",
    "RECIPE_KEYS",
    "EntropyMeasurements",
    "Measurements",
    "PredictSource",
    "composition_recipe",
    "diversity_report",
    "measure",
    "summarize",
    "to_markdown",
    "write_report",
]

#: Sample ids of empty samples listed in a report (all are in ``per_sample.csv``).
MAX_LISTED_EMPTY = 20


class PredictSource(Protocol):
    """A datamodule-like source of samples to measure (e.g. a TorchGeo datamodule).

    ``setup("predict")`` builds :attr:`predict_dataset` (sample dicts with
    ``image`` and optionally ``lon``, ``lat`` and ``continent``); :attr:`aug`
    transforms a batch dict on the device as the model would see it.
    """

    @property
    def bands(self) -> Sequence[str]:
        """Band names, in channel order."""
        ...

    @property
    def predict_dataset(self) -> Dataset[dict[str, Any]] | None:
        """The samples to measure (after ``setup("predict")``)."""
        ...

    @property
    def aug(self) -> Callable[[dict[str, Tensor]], dict[str, Tensor]]:
        """The evaluation transform of a batch dict."""
        ...

    def setup(self, stage: str) -> None:
        """Build the datasets of ``stage``."""
        ...


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


def _shares(labels: Sequence[str | None]) -> tuple[dict[str, int], float | None]:
    counts = pd.Series(list(labels), dtype=object).dropna().value_counts()
    counts = counts.sort_index()
    entropy = categorical_entropy(counts.to_numpy()) if len(counts) else None
    return {str(k): int(v) for k, v in counts.items()}, entropy


def summarize(
    measurements: Measurements,
    bands: Sequence[str] | None = None,
    settings: Mapping[str, Any] | None = None,
    regions: Sequence[str | None] | None = None,
    region_name: str = "region",
) -> dict[str, Any]:
    """Build the report of :func:`measure`'s results.

    Args:
        measurements: Per-sample results.
        bands: Band names (default ``band0``, ``band1`` ...).
        settings: Parameters to record (source, subset ...).
        regions: Region-layer label of each measured sample; adds the shares and
            entropy of that layer.
        region_name: Name of the region layer.

    Returns:
        JSON-friendly report: ``settings``, ``num_samples``, ``measures`` (name
        -> label and parameters), ``empty_samples`` (``count``, the first
        ``sample_ids``, ``nodata``), one entry of overall statistics per measure
        name, the headline measure's ``per_stratum`` and ``per_band``,
        ``stratum_counts``, ``continent_counts`` and ``continent_entropy_nats``,
        and ``region`` (when given).

    Raises:
        ValueError: If ``bands`` does not match the number of bands measured.
    """
    head = measurements.measures[0].name
    banded = measurements.per_band.get(head)
    channels = 0 if banded is None else banded.shape[1]
    names = list(bands) if bands is not None else [f"band{i}" for i in range(channels)]
    if banded is not None and len(names) != channels:
        raise ValueError(
            f"bands has {len(names)} names but the images have {channels} bands"
        )
    report: dict[str, Any] = {
        "settings": dict(settings or {}),
        "num_samples": len(measurements.positions),
        "measures": {
            m.name: {"label": m.label, **m.settings} for m in measurements.measures
        },
    }
    listed = measurements.empty_ids
    report["empty_samples"] = {
        "count": len(listed),
        "sample_ids": listed[:MAX_LISTED_EMPTY],
        "nodata": measurements.nodata,
    }
    for m in measurements.measures:
        report[m.name] = _stats(measurements.values[m.name])
    strata = pd.Series(measurements.strata, dtype=object)
    values = measurements.values[head]
    report["per_stratum"] = {
        name: _stats(values[(strata == name).to_numpy()])
        for name in sorted({s for s in strata if s is not None})
    }
    report["stratum_counts"] = {
        k: v["n"] + v["empty"] for k, v in report["per_stratum"].items()
    }
    report["per_band"] = {}
    if banded is not None:
        with np.errstate(invalid="ignore"):
            report["per_band"] = {
                name: float(np.nanmean(col)) if np.isfinite(col).any() else None
                for name, col in zip(names, banded.T, strict=True)
            }
    located = np.isfinite(measurements.lon) & np.isfinite(measurements.lat)
    if located.any():
        continents = continent_of(measurements.lon[located], measurements.lat[located])
        counts, entropy = _shares(list(continents))
        report["continent_counts"] = counts
        report["continent_entropy_nats"] = entropy
    if regions is not None:
        counts, entropy = _shares(regions)
        report["region"] = {
            "name": region_name,
            "counts": counts,
            "unassigned": int(len(regions) - sum(counts.values())),
            "entropy_nats": entropy,
        }
    return report


def write_report(
    report: Mapping[str, Any],
    measurements: Measurements,
    out_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Write a report (atomically, file by file) into ``out_dir``.

    Files: ``diversity.json``, ``diversity.md``, ``per_sample.csv`` and, for the
    headline measure (file stem ``s``, e.g. ``entropy``), ``s_by_stratum.png`` and,
    when band-resolved, ``s_by_band.png``.

    Args:
        report: Output of :func:`summarize`.
        measurements: The per-sample results it was built from.
        out_dir: Output folder (created if missing).

    Returns:
        Kind -> written path.
    """
    out = Path(out_dir)
    head: DiversityMeasure = measurements.measures[0]
    stem = head.stem or head.name
    values = measurements.values[head.name]
    strata = np.asarray(measurements.strata, dtype=object)
    groups = {"all": values} | {s: values[strata == s] for s in report["per_stratum"]}
    paths = {
        "json": write_text(out / "diversity.json", json.dumps(report, indent=2) + "\n"),
        "markdown": write_text(out / "diversity.md", to_markdown(report)),
        "per_sample": write_text(
            out / "per_sample.csv", measurements.to_frame().to_csv(index=False)
        ),
        "by_stratum": plot_stratum_distributions(
            groups,
            out / f"{stem}_by_stratum.png",
            ylabel=f"per-sample {head.label or head.name}",
        ),
    }
    if report["per_band"]:
        paths["by_band"] = plot_band_entropy(
            list(report["per_band"]),
            [math.nan if v is None else v for v in report["per_band"].values()],
            out / f"{stem}_by_band.png",
            max_entropy=head.upper_bound,
            ylabel=f"mean {head.label or head.name}",
        )
    return paths


#: Keys of a manifest summary that identify how the measured set was drawn.
RECIPE_KEYS = ("composition", "num_samples", "seed", "on_shortfall", "manifest_sha256")


def composition_recipe(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return the recipe of a composed set: how its manifest was drawn.

    Args:
        summary: A manifest summary (see
            :func:`~torchgeo_composition.sampling.write_manifest`).

    Returns:
        Its :data:`RECIPE_KEYS` that are present; ``composition`` is reduced to
        its name when it has one.
    """
    recipe = {k: summary[k] for k in RECIPE_KEYS if k in summary}
    composition = recipe.get("composition")
    if isinstance(composition, Mapping) and composition.get("name"):
        recipe["composition"] = composition["name"]
    return recipe


def diversity_report(
    data: PredictSource,
    out_dir: str | os.PathLike[str] = "diversity_report",
    measures: Sequence[DiversityMeasure] | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    layer: RegionLayer | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str = "cpu",
    settings: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    nodata: float | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Measure the predict set of a source with every measure and write the report.

    The images are measured after the source's evaluation transform (``aug``:
    its normalisation and resize, as the model sees them); pixels that are NaN or
    ``nodata`` before it are missing, and samples without a valid pixel are
    empty (see :func:`measure`). ``out_dir`` is checked to be writable first.

    Args:
        data: A datamodule (or another :class:`PredictSource`).
        out_dir: Output folder.
        measures: The measures, with distinct names; ``None`` takes
            :class:`~torchgeo_composition.diversity.SpectralEntropy` with its
            defaults. The first one is the headline.
        num_samples: Measure a seeded random subset of this many samples.
        seed: Seed of the subset.
        layer: Region layer whose shares and entropy are added to the report.
        batch_size: Samples per batch.
        num_workers: DataLoader worker processes.
        device: Device to compute on (``cpu``, ``cuda`` ...).
        settings: Extra parameters to record in the report's ``settings``.
        progress: Show a progress bar; ``None`` shows it on a terminal only.
        nodata: Pixel value, as the source delivers it, that marks a missing
            pixel (e.g. the pool's fill value); ``None``: NaN only.

    Returns:
        The report (see :func:`summarize`) and the written paths.

    Raises:
        ValueError: If the source has no samples or an argument is invalid.
        PermissionError: If ``out_dir`` cannot be written.
        NotADirectoryError: If ``out_dir`` is (or lies under) a file.
    """
    check_device(device)
    ensure_writable_dir(Path(out_dir) / "diversity.json", "out_dir")
    data.setup("predict")
    dataset = data.predict_dataset
    if dataset is None:
        raise ValueError(f"{type(data).__name__} set up no samples to measure")
    aug = data.aug

    def transform(images: Tensor) -> Tensor:
        return aug({"image": images})["image"]

    measurements = measure(
        dataset,
        transform=transform,
        num_samples=num_samples,
        seed=seed,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        progress=progress,
        measures=measures,
        nodata=nodata,
    )
    pool = getattr(data, "pool", None)
    source = type(data).__name__ + (f"({type(pool).__name__})" if pool else "")
    recorded: dict[str, Any] = {
        "source": source,
        "num_samples": num_samples,
        "seed": seed,
    }
    summary = getattr(data, "summary", None)
    if isinstance(summary, Mapping):
        recorded["recipe"] = composition_recipe(summary)
    report = summarize(
        measurements,
        bands=list(data.bands),
        settings=recorded | dict(settings or {}),
        regions=None
        if layer is None
        else list(layer.assign(measurements.lon, measurements.lat)),
        region_name=layer.name if layer is not None else "region",
    )
    return report, write_report(report, measurements, out_dir)
