r"""``torchgeo-composition diversity``: spectral-entropy report of a pretraining set.

Measures the per-sample spectral entropy of a pretraining set (a datamodule, or a
pool with an optional manifest), over all samples or a seeded subset, and writes
``diversity.json``, ``diversity.md``, ``per_sample.csv`` and two figures::

    torchgeo-composition diversity --fit_config configs/quickstart.yaml --out_dir report
    torchgeo-composition diversity --pool SyntheticSentinel2Pool \\
        --pool.root demo_output/pool --manifest_path europe.parquet --out_dir report
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser  # type: ignore[attr-defined]
from torch import Tensor
from torch.utils.data import Dataset

from ..bands import FMOW_MEAN, FMOW_STD, SATMAE_BANDS, band_indices, canonical_band
from ..datamodules import (
    ContinentStratifiedDataModule,
    ManifestDataset,
    SatMAENormalize,
    stratified_index,
)
from ..datasets import PoolDataset
from ..diversity.report import measure, summarize, to_markdown, write_report
from ..geography import RegionLayer
from ..sampling import read_manifest

__all__ = ["build_parser", "diversity", "main"]

PROG = "torchgeo-composition diversity"


def _pool_source(
    pool: PoolDataset,
    manifest_path: str | None,
    regions: RegionLayer | None,
    bands: list[str] | None,
    normalization: str,
) -> tuple[Dataset[dict[str, Any]], Callable[[Tensor], Tensor] | None, list[str]]:
    """Dataset, image transform and band names for a pool (+ manifest)."""
    if bands is None:
        available = {canonical_band(b) for b in pool.bands}
        satmae = all(b in available for b in SATMAE_BANDS)
        bands = list(SATMAE_BANDS) if satmae else list(pool.bands)
    channels = band_indices(pool.bands, bands)
    if manifest_path is not None:
        if not Path(manifest_path).is_file():
            raise FileNotFoundError(f"manifest_path {manifest_path!r} does not exist")
        manifest, _ = read_manifest(manifest_path)
        positions = pool.positions(manifest["sample_id"].tolist())
        strata = manifest["stratum"].tolist()
    else:
        index = stratified_index(pool, regions)
        positions = list(range(len(index)))
        strata = index["stratum"].tolist()
    labels = ["unassigned" if s is None or s != s else str(s) for s in strata]
    dataset = ManifestDataset(pool, positions, labels, channels)
    transform: Callable[[Tensor], Tensor] | None = None
    if normalization == "satmae":
        missing = [b for b in bands if canonical_band(b) not in FMOW_MEAN]
        if missing:
            raise ValueError(
                f"normalization='satmae' needs FMoW-Sentinel statistics, which do not "
                f"exist for bands {missing}; use normalization='none' or other bands"
            )
        norm = SatMAENormalize(
            [FMOW_MEAN[canonical_band(b)] for b in bands],
            [FMOW_STD[canonical_band(b)] for b in bands],
        )
        transform = norm
    return dataset, transform, list(bands)


def diversity(
    data: ContinentStratifiedDataModule | None = None,
    pool: PoolDataset | None = None,
    manifest_path: str | None = None,
    out_dir: str = "diversity_report",
    bins: int = 32,
    value_range: tuple[float, float] = (0.0, 1.0),
    bands: list[str] | None = None,
    normalization: Literal["satmae", "none"] = "satmae",
    num_samples: int | None = None,
    seed: int = 0,
    regions: RegionLayer | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str = "cpu",
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Measure the spectral entropy of a pretraining set and write the report.

    Give either ``data`` (the images are measured after the datamodule's
    evaluation transform: its normalisation and resize, as the model sees them) or
    ``pool`` (all its samples, or those of ``manifest_path``; the images are
    normalised with ``normalization``).

    Args:
        data: A datamodule whose selection (manifest) is measured.
        pool: A pool; used when ``data`` is not given.
        manifest_path: Manifest of ``pool`` to measure (default: the whole pool).
        out_dir: Output folder.
        bins: Histogram bins per band.
        value_range: Histogram range of the normalised values.
        bands: Bands of ``pool`` to measure (default SatMAE's 10 when present).
        normalization: ``satmae`` (FMoW-Sentinel statistics) or ``none``, for
            ``pool`` only.
        num_samples: Measure a seeded random subset of this many samples.
        seed: Seed of the subset.
        regions: Region layer whose shares and entropy are added to the report
            (for ``pool`` without manifest it also defines the strata).
        batch_size: Samples per batch.
        num_workers: DataLoader worker processes.
        device: Device to compute on (``cpu``, ``cuda`` ...).

    Returns:
        The report and the written paths.

    Raises:
        ValueError: If neither or both of ``data`` and ``pool`` are given, or an
            argument is invalid.
        FileNotFoundError: If ``manifest_path`` does not exist.
    """
    if (data is None) == (pool is None):
        raise ValueError(
            "give exactly one of data (a datamodule) or pool; got "
            f"data={type(data).__name__}, pool={type(pool).__name__}"
        )
    if data is not None:
        if manifest_path is not None:
            raise ValueError(
                "manifest_path is for pool; a datamodule uses its own manifest_path"
            )
        data.setup("predict")
        if data.predict_dataset is None:
            raise ValueError(f"{type(data).__name__} set up no samples to measure")
        dataset: Dataset[dict[str, Any]] = data.predict_dataset
        band_names = list(data.bands)

        def transform(images: Tensor) -> Tensor:
            return data.transform({"image": images})["image"]

        source = f"{type(data).__name__}({type(data.pool).__name__})"
    else:
        assert pool is not None
        dataset, transform, band_names = _pool_source(  # type: ignore[assignment]
            pool, manifest_path, regions, bands, normalization
        )
        source = f"{type(pool).__name__}" + (
            f" + {manifest_path}" if manifest_path else ""
        )
    measurements = measure(
        dataset,
        bins=bins,
        value_range=tuple(value_range),  # type: ignore[arg-type]
        transform=transform,
        num_samples=num_samples,
        seed=seed,
        batch_size=batch_size,
        num_workers=num_workers,
        device=torch.device(device),
    )
    region_labels = None
    if regions is not None:
        region_labels = list(regions.assign(measurements.lon, measurements.lat))
    settings = {
        "source": source,
        "bins": bins,
        "value_range": list(value_range),
        "num_samples": num_samples,
        "seed": seed,
        "normalization": "datamodule" if data is not None else normalization,
    }
    report = summarize(
        measurements,
        bands=band_names,
        settings=settings,
        regions=region_labels,
        region_name=regions.name if regions is not None else "region",
    )
    return report, write_report(report, measurements, out_dir)


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config``, ``--fit_config`` and
        :func:`diversity`'s arguments.
    """
    parser = ArgumentParser(
        prog=PROG,
        description=(
            "Spectral-entropy report of a pretraining set (datamodule, or pool + "
            "manifest): JSON, Markdown table and plots."
        ),
        exit_on_error=True,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config file")
    parser.add_argument(
        "--fit_config",
        type=str | None,
        default=None,
        help="a 'fit' config: its 'data' section is measured",
    )
    parser.add_function_arguments(diversity, fail_untyped=True)
    return parser


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition diversity``.

    Args:
        argv: Command-line arguments after ``diversity``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    parser = build_parser()
    cfg = parser.parse_args(list(argv))
    try:
        if cfg.fit_config is not None:
            path = Path(cfg.fit_config)
            if not path.is_file():
                raise FileNotFoundError(f"fit_config {str(path)!r} does not exist")
            node = (yaml.safe_load(path.read_text()) or {}).get("data")
            if node is None:
                raise ValueError(f"fit_config {str(path)!r} has no 'data' section")
            cfg = parser.parse_object({"data": node}, cfg)
        # ``instantiate`` replaces ``instantiate_classes`` in jsonargparse >= 4.49.
        instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
        init = instantiate(cfg)
        kwargs = {
            k: v for k, v in vars(init).items() if k not in ("config", "fit_config")
        }
        report, paths = diversity(**kwargs)
    except (ValueError, FileNotFoundError, PermissionError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    print(to_markdown(report), end="")
    for kind, path in paths.items():
        print(f"{kind + ':':<12}{path}")
    return 0
