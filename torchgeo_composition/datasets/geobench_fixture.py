"""Tiny GEO-Bench v1 tasks written in the real on-disk layout (seeded).

:func:`make_geobench` writes, for each task, the folder GEO-Bench v1 ships:
one HDF5 file per sample (one dataset per band, named by the band's stored
name, plus ``label`` for segmentation), its metadata pickle in the file
attribute ``pickle`` as ``str(pickle.dumps(...))`` exactly as GEO-Bench v1.0
writes it (band-info objects under ``geobench.*`` module names, ``affine.Affine``
reduced to its six coefficients as affine 2.x did, ``rasterio.crs.CRS``, dates),
``default_partition.json`` and the few-shot ``{fraction}x_train_partition.json``,
``band_stats.json``, ``task_specs.pkl`` and, for classification,
``label_map.json``. Tasks keep their real bands, label kinds and georeferencing
(m-eurosat, m-bigearthnet, m-so2sat and m-chesapeake store none; m-eurosat keeps
its wrong stored names for channels 8-12). Pixel values encode the true band:
``1000 * code + noise`` with ``code`` the band's position in
:data:`~torchgeo_composition.bands.S2_BANDS` for Sentinel-2 bands, else its
position among the task's bands.

Example::

    python -c "from torchgeo_composition.datasets.geobench_fixture import make_geobench; make_geobench('geobench')"
"""

from __future__ import annotations

import copyreg
import datetime
import io
import json
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import affine
import h5py
import numpy as np
from pyproj import Transformer
from rasterio.crs import CRS

from ..bands import S2_BANDS
from .geobench_meta import EUROSAT_BAND_FIX
from .geobench_pickle import (
    BandInfo,
    Classification,
    CloudProbability,
    ElevationBand,
    GeoBenchObject,
    HyperSpectralBands,
    Landsat8,
    MultiLabelClassification,
    SegmentationClasses,
    Sentinel1,
    Sentinel2,
    SpectralBand,
    TaskSpecifications,
)
from .geobench_tasks import GEOBENCH_NUM_CLASSES, GEOBENCH_SEGMENTATION, GEOBENCH_TASKS

__all__ = ["FIXTURE_POINTS", "dump_geobench_pickle", "make_geobench"]

#: Sample centres as longitude and latitude pairs: two per inhabited continent.
FIXTURE_POINTS: tuple[tuple[float, float], ...] = (
    (10.0, 50.0),  # europe
    (25.0, 0.0),  # africa
    (100.0, 30.0),  # asia
    (-100.0, 40.0),  # north_america
    (-60.0, -10.0),  # south_america
    (135.0, -25.0),  # oceania
    (2.0, 47.0),
    (30.0, -20.0),
    (78.0, 22.0),
    (-90.0, 35.0),
    (-65.0, -30.0),
    (145.0, -30.0),
)

_S2_STORED = (
    ("01 - Coastal aerosol", 60, 0.443),
    ("02 - Blue", 10, 0.49),
    ("03 - Green", 10, 0.56),
    ("04 - Red", 10, 0.665),
    ("05 - Vegetation Red Edge", 20, 0.705),
    ("06 - Vegetation Red Edge", 20, 0.74),
    ("07 - Vegetation Red Edge", 20, 0.783),
    ("08 - NIR", 10, 0.842),
    ("08A - Vegetation Red Edge", 20, 0.865),
    ("09 - Water vapour", 60, 0.945),
    ("10 - SWIR - Cirrus", 60, 1.375),
    ("11 - SWIR", 20, 1.61),
    ("12 - SWIR", 20, 2.19),
)


def _s2(indices: Sequence[int]) -> list[BandInfo]:
    return [
        Sentinel2(name=n, alt_names=(), spatial_resolution=r, wavelength=w)
        for n, r, w in (_S2_STORED[i] for i in indices)
    ]


def _rgb(resolution: float) -> list[BandInfo]:
    return [
        SpectralBand(name=n, alt_names=(n.lower(),), spatial_resolution=resolution)
        for n in ("Red", "Green", "Blue")
    ]


def _task_bands(task: str) -> list[BandInfo]:
    """The band infos GEO-Bench v1 stores for ``task``, in file order."""
    no_cirrus = [i for i in range(13) if i != 10]
    cloud = CloudProbability(name="Cloud Probability", spatial_resolution=10)
    landsat = [("04 - Red", 0.6546), ("03 - Green", 0.5614), ("02 - Blue", 0.482)]
    landsat += [("05 - NIR", 0.8647), ("06 - SWIR1", 1.6089), ("07 - SWIR2", 2.2007)]
    s1 = ["VH.Real", "VH.Imaginary", "VV.Real", "VV.Imaginary", "VH.LEE Filtered"]
    s1 += ["VV.LEE Filtered", "VH.LEE Filtered.Real", "VV.LEE Filtered.Imaginary"]
    table: dict[str, list[BandInfo]] = {
        "m-eurosat": _s2(range(13)),
        "m-brick-kiln": _s2(range(13)),
        "m-bigearthnet": _s2([*range(10), 11, 12]),
        "m-so2sat": [
            Sentinel1(name=f"{i + 1:02d} - {n}", spatial_resolution=10)
            for i, n in enumerate(s1)
        ]
        + _s2([*range(1, 9), 11, 12]),
        "m-forestnet": [
            Landsat8(name=n, spatial_resolution=15, wavelength=w) for n, w in landsat
        ],
        "m-pv4ger": _rgb(0.1),
        "m-pv4ger-seg": _rgb(0.1),
        "m-nz-cattle": _rgb(0.1),
        "m-chesapeake": [
            *_rgb(1),
            SpectralBand(name="NearInfrared", alt_names=("nir",), spatial_resolution=1),
        ],
        "m-cashew-plant": [*_s2(no_cirrus), cloud],
        "m-SA-crop-type": [*_s2(no_cirrus), cloud],
        "m-NeonTree": [
            *_rgb(0.1),
            ElevationBand(name="Canopy Height Model", spatial_resolution=0.1),
            HyperSpectralBands(name="Neon", spatial_resolution=1, n_bands=369),
        ],
    }
    return table[task]


#: How each task stores its georeference: none, "EPSG:4326" text, a CRS object
#: in EPSG:4326, or a UTM CRS object.
_GEOREF = {
    "m-eurosat": "none",
    "m-bigearthnet": "none",
    "m-so2sat": "none",
    "m-chesapeake": "none",
    "m-brick-kiln": "text",
    "m-forestnet": "text",
    "m-pv4ger": "text",
    "m-pv4ger-seg": "text",
    "m-nz-cattle": "crs",
    "m-cashew-plant": "utm",
    "m-SA-crop-type": "utm",
    "m-NeonTree": "utm",
}

#: Tasks whose band datasets carry a date in their names.
_DATED = ("m-cashew-plant", "m-nz-cattle", "m-forestnet")


class _GeoBenchPickler(pickle._Pickler):
    """Writes pickles the way GEO-Bench v1.0 did (with affine 2.x and geobench)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, affine.Affine):  # affine 2.x: __new__ with 6 coefficients
            return (
                copyreg.__newobj__,  # type: ignore[attr-defined]
                (affine.Affine, *tuple(obj)[:6]),
                None,
            )
        return NotImplemented

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if isinstance(obj, type) and issubclass(obj, GeoBenchObject):
            self.save(obj.geobench_module)  # type: ignore[attr-defined]
            self.save(obj.__name__)  # type: ignore[attr-defined]
            self.write(pickle.STACK_GLOBAL)  # type: ignore[attr-defined]
            self.memoize(obj)  # type: ignore[attr-defined]
            return
        super().save_global(obj, name)  # type: ignore[misc]


def dump_geobench_pickle(obj: Any) -> bytes:
    """Pickle ``obj`` as GEO-Bench v1.0 did (protocol 4, geobench module names).

    Args:
        obj: The metadata (this package's stand-ins for GEO-Bench's classes).

    Returns:
        The pickle bytes.
    """
    buffer = io.BytesIO()
    _GeoBenchPickler(buffer, protocol=4).dump(obj)
    return buffer.getvalue()


def _georef(task: str, lon: float, lat: float, size: int) -> tuple[Any, Any]:
    kind = _GEOREF[task]
    if kind == "none":
        return None, None
    if kind in ("text", "crs"):
        res = 1e-4
        transform = affine.Affine(
            res, 0, lon - size / 2 * res, 0, -res, lat + size / 2 * res
        )
        return transform, ("EPSG:4326" if kind == "text" else CRS.from_epsg(4326))
    epsg = (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1
    x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(
        lon, lat
    )
    transform = affine.Affine(10, 0, x - size / 2 * 10, 0, -10, y + size / 2 * 10)
    return transform, CRS.from_epsg(epsg)


def _code(task: str, info: BandInfo, position: int) -> int:
    """The value code of a band: its true Sentinel-2 position, else its position."""
    if isinstance(info, Sentinel2):
        number = str(info.name).split(" - ")[0]
        true = EUROSAT_BAND_FIX.get(number) if task == "m-eurosat" else None
        name = true or ("B8A" if number == "08A" else f"B{int(number)}")
        return S2_BANDS.index(name)
    return position


def _stats(values: np.ndarray) -> dict[str, float]:
    q = np.percentile(values, [0.1, 1, 5, 50, 95, 99, 99.9])
    keys = ["percentile_0_1", "percentile_1", "percentile_5", "median"]
    keys += ["percentile_95", "percentile_99", "percentile_99_9"]
    out = {"min": float(values.min()), "max": float(values.max())}
    out |= {"mean": float(values.mean()), "std": float(values.std())}
    return out | {k: float(v) for k, v in zip(keys, q, strict=True)}


def _write_task(
    folder: Path, task: str, num_samples: int, size: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    infos = _task_bands(task)
    segmentation = task in GEOBENCH_SEGMENTATION
    n_classes = GEOBENCH_NUM_CLASSES[task]
    multilabel = task == "m-bigearthnet"
    folder.mkdir(parents=True, exist_ok=True)
    values: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[str]] = {f"class_{c}": [] for c in range(n_classes)}
    names = [f"id_{i:04d}" for i in range(num_samples)]
    for i, name in enumerate(names):
        lon, lat = FIXTURE_POINTS[i % len(FIXTURE_POINTS)]
        transform, crs = _georef(task, lon, lat, size)
        date = datetime.date(2020, 1 + i % 12, 15) if task in _DATED else None
        attrs: dict[str, Any] = {}
        order = []
        with h5py.File(folder / f"{name}.hdf5", "w") as f:
            for position, info in enumerate(infos):
                key = str(info.name) + (f"_{date:%Y-%m-%d}" if date else "")
                code = _code(task, info, position)
                if isinstance(info, HyperSpectralBands):
                    shape: tuple[int, ...] = (
                        size // 2,
                        size // 2,
                        int(info.n_bands or 1),
                    )
                else:
                    shape = (size, size)
                data = (1000 * code + rng.integers(0, 500, shape)).astype(np.int16)
                f.create_dataset(key, data=data)
                values.setdefault(str(info.name), []).append(data.ravel())
                attrs[key] = {
                    "date": date,
                    "date_id": date,
                    "spatial_resolution": info.spatial_resolution,
                    "band_info": info,
                    "meta_info": None,
                    "transform": transform,
                    "crs": crs,
                }
                order.append(key)
            klass = int(rng.integers(0, n_classes))
            if segmentation:
                mask = rng.integers(0, n_classes, (size, size)).astype(np.int16)
                f.create_dataset("label", data=mask)
                info = SegmentationClasses(
                    name="label", spatial_resolution=1, n_classes=n_classes
                )
                attrs["label"] = dict(attrs[order[0]], band_info=info)
                order.append("label")
            elif multilabel:
                hot = (rng.random(n_classes) < 0.2).astype(np.int64)
                hot[klass] = 1
                attrs["label"] = hot
            else:
                attrs["label"] = klass
                labels[f"class_{klass}"].append(name)
            attrs["bands_order"] = order
            f.attrs["pickle"] = str(dump_geobench_pickle(attrs))
    stats = {k: _stats(np.concatenate(v)) for k, v in values.items()}
    (folder / "band_stats.json").write_text(json.dumps(stats, indent=2))
    n_test = max(1, num_samples // 4)
    train, valid, test = (
        names[: num_samples - 2 * n_test],
        names[num_samples - 2 * n_test : num_samples - n_test],
        names[num_samples - n_test :],
    )
    for partition in (
        "default",
        "0.01x_train",
        "0.02x_train",
        "0.05x_train",
        "0.10x_train",
        "0.20x_train",
        "0.50x_train",
        "1.00x_train",
    ):
        share = 1.0 if partition == "default" else float(partition.split("x")[0])
        part = {"train": train[: max(1, round(share * len(train)))]}
        part |= {"valid": valid, "test": test}
        (folder / f"{partition}_partition.json").write_text(json.dumps(part, indent=2))
    if segmentation:
        label: Any = SegmentationClasses(name="label", n_classes=n_classes)
    elif multilabel:
        label = MultiLabelClassification(n_classes=n_classes)
    else:
        label = Classification(n_classes=n_classes)
        (folder / "label_map.json").write_text(json.dumps(labels, indent=2))
    specs = TaskSpecifications(
        dataset_name=task,
        benchmark_name=folder.parent.name,
        patch_size=(size, size),
        n_time_steps=1,
        bands_info=infos,
        label_type=label,
        spatial_resolution=infos[0].spatial_resolution,
    )
    (folder / "task_specs.pkl").write_bytes(dump_geobench_pickle(specs))


def make_geobench(
    root: str | os.PathLike[str],
    tasks: Sequence[str] | None = None,
    num_samples: int = 12,
    size: int = 16,
    seed: int = 0,
) -> Path:
    """Write tiny GEO-Bench v1 tasks under ``root``.

    Classification tasks go to ``root/classification_v1.0/<task>``, segmentation
    tasks to ``root/segmentation_v1.0/<task>``, as in a GEO-Bench download.
    Half of the samples train, a quarter validates, a quarter tests.

    Args:
        root: The folder to write.
        tasks: Task names (default: all of
            :data:`~torchgeo_composition.datasets.geobench_tasks.GEOBENCH_TASKS`).
        num_samples: Samples per task (>= 4).
        size: Image height and width in pixels.
        seed: Seed of the pixel values and labels.

    Returns:
        ``root``.

    Raises:
        ValueError: For an unknown task or fewer than 4 samples.
    """
    chosen = list(tasks) if tasks is not None else list(GEOBENCH_TASKS)
    for task in chosen:
        if task not in GEOBENCH_TASKS:
            raise ValueError(
                f"task {task!r} is not a GEO-Bench v1 task; valid choices are "
                f"{list(GEOBENCH_TASKS)}"
            )
    if num_samples < 4:
        raise ValueError(f"num_samples must be >= 4, got {num_samples}")
    base = Path(root)
    for k, task in enumerate(chosen):
        kind = "segmentation" if task in GEOBENCH_SEGMENTATION else "classification"
        _write_task(base / f"{kind}_v1.0" / task, task, num_samples, size, seed + k)
    return base
