"""GEO-Bench v1 tasks read from their on-disk layout (fixture in the real format)."""

from __future__ import annotations

import json
import math
import pickle
import shutil
from pathlib import Path
from typing import Any

import affine
import h5py
import numpy as np
import pytest

from torchgeo_composition.bands import S2_BANDS
from torchgeo_composition.datasets import GEOBENCH_TASKS, GeoBenchDataset
from torchgeo_composition.datasets.geobench_fixture import (
    FIXTURE_POINTS,
    dump_geobench_pickle,
    make_geobench,
)
from torchgeo_composition.datasets.geobench_meta import decode_pickle_attribute
from torchgeo_composition.datasets.geobench_pickle import (
    Sentinel2,
    UnsafePickleError,
    load_pickle,
)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_geobench(tmp_path_factory.mktemp("geobench"), size=8, num_samples=8)


def _copy_task(root: Path, tmp_path: Path, task: str = "m-brick-kiln") -> Path:
    kind = "segmentation" if task.endswith("-seg") else "classification"
    shutil.copytree(root / f"{kind}_v1.0" / task, tmp_path / task)
    return tmp_path


@pytest.mark.parametrize("task", GEOBENCH_TASKS)
def test_every_task_reads(root: Path, task: str) -> None:
    ds = GeoBenchDataset(root, task, split="train")
    sample = ds[0]
    assert sample["image"].shape[0] == len(ds.bands) == len(ds.all_bands)
    assert sample["image"].dtype.is_floating_point
    assert ("mask" in sample) != ("label" in sample)
    if "mask" in sample:
        assert sample["mask"].shape == sample["image"].shape[1:]
        assert int(sample["mask"].max()) < ds.num_classes()
    assert {"lon", "lat", "continent"} <= set(sample)
    assert len(ds) == 4  # half of 8 samples train


def test_eurosat_band_names_are_corrected(root: Path) -> None:
    ds = GeoBenchDataset(root, "m-eurosat", bands=["B8A", "B9", "B12", "B2"])
    image = ds[1]["image"]
    # the fixture's values encode the true band: 1000 * position in S2_BANDS + noise
    assert (image // 1000)[:, 0, 0].tolist() == [
        S2_BANDS.index(b) for b in ("B8A", "B9", "B12", "B2")
    ]
    all_bands = GeoBenchDataset(root, "m-eurosat").all_bands
    assert all_bands == S2_BANDS


def test_stored_names_select_the_same_bands(root: Path) -> None:
    by_name = GeoBenchDataset(root, "m-brick-kiln", bands=["B4", "B8A"])
    by_stored = GeoBenchDataset(
        root, "m-brick-kiln", bands=["04 - Red", "08A - Vegetation Red Edge"]
    )
    assert by_stored.bands == ("B4", "B8A")
    assert (by_name[0]["image"] == by_stored[0]["image"]).all()


def test_statistics_follow_the_bands(root: Path) -> None:
    ds = GeoBenchDataset(root, "m-eurosat", bands=["B8A", "B1"])
    mean, std = ds.statistics()
    assert 8000 < mean[0] < 8500 and 0 < mean[1] < 500  # B8A is stored as "12"
    assert all(s > 0 for s in std)


@pytest.mark.parametrize(
    "task", ["m-brick-kiln", "m-cashew-plant", "m-nz-cattle", "m-NeonTree"]
)
def test_location_from_geotransform_and_crs(root: Path, task: str) -> None:
    index = GeoBenchDataset(root, task, split="train").index()
    for row, (lon, lat) in zip(index.itertuples(), FIXTURE_POINTS, strict=False):
        assert math.isclose(row.lon, lon, abs_tol=1e-6)
        assert math.isclose(row.lat, lat, abs_tol=1e-6)
    assert index["continent"].tolist()[:4] == [
        "europe",
        "africa",
        "asia",
        "north_america",
    ]


def test_no_location_without_geotransform(root: Path) -> None:
    ds = GeoBenchDataset(root, "m-eurosat", split="test")
    sample = ds[0]
    assert math.isnan(float(sample["lon"])) and sample["continent"] == ""


def test_partitions_and_classes(root: Path) -> None:
    few = GeoBenchDataset(root, "m-so2sat", partition="0.50x_train")
    full = GeoBenchDataset(root, "m-so2sat", partition="1.00x_train")
    assert len(few) == 2 and len(full) == 4
    assert full.num_classes() == 17  # from task_specs.pkl
    multi = GeoBenchDataset(root, "m-bigearthnet")[0]["label"]
    assert multi.shape == (43,) and set(multi.unique().tolist()) <= {0, 1}


def test_affine_2_pickles_rebuild_the_coefficients() -> None:
    transform = affine.Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    data = dump_geobench_pickle({"transform": transform})
    with pytest.raises(AttributeError):  # the trap: affine 3 builds an empty Affine
        pickle.loads(data)["transform"].a  # noqa: B018
    loaded = load_pickle(data, "sample.hdf5")["transform"]
    assert isinstance(loaded, affine.Affine) and loaded == transform


def test_band_infos_are_written_under_geobench_names() -> None:
    data = dump_geobench_pickle([Sentinel2(name="02 - Blue", wavelength=0.49)])
    assert b"geobench.dataset" in data and b"Sentinel2" in data
    (info,) = load_pickle(data, "x.hdf5")
    assert isinstance(info, Sentinel2) and info.wavelength == 0.49
    attribute = str(data)  # how GEO-Bench stores it in the HDF5 attribute
    assert decode_pickle_attribute(attribute, "x.hdf5") == data


class _CreatesAFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (str(self.path), "w"))


def test_a_crafted_pickle_is_refused_and_never_run(root: Path, tmp_path: Path) -> None:
    folder = _copy_task(root, tmp_path)
    marker = tmp_path / "pwned"
    sample = folder / "m-brick-kiln" / "id_0002.hdf5"
    with h5py.File(sample, "a") as f:
        f.attrs["pickle"] = str(pickle.dumps({"label": _CreatesAFile(marker)}))
    with pytest.raises(UnsafePickleError, match=r"io\.open") as err:
        GeoBenchDataset(folder, "m-brick-kiln")
    assert str(sample) in str(err.value)
    assert not marker.exists()


def test_task_specs_pickle_is_restricted_too(root: Path, tmp_path: Path) -> None:
    folder = _copy_task(root, tmp_path)
    marker = tmp_path / "pwned"
    specs = folder / "m-brick-kiln" / "task_specs.pkl"
    specs.write_bytes(pickle.dumps(_CreatesAFile(marker)))
    ds = GeoBenchDataset(folder, "m-brick-kiln")
    with pytest.raises(UnsafePickleError, match=r"task_specs\.pkl"):
        ds.num_classes()
    assert not marker.exists()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ("no_partition", "has no partition file"),
        ("no_stats", "has no band_stats.json"),
        ("missing_band", "id_0001.hdf5"),
        ("not_hdf5", "cannot be read as HDF5"),
    ],
)
def test_broken_task_folders(
    root: Path, tmp_path: Path, change: str, match: str
) -> None:
    folder = _copy_task(root, tmp_path)
    task = folder / "m-brick-kiln"
    if change == "no_partition":
        for p in task.glob("*_partition.json"):
            p.unlink()
    elif change == "no_stats":
        (task / "band_stats.json").unlink()
    elif change == "missing_band":
        with h5py.File(task / "id_0001.hdf5", "a") as f:
            del f["04 - Red"]
    else:
        (task / "id_0001.hdf5").write_text("not a sample")
    with pytest.raises(ValueError, match=match):
        GeoBenchDataset(folder, "m-brick-kiln")


def test_a_sample_without_a_requested_band(root: Path, tmp_path: Path) -> None:
    folder = _copy_task(root, tmp_path)
    path = folder / "m-brick-kiln" / "id_0003.hdf5"
    with h5py.File(path, "a") as f:  # drop B4 from both the data and the metadata
        del f["04 - Red"]
        attrs = load_pickle(decode_pickle_attribute(f.attrs["pickle"], ""), "")
        attrs["bands_order"].remove("04 - Red")
        del attrs["04 - Red"]
        f.attrs["pickle"] = str(dump_geobench_pickle(attrs))
    with pytest.raises(ValueError, match=r"has no band \['B4'\]") as err:
        GeoBenchDataset(folder, "m-brick-kiln")
    assert str(path) in str(err.value)
    assert len(GeoBenchDataset(folder, "m-brick-kiln", bands=["B2", "B3"])) == 4


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task": "m-eurosatt"}, "valid choices are .*'m-eurosat'"),
        ({"partition": "0.3x_train"}, "partition '0.3x_train'.*'0.01x_train'"),
        ({"split": "val"}, "split 'val'.*'valid'"),
        ({"bands": ["B13"]}, "band 'B13'.*'B8A'"),
    ],
)
def test_bad_arguments(root: Path, kwargs: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"task": "m-eurosat"} | kwargs
    with pytest.raises(ValueError, match=match):
        GeoBenchDataset(root, **args)


def test_a_root_without_the_task(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds no folder of task 'm-eurosat'"):
        GeoBenchDataset(tmp_path, "m-eurosat")


def test_fixture_layout(root: Path) -> None:
    task = root / "classification_v1.0" / "m-eurosat"
    partition = json.loads((task / "default_partition.json").read_text())
    assert set(partition) == {"train", "valid", "test"}
    assert (task / "task_specs.pkl").is_file() and (task / "label_map.json").is_file()
    with h5py.File(task / f"{partition['train'][0]}.hdf5") as f:
        assert "08A - Vegetation Red Edge" in f and str(f.attrs["pickle"])[:2] == "b'"
        assert f["01 - Coastal aerosol"].dtype == np.int16
