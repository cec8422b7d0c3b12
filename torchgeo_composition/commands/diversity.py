r"""``torchgeo-composition diversity``: diversity report of a pretraining set.

Measures every sample of a pretraining set or downstream split (any datamodule:
ours, TorchGeo's such as ``EuroSATDataModule``, GEO-Bench, FMoW-Sentinel; or a
pool with an optional manifest), or a seeded subset, with the configured measures (spectral
entropy by default) and writes ``diversity.json``, ``diversity.md``,
``per_sample.csv`` (with ``sample_id``) and two figures. Pixels that are NaN
or equal to ``--nodata`` (default: the pool's ``fill_value``, the value a
:class:`~torchgeo_composition.datasets.ChipFolder` gives missing pixels) are left
out; a sample without any valid pixel is counted as ``empty``, not measured::

    torchgeo-composition diversity --fit_config configs/quickstart.yaml --out_dir report
    torchgeo-composition diversity --data torchgeo.datamodules.EuroSATDataModule \
        --data.dict_kwargs.root data/eurosat --split test --out_dir report
    torchgeo-composition diversity --pool SyntheticSentinel2Pool \
        --pool.root demo_output/pool --manifest_path europe.parquet --out_dir report
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch import LightningDataModule

from ..datamodules.entropy_index import build_entropy_index, entropy_index_path
from ..datamodules.pool_source import PoolSource
from ..datamodules.split_source import SplitSource
from ..datasets import PoolDataset
from ..diversity import (
    DEFAULT_RECIPE,
    MEASURES,
    DiversityMeasure,
    PredictSource,
    SpectralEntropy,
    composition_recipe,
    diversity_report,
    get_recipe,
    to_markdown,
)
from ..geography import RegionLayer
from ..sampling import read_manifest
from .common import command_parser, run_command

__all__ = ["build_parser", "diversity", "main"]

PROG = "torchgeo-composition diversity"


def diversity(
    data: LightningDataModule | None = None,
    pool: PoolDataset | None = None,
    manifest_path: str | None = None,
    out_dir: str = "diversity_report",
    bins: int = 32,
    value_range: tuple[float, float] = (0.0, 1.0),
    measures: list[DiversityMeasure] | None = None,
    bands: list[str] | None = None,
    normalization: Literal["satmae", "none"] = "satmae",
    num_samples: int | None = None,
    seed: int = 0,
    layer: RegionLayer | None = None,
    batch_size: int = 32,
    num_workers: int = 0,
    device: str = "cpu",
    nodata: float | Literal["pool"] | None = "pool",
    entropy_recipe: str | None = None,
    index: bool = False,
    split: Literal["predict", "train", "val", "test"] | None = None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Measure a pretraining set and write its diversity report.

    Give either ``data`` (any datamodule; the images of its ``split`` are
    measured after the datamodule's evaluation transform ``aug``: its
    normalisation and resize, as the model sees them; the band names come from
    its or its dataset's ``bands`` attribute, or from ``bands``) or
    ``pool`` (all its samples, or those of ``manifest_path``; the images are
    normalised with ``normalization``). The work is
    :func:`~torchgeo_composition.diversity.diversity_report`'s.

    Args:
        data: A datamodule (ours, TorchGeo's, ...) whose ``split`` is measured.
        pool: A pool; used when ``data`` is not given.
        manifest_path: Manifest of ``pool`` to measure (default: the whole pool).
        out_dir: Output folder.
        bins: Histogram bins per band of the default measure (spectral entropy).
        value_range: Histogram range of the normalised values, for the default
            measure.
        measures: The measures, first one the headline; ``None`` = spectral
            entropy with ``bins`` and ``value_range``.
        bands: Bands of ``pool`` to measure (default SatMAE's 10 when
            present); for ``data``, the names of its channels in order, needed
            only when neither the datamodule nor its dataset has a ``bands``
            attribute (they must agree when both are given).
        normalization: ``satmae`` (FMoW-Sentinel statistics) or ``none``, for
            ``pool`` only.
        num_samples: Measure a seeded random subset of this many samples.
        seed: Seed of the subset.
        layer: Region layer whose shares and entropy are added to the report
            (for ``pool`` without manifest it also defines the strata).
        batch_size: Samples per batch.
        num_workers: DataLoader worker processes.
        device: Device to compute on (``cpu``, ``cuda`` ...).
        nodata: Pixel value, as the pool delivers it, that marks a missing
            pixel; ``"pool"`` takes the pool's ``fill_value`` (the value
            :class:`~torchgeo_composition.datasets.ChipFolder` gives nodata, NaN
            and infinite pixels) when it has one; ``None``: only NaN pixels are
            missing. Samples without any valid pixel are counted as ``empty``.
        entropy_recipe: Entropy recipe (``default`` or ``olmoearth``, see
            :mod:`~torchgeo_composition.diversity.recipes`) of the spectral
            entropy, which then sets ``bins``, ``value_range`` and
            ``normalization``; ``None`` = ``default`` with those arguments.
        index: Build (or reuse) the pool entropy index of ``pool`` instead of a
            report: the spectral entropy of every sample, stored beside the
            pool's index (see
            :mod:`~torchgeo_composition.datamodules.entropy_index`).
        split: Split of ``data`` to measure (``predict``, ``train``, ``val``,
            ``test``); ``None``: the predict set when the datamodule builds one
            (our pretraining datamodules: the selection), else ``train``.

    Returns:
        The report and the written paths.

    Raises:
        ValueError: If neither or both of ``data`` and ``pool`` are given, or an
            argument is invalid.
        FileNotFoundError: If ``manifest_path`` does not exist.
    """
    if index:
        return _entropy_index(pool, entropy_recipe, batch_size, num_workers, bands)
    if entropy_recipe is not None:
        if measures is not None or bins != 32 or tuple(value_range) != (0.0, 1.0):
            raise ValueError(
                f"entropy_recipe={entropy_recipe!r} sets bins and value_range of "
                "the spectral entropy; leave bins, value_range and measures unset"
            )
        measures = [SpectralEntropy(recipe=entropy_recipe)]
        normalization = get_recipe(entropy_recipe).normalization
    if (data is None) == (pool is None):
        raise ValueError(
            "give exactly one of data (a datamodule) or pool; got "
            f"data={type(data).__name__}, pool={type(pool).__name__}"
        )
    if data is None and split is not None:
        raise ValueError(f"split={split!r} is for data (a datamodule), not pool")
    if data is not None and manifest_path is not None:
        raise ValueError(
            "manifest_path is for pool; a datamodule uses its own manifest_path"
        )
    if measures is not None and (bins != 32 or tuple(value_range) != (0.0, 1.0)):
        raise ValueError(
            "bins and value_range configure the default measure; with measures, "
            "set them in the measures' own arguments"
        )
    if measures is None:
        measures = [SpectralEntropy(bins, (value_range[0], value_range[1]))]
    source: PredictSource
    settings: dict[str, Any]
    if pool is not None:
        recipe = None if manifest_path is None else _summary(manifest_path)
        source = PoolSource(pool, manifest_path, layer, bands, normalization)
        name = type(pool).__name__ + (f" + {manifest_path}" if manifest_path else "")
        settings = {"source": name, "normalization": normalization}
        if recipe is not None:
            settings["recipe"] = composition_recipe(recipe)
    else:
        assert data is not None
        source = SplitSource(data, split, bands)
        settings = {"source": type(data).__name__, "normalization": "datamodule"}
        if split is not None:
            settings["split"] = split
    missing = _nodata(nodata, pool if pool is not None else getattr(data, "pool", None))
    settings["nodata"] = missing
    return diversity_report(
        source,
        out_dir=out_dir,
        measures=measures,
        num_samples=num_samples,
        seed=seed,
        layer=layer,
        batch_size=batch_size,
        num_workers=num_workers,
        device=device,
        settings=settings,
        nodata=missing,
    )


def _entropy_index(
    pool: PoolDataset | None,
    recipe: str | None,
    batch_size: int,
    num_workers: int,
    bands: list[str] | None,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Build (or reuse) the pool entropy index; return its summary and path."""
    if pool is None:
        raise ValueError(
            "index builds the entropy index of a pool; give --pool (and its "
            "--pool.root)"
        )
    name = recipe or DEFAULT_RECIPE
    frame = build_entropy_index(
        pool, name, batch_size=batch_size, num_workers=num_workers, bands=bands
    )
    values = frame["spectral_entropy"].to_numpy(dtype=float)
    summary = {
        "entropy_index": {
            "recipe": name,
            "samples": len(frame),
            "empty": int(frame["is_empty"].sum()),
            "mean": float(np.nanmean(values)) if len(values) else math.nan,
        }
    }
    return summary, {"index": entropy_index_path(pool, name)}


def _nodata(nodata: float | str | None, pool: Any) -> float | None:
    """The nodata value: given, or the pool's ``fill_value`` for ``"pool"``."""
    if nodata != "pool":
        if nodata is not None and not math.isfinite(float(nodata)):
            raise ValueError(
                f"nodata={nodata!r} must be a finite number, 'pool' or null (NaN "
                "pixels are always missing)"
            )
        return None if nodata is None else float(nodata)
    fill = getattr(pool, "fill_value", None)
    return float(fill) if isinstance(fill, int | float) else None


def _summary(manifest_path: str) -> dict[str, Any]:
    """Read (and so check) the manifest; return its summary."""
    if not Path(manifest_path).is_file():
        raise FileNotFoundError(
            f"manifest_path={manifest_path!r} does not exist; give a manifest "
            "written by compose"
        )
    try:
        _, summary = read_manifest(manifest_path)
    except (OSError, ValueError) as err:
        raise ValueError(f"manifest_path={manifest_path!r}: {err}") from err
    return dict(summary)


def _fit_config(parser: ArgumentParser, cfg: Namespace) -> Namespace:
    """Merge the ``data`` section of ``--fit_config`` into the parsed config."""
    if cfg.fit_config is None:
        return cfg
    path = Path(cfg.fit_config)
    if not path.is_file():
        raise FileNotFoundError(f"fit_config {str(path)!r} does not exist")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        detail = " ".join(str(err).split())
        raise ValueError(
            f"fit_config {str(path)!r} is not valid YAML: {detail}"
        ) from err
    node = loaded.get("data") if isinstance(loaded, dict) else None
    if node is None:
        raise ValueError(f"fit_config {str(path)!r} has no 'data' section")
    merged: Namespace = parser.parse_object({"data": node}, cfg)
    return merged


def build_parser() -> ArgumentParser:
    """Return the command's argument parser.

    Returns:
        A jsonargparse parser taking ``--config``, ``--fit_config`` and
        :func:`diversity`'s arguments.
    """
    parser = command_parser(
        PROG,
        "Diversity report of a pretraining set (datamodule, or pool + manifest): "
        "JSON, Markdown table and plots.",
        diversity,
    )
    parser.add_argument(
        "--fit_config",
        type=str | None,
        default=None,
        help="a 'fit' config: its 'data' section is measured",
    )
    return parser


def _show(result: tuple[dict[str, Any], dict[str, Path]]) -> None:
    report, paths = result
    if "entropy_index" in report:
        info = report["entropy_index"]
        print(
            f"entropy index ({info['recipe']}): {info['samples']} samples, "
            f"{info['empty']} without valid pixels, mean {info['mean']:.4f} nats"
        )
    else:
        print(to_markdown(report), end="")
    for kind, path in paths.items():
        print(f"{kind + ':':<12}{path}")


def main(argv: Sequence[str]) -> int:
    """Run ``torchgeo-composition diversity``.

    Args:
        argv: Command-line arguments after ``diversity``.

    Returns:
        0 on success, 2 when the inputs are invalid (the error is printed).
    """
    return run_command(
        build_parser(),
        diversity,
        _bare_index(argv),
        _show,
        prepare=_fit_config,
        outputs={"out_dir": "diversity.json"},
        hints={"measures": _measures_hint()},
    )


def _bare_index(argv: Sequence[str]) -> list[str]:
    """Read a bare ``--index`` (no value after it) as ``--index true``."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--index" and (i + 1 == len(out) or out[i + 1].startswith("--")):
            out.insert(i + 1, "true")
            break
    return out


def _measures_hint() -> str:
    known = ", ".join(f"{cls.__name__} ({name})" for name, cls in MEASURES.items())
    return (
        "measures is a list of measure classes, e.g. "
        "[{class_path: SpectralEntropy, init_args: {bins: 32}}]; registered: "
        f"{known}"
    )
