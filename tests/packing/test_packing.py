import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.data.packs import make_manifest, make_pack, stratum_samples
from tests.data.pools import tiny_pool
from torchgeo_composition.datamodules import StreamingStratifiedDataModule
from torchgeo_composition.packing import (
    PARTIAL_NAME,
    SUMMARY_NAME,
    pack,
    read_pack_summary,
)
from torchgeo_composition.sampling import read_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("packed")
    return root, make_pack(root, num_workers=2)


def test_one_dataset_per_stratum_with_every_manifest_sample(
    packed: tuple[Path, str],
) -> None:
    root, location = packed
    manifest, msummary = read_manifest(root / "set.parquet")
    summary = read_pack_summary(location)
    assert summary.manifest_sha256 == msummary["manifest_sha256"]
    assert summary.pool_fingerprint == msummary["pool_fingerprint"]
    assert summary.dtype == "uint16" and summary.shape == (13, 8, 8)
    assert summary.counts == manifest["stratum"].value_counts().to_dict()
    pool = tiny_pool(root / "pool")
    ids = pool.index()["sample_id"].tolist()
    for name, info in summary.strata.items():
        samples = stratum_samples(location, info["folder"])
        rows = manifest[manifest["stratum"] == name]
        assert sorted(s["sample_id"] for s in samples) == sorted(rows["sample_id"])
        for sample in samples:
            assert sample["stratum"] == name
            assert sample["image"].dtype == np.uint16  # raw integers kept
            expected = pool[ids.index(sample["sample_id"])]["image"].numpy()
            np.testing.assert_array_equal(sample["image"], expected)
            row = rows[rows["sample_id"] == sample["sample_id"]].iloc[0]
            assert (sample["lon"], sample["lat"]) == (row["lon"], row["lat"])


def test_order_is_random_and_seeded(packed: tuple[Path, str], tmp_path: Path) -> None:
    root, location = packed
    pool, manifest = make_manifest(root)
    again = str(tmp_path / "again")
    other = str(tmp_path / "other")
    pack(pool, str(manifest), again, chunk_bytes="16KB", progress=False)
    pack(pool, str(manifest), other, seed=1, chunk_bytes="16KB", progress=False)
    orders = [
        [s["sample_id"] for s in stratum_samples(loc, "asia")]
        for loc in (location, again, other)
    ]
    assert orders[0] == orders[1]  # same seed (and any worker count): same order
    assert orders[0] != orders[2]
    assert orders[0] != sorted(orders[0])


def test_finished_pack_is_kept(packed: tuple[Path, str]) -> None:
    root, location = packed
    pool, manifest = make_manifest(root)
    before = os.stat(Path(location, SUMMARY_NAME)).st_mtime_ns
    result = pack(pool, str(manifest), location, chunk_bytes="16KB", progress=False)
    assert result.written == [] and sorted(result.kept) == sorted(result.summary.strata)
    assert os.stat(Path(location, SUMMARY_NAME)).st_mtime_ns == before


def test_pack_of_another_manifest_refused_unless_overwrite(tmp_path: Path) -> None:
    location = make_pack(tmp_path, num_samples=12)
    pool, other = make_manifest(tmp_path, "europe", 6, name="europe.parquet")
    with pytest.raises(ValueError, match=r"another manifest.*--overwrite true"):
        pack(pool, str(other), location, progress=False)
    assert read_pack_summary(location).num_samples == 12
    pack(pool, str(other), location, overwrite=True, progress=False)
    summary = read_pack_summary(location)
    assert summary.counts == {"europe": 6}
    assert sorted(os.listdir(location)) == ["europe", SUMMARY_NAME]


def test_folder_that_is_not_a_pack_is_left_alone(tmp_path: Path) -> None:
    pool, manifest = make_manifest(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="not empty and holds no pack"):
            pack(pool, str(manifest), str(tmp_path / "out"), overwrite=overwrite)
    assert (tmp_path / "out" / "notes.txt").read_text() == "mine"


def test_manifest_of_another_pool_refused(tmp_path: Path) -> None:
    _, manifest = make_manifest(tmp_path)
    other = tiny_pool(tmp_path / "other", num_chips=30)
    with pytest.raises(ValueError, match="another pool"):
        pack(other, str(manifest), str(tmp_path / "pack"), progress=False)
    assert not (tmp_path / "pack" / SUMMARY_NAME).exists()


def test_sample_that_the_dtype_cannot_hold_is_named(tmp_path: Path) -> None:
    pool, manifest = make_manifest(tmp_path, "europe", 6)
    with pytest.raises(ValueError, match=r"sample '.*dtype uint8 cannot hold.*float32"):
        pack(pool, str(manifest), str(tmp_path / "pack"), dtype="uint8", progress=False)
    assert not (tmp_path / "pack" / SUMMARY_NAME).exists()
    assert not (tmp_path / "pack" / "europe").exists()  # nothing half-kept
    with pytest.raises(FileNotFoundError, match="unfinished pack"):
        StreamingStratifiedDataModule(str(tmp_path / "pack"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_workers": 0}, "num_workers must be >= 1"),
        ({"dtype": "int8"}, "dtype 'int8' is not valid"),
        ({"chunk_bytes": "lots"}, "chunk_bytes 'lots' is not a size"),
        ({"output_dir": "http://host/pack"}, "scheme 'http'"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    pool, manifest = make_manifest(tmp_path, "europe", 6)
    args: dict[str, object] = {"output_dir": str(tmp_path / "pack"), **kwargs}
    with pytest.raises(ValueError, match=match):
        pack(pool, str(manifest), progress=False, **args)  # type: ignore[arg-type]


_KILLED_RUN = """
import sys
from tests.data.packs import KillingPool
from torchgeo_composition.packing import pack
pool = KillingPool(sys.argv[1], kill_id=sys.argv[2])
pack(pool, sys.argv[3], sys.argv[4], chunk_bytes="1KB", progress=False)
"""


def test_interrupted_pack_is_refused_then_resumed(
    packed: tuple[Path, str], tmp_path: Path
) -> None:
    root, reference = packed
    location = str(tmp_path / "pack")
    # killed while reading the third sample of europe (after africa and asia)
    europe = [s["sample_id"] for s in stratum_samples(reference, "europe")]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(root / "pool"), europe[2],
         str(root / "set.parquet"), location],
        cwd=REPO, env=env, start_new_session=True, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == -9, run.stderr
    assert Path(location, PARTIAL_NAME).exists()
    assert not Path(location, SUMMARY_NAME).exists()
    with pytest.raises(FileNotFoundError, match=r"unfinished pack.*run the same"):
        read_pack_summary(location)
    with pytest.raises(FileNotFoundError, match="unfinished pack"):
        StreamingStratifiedDataModule(location)
    pool, manifest = make_manifest(root)
    result = pack(pool, str(manifest), location, chunk_bytes="1KB", progress=False)
    assert result.kept == ["africa", "asia"]
    assert result.written == ["europe", "north_america", "oceania", "south_america"]
    assert not Path(location, PARTIAL_NAME).exists()
    for name, info in read_pack_summary(location).strata.items():
        resumed = [s["sample_id"] for s in stratum_samples(location, info["folder"])]
        fresh = [s["sample_id"] for s in stratum_samples(reference, info["folder"])]
        assert resumed == fresh, name  # as if never interrupted
