"""GEO-Bench v1 tasks read from their on-disk layout with h5py.

A task folder (e.g. ``classification_v1.0/m-eurosat``) holds one HDF5 file per
sample (one dataset per band, the metadata pickle in the file attribute
``pickle``), ``{partition}_partition.json`` (``train`` / ``valid`` / ``test``
lists of sample names), ``band_stats.json`` (per band ``mean``, ``std``, ...)
and usually ``task_specs.pkl``. Metadata pickles are read with
:class:`~torchgeo_composition.datasets.geobench_pickle.GeoBenchUnpickler`, never
with an unrestricted unpickler.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torchgeo.datasets import NonGeoDataset

from ..geography import continent_of
from .geobench_meta import (
    SampleMeta,
    as_label,
    decode_pickle_attribute,
    order_bands,
    sample_meta,
)
from .geobench_pickle import TaskSpecifications, load_pickle
from .geobench_tasks import (
    GEOBENCH_NUM_CLASSES,
    GEOBENCH_PARTITIONS,
    GEOBENCH_SEGMENTATION,
    GEOBENCH_SPLITS,
    GEOBENCH_TASKS,
    find_task_folder,
    read_json,
)

__all__ = ["GEOBENCH_TASKS", "GeoBenchDataset"]


class GeoBenchDataset(NonGeoDataset):
    """One split of a GEO-Bench v1 task.

    Samples hold ``image`` (C, H, W) float32 in the order of :attr:`bands`,
    ``label`` (classification: an integer, or a multi-hot vector for
    m-bigearthnet) or ``mask`` (segmentation, (H, W) int64), ``lon`` and ``lat``
    of the image centre (NaN where the task stores no geotransform, as
    m-eurosat, m-bigearthnet and m-so2sat) and ``continent`` (``""`` without a
    location). Bands of different sizes are resized (nearest) to the largest.

    The metadata of every sample of the split is read once when the dataset is
    built (:meth:`index`); reading a sample then reads its band datasets only.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        task: str = "m-eurosat",
        partition: str = "default",
        split: Literal["train", "valid", "test"] = "train",
        bands: Sequence[str] | None = None,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None = None,
    ) -> None:
        """Initialize a new GeoBenchDataset instance.

        Args:
            root: The GEO-Bench folder or a folder of task folders.
            task: One of :data:`GEOBENCH_TASKS`.
            partition: ``default`` or a few-shot partition such as ``0.01x_train``
                (the task folder's ``{partition}_partition.json``).
            split: ``train``, ``valid`` or ``test``.
            bands: Bands to read, in order (this package's names, e.g. ``B2``;
                GEO-Bench's stored names are accepted too); ``None`` = all.
            transforms: A function/transform that takes a sample dict and returns
                a transformed version.

        Raises:
            ValueError: For an unknown task, partition, split or band, a task
                folder without the partition file or ``band_stats.json``, a
                sample file missing a band, or a metadata pickle holding a type
                outside the allow-list (the message names the file).
        """
        self._open(root, task, partition, split, transforms)
        names = self._partition()[split]
        if not names:
            raise ValueError(
                f"partition {partition!r} of task {task!r} has no {split!r} sample "
                f"({self.task_dir / (partition + '_partition.json')})"
            )
        self._build(names, bands)

    @classmethod
    def describe(
        cls,
        root: str | os.PathLike[str] = "data",
        task: str = "m-eurosat",
        partition: str = "default",
        bands: Sequence[str] | None = None,
    ) -> GeoBenchDataset:
        """Read a task's bands, statistics and classes from one sample only.

        Checks what a datamodule needs at construction (task folder, partition
        file, ``band_stats.json``, the bands), cheaply: the returned dataset
        holds the first training sample of the partition only.

        Args:
            root: The GEO-Bench folder or a folder of task folders.
            task: One of :data:`GEOBENCH_TASKS`.
            partition: ``default`` or a few-shot partition.
            bands: Bands to read, in order; ``None`` = all.

        Returns:
            A dataset of the first training sample.

        Raises:
            ValueError: As :class:`GeoBenchDataset`, for that sample.
        """
        dataset = cls.__new__(cls)
        dataset._open(root, task, partition, "train", None)
        names = dataset._partition()["train"]
        if not names:
            raise ValueError(
                f"partition {partition!r} of task {task!r} has no 'train' sample"
            )
        dataset._build(names[:1], bands)
        return dataset

    def _open(
        self,
        root: str | os.PathLike[str],
        task: str,
        partition: str,
        split: str,
        transforms: Callable[[dict[str, Tensor]], dict[str, Tensor]] | None,
    ) -> None:
        self.task = task
        self.task_dir = find_task_folder(root, task)
        self.partition = partition
        if split not in GEOBENCH_SPLITS:
            raise ValueError(
                f"split {split!r} is not valid; valid choices are {list(GEOBENCH_SPLITS)}"
            )
        self.split = split
        self.transforms = transforms
        self.band_stats = self._band_stats()

    def _build(self, names: list[str], bands: Sequence[str] | None) -> None:
        task = self.task
        self.paths = [str(self.task_dir / f"{name}.hdf5") for name in names]
        metas = [self._meta(path) for path in self.paths]
        first = metas[0]
        self.all_bands = tuple(order_bands(list(first.channels)))
        self.bands = self._select(bands, first)
        for path, meta in zip(self.paths, metas, strict=True):
            missing = [b for b in self.bands if b not in meta.channels]
            if missing:
                raise ValueError(
                    f"sample file {path!r} has no band {missing} (it holds "
                    f"{list(meta.channels)}); every sample of task {task!r} must "
                    "hold the bands read"
                )
        self.segmentation = task in GEOBENCH_SEGMENTATION
        self._channels = [[m.channels[b] for b in self.bands] for m in metas]
        self._mask_keys = [m.mask_key for m in metas]
        self._labels = (
            None
            if self.segmentation
            else [as_label(m.label, p) for p, m in zip(self.paths, metas, strict=True)]
        )
        if self.segmentation and None in self._mask_keys:
            bad = self.paths[self._mask_keys.index(None)]
            raise ValueError(
                f"sample file {bad!r} of segmentation task {task!r} has no 'label' "
                "dataset (the mask)"
            )
        lon = np.array([m.lon for m in metas], dtype=np.float64)
        lat = np.array([m.lat for m in metas], dtype=np.float64)
        known = np.isfinite(lon) & np.isfinite(lat)
        continent = np.full(len(metas), "", dtype=object)
        if known.any():
            found = continent_of(lon[known], lat[known])
            continent[known] = [c or "" for c in found]
        self._index = pd.DataFrame(
            {
                "sample_id": list(names),
                "path": self.paths,
                "lon": lon,
                "lat": lat,
                "continent": continent,
            }
        )
        self._stored = first.stored
        self._lon = lon.tolist()
        self._lat = lat.tolist()
        self._continent = [str(c) for c in continent]

    def _partition(self) -> dict[str, list[str]]:
        path = self.task_dir / f"{self.partition}_partition.json"
        if not path.is_file():
            found = sorted(
                p.name.removesuffix("_partition.json")
                for p in self.task_dir.glob("*_partition.json")
            )
            if not found:
                raise ValueError(
                    f"task folder {str(self.task_dir)!r} has no partition file "
                    "({partition}_partition.json); it is not a complete GEO-Bench "
                    "v1 task folder: download the task again"
                )
            raise ValueError(
                f"partition {self.partition!r} is not valid for task {self.task!r}; "
                f"valid choices are {found} (GEO-Bench v1 names "
                f"{list(GEOBENCH_PARTITIONS)})"
            )
        data = read_json(path, "partition file")
        if not isinstance(data, dict) or not set(GEOBENCH_SPLITS) <= set(data):
            raise ValueError(
                f"partition file {str(path)!r} does not map {list(GEOBENCH_SPLITS)} "
                "to lists of sample names"
            )
        return {k: [str(n) for n in data[k]] for k in GEOBENCH_SPLITS}

    def _band_stats(self) -> dict[str, dict[str, float]]:
        path = self.task_dir / "band_stats.json"
        if not path.is_file():
            raise ValueError(
                f"task folder {str(self.task_dir)!r} has no band_stats.json; it is "
                "not a complete GEO-Bench v1 task folder: download the task again"
            )
        data = read_json(path, "band statistics")
        if not isinstance(data, dict):
            raise ValueError(f"band statistics {str(path)!r} is not a mapping of bands")
        return data

    def _meta(self, path: str) -> SampleMeta:
        try:
            with h5py.File(path, "r") as f:
                raw = f.attrs.get("pickle")
                if raw is None:
                    raise ValueError(
                        f"sample file {path!r} has no 'pickle' metadata attribute"
                    )
                attrs = load_pickle(decode_pickle_attribute(raw, path), path)
                names = set(f)
                return sample_meta(
                    attrs, names, lambda k: tuple(f[k].shape), self.task, path
                )
        except OSError as err:
            raise ValueError(
                f"sample file {path!r} of task {self.task!r} cannot be read as HDF5: "
                f"{err}"
            ) from err

    def _select(
        self, bands: Sequence[str] | None, first: SampleMeta
    ) -> tuple[str, ...]:
        if bands is None:
            return self.all_bands
        if isinstance(bands, str) or not bands:
            raise ValueError(
                f"bands must be a non-empty list of band names, got {bands!r}; "
                f"valid choices are {list(self.all_bands)}"
            )
        by_stored = {s: n for n, s in first.stored.items()}
        out = []
        for band in bands:
            name = band if band in first.channels else by_stored.get(band)
            if name is None:
                raise ValueError(
                    f"band {band!r} is not a band of task {self.task!r}; valid "
                    f"choices are {list(self.all_bands)}"
                )
            out.append(name)
        return tuple(out)

    def statistics(self) -> tuple[list[float], list[float]]:
        """Return the task's mean and std of :attr:`bands` from ``band_stats.json``.

        Returns:
            ``(mean, std)``, one value per band.

        Raises:
            ValueError: If ``band_stats.json`` lacks a band (named).
        """
        mean, std = [], []
        for band in self.bands:
            stats = self.band_stats.get(self._stored[band])
            if not isinstance(stats, dict) or not {"mean", "std"} <= set(stats):
                raise ValueError(
                    f"band statistics {str(self.task_dir / 'band_stats.json')!r} "
                    f"have no mean and std of band {self._stored[band]!r} ({band}); "
                    f"they hold {sorted(self.band_stats)}"
                )
            mean.append(float(stats["mean"]))
            std.append(float(stats["std"]))
        return mean, std

    def num_classes(self) -> int:
        """Return the number of classes (labels of a multi-label task).

        From ``task_specs.pkl`` when the folder has it, else
        :data:`GEOBENCH_NUM_CLASSES`.

        Returns:
            The number of classes.
        """
        path = self.task_dir / "task_specs.pkl"
        if path.is_file():
            specs = load_pickle(path.read_bytes(), str(path))
            label = getattr(specs, "label_type", None)
            if isinstance(specs, TaskSpecifications) and label is not None:
                n = getattr(label, "n_classes", None)
                if isinstance(n, int) and n >= 2:
                    return n
        return GEOBENCH_NUM_CLASSES[self.task]

    def index(self) -> pd.DataFrame:
        """Return the split's samples and their locations.

        Returns:
            Columns ``sample_id``, ``path``, ``lon``, ``lat`` (NaN without a
            location) and ``continent`` (``""`` without one).
        """
        return self._index.copy()

    def __len__(self) -> int:
        """Return the number of samples of the split.

        Returns:
            The number of samples.
        """
        return len(self.paths)

    def _read(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        path = self.paths[index]
        channels = self._channels[index]
        with h5py.File(path, "r") as f:
            mask_key = self._mask_keys[index]
            mask = f[mask_key][()] if self.segmentation and mask_key else None
            datasets = [f[key] for key, _ in channels]
            shape = datasets[0].shape
            same = (d.shape == shape for d in datasets)
            if all(c < 0 for _, c in channels) and all(same):
                out = np.empty((len(datasets), *shape), dtype=np.float32)
                for i, d in enumerate(datasets):  # HDF5 converts to float32
                    d.id.read(h5py.h5s.ALL, h5py.h5s.ALL, out[i])
                return out, mask
            arrays = []
            cache: dict[str, np.ndarray] = {}
            for (key, channel), d in zip(channels, datasets, strict=True):
                if channel < 0:
                    arrays.append(d[()])
                    continue
                if key not in cache:
                    cache[key] = np.asarray(d[()])
                arrays.append(cache[key][..., channel])
        size = max((a.shape for a in arrays), key=lambda s: s[0] * s[1])
        out = np.empty((len(arrays), *size), dtype=np.float32)
        for i, a in enumerate(arrays):  # nearest resampling to the largest band
            rows = np.arange(size[0]) * a.shape[0] // size[0]
            cols = np.arange(size[1]) * a.shape[1] // size[1]
            out[i] = a[np.ix_(rows, cols)]
        return out, mask

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        """Return one sample.

        Args:
            index: Position of the sample in the split.

        Returns:
            ``image``, ``label`` or ``mask``, ``lon``, ``lat``, ``continent``.
        """
        image, mask = self._read(index)
        sample: dict[str, Any] = {"image": torch.from_numpy(image)}
        if mask is not None:
            sample["mask"] = torch.from_numpy(np.asarray(mask, dtype=np.int64))
        elif self._labels is not None:
            sample["label"] = torch.as_tensor(self._labels[index])
        sample["lon"] = torch.scalar_tensor(self._lon[index])
        sample["lat"] = torch.scalar_tensor(self._lat[index])
        sample["continent"] = self._continent[index]
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample

    def __repr__(self) -> str:
        return (
            f"GeoBenchDataset(task={self.task!r}, partition={self.partition!r}, "
            f"split={self.split!r}, bands={list(self.bands)}, len={len(self)})"
        )
