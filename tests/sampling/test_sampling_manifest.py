from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from torchgeo_composition.sampling import (
    Selection,
    check_manifest_matches,
    pool_fingerprint,
    read_manifest,
    select,
    strata_fingerprint,
    summary_path,
    write_manifest,
)


@pytest.fixture
def selection(continent_index: pd.DataFrame) -> Selection:
    return select(continent_index, "global", 60, seed=0)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_round_trip(selection: Selection, tmp_path: Path, suffix: str) -> None:
    manifest_path, sidecar = write_manifest(selection, tmp_path / f"set{suffix}")
    assert sidecar == tmp_path / "set.summary.json" == summary_path(manifest_path)
    frame, summary = read_manifest(manifest_path)
    pd.testing.assert_frame_equal(frame, selection.manifest, check_dtype=False)
    assert summary == selection.summary
    lock = f"{manifest_path.name}.lock"  # stays: an OS lock, free when no one holds it
    assert sorted(os.listdir(tmp_path)) == sorted(
        [manifest_path.name, sidecar.name, lock]
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_byte_identical(
    continent_index: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    def build(seed: int, name: str) -> tuple[bytes, bytes]:
        sel = select(
            continent_index.sample(frac=1.0, random_state=seed), "global", 60, 5
        )
        paths = write_manifest(sel, tmp_path / name / f"m{suffix}")
        return paths[0].read_bytes(), paths[1].read_bytes()

    first, second = build(1, "a"), build(2, "b")
    assert first == second
    other = select(continent_index, "global", 60, seed=6)
    paths = write_manifest(other, tmp_path / "c" / f"m{suffix}")
    assert paths[0].read_bytes() != first[0]


def test_unknown_suffix_and_missing_files(selection: Selection, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"suffix '.txt'.*\.parquet"):
        write_manifest(selection, tmp_path / "m.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_manifest(tmp_path / "none.parquet")
    path, sidecar = write_manifest(selection, tmp_path / "m.parquet")
    sidecar.unlink()
    with pytest.raises(FileNotFoundError, match="summary"):
        read_manifest(path)


def test_read_validates(selection: Selection, tmp_path: Path) -> None:
    path, sidecar = write_manifest(selection, tmp_path / "m.parquet")
    table = pa.Table.from_pandas(selection.manifest.drop(columns="stratum"))
    pq.write_table(table, path)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['stratum'\]"):
        read_manifest(path)
    write_manifest(selection, path)
    sidecar.write_text('{"num_samples": 3}')
    with pytest.raises(ValueError, match="60 rows but its summary says num_samples=3"):
        read_manifest(path)
    sidecar.write_text("not json")
    with pytest.raises(ValueError, match="not JSON"):
        read_manifest(path)


def test_pool_fingerprint(continent_index: pd.DataFrame) -> None:
    fp = pool_fingerprint(continent_index)
    assert len(fp) == 64
    assert pool_fingerprint(continent_index.sample(frac=1.0, random_state=1)) == fp
    assert pool_fingerprint(continent_index.drop(columns="stratum")) == fp
    moved = continent_index.assign(path="other/" + continent_index["path"])
    assert pool_fingerprint(moved) != fp
    assert pool_fingerprint(continent_index.iloc[1:]) != fp
    shifted = continent_index.assign(lon=continent_index["lon"] + 1e-3)
    assert pool_fingerprint(shifted) != fp


def test_check_manifest_matches(
    continent_index: pd.DataFrame, selection: Selection
) -> None:
    fp = pool_fingerprint(continent_index)
    summary = selection.summary
    assert summary["pool_fingerprint"] == fp
    check_manifest_matches(
        summary, fp, composition="GLOBAL", num_samples=60, seed=0, on_shortfall="error"
    )
    other = pool_fingerprint(continent_index.iloc[:-1])
    with pytest.raises(ValueError, match=r"m\.parquet' was built from another pool"):
        check_manifest_matches(summary, other, source="m.parquet")
    with pytest.raises(ValueError, match=r"num_samples: manifest has 60, expected 61"):
        check_manifest_matches(summary, fp, num_samples=61)
    with pytest.raises(ValueError, match=r"composition: manifest has"):
        check_manifest_matches(summary, fp, composition="europe")
    strata = strata_fingerprint(continent_index)
    assert summary["strata_fingerprint"] == strata
    check_manifest_matches(summary, fp, strata_fingerprint=strata)
    relabelled = continent_index.assign(stratum="europe")
    with pytest.raises(ValueError, match="strata_fingerprint: manifest has"):
        check_manifest_matches(
            summary, fp, strata_fingerprint=strata_fingerprint(relabelled)
        )


def test_atomic_write_leaves_nothing_on_failure(
    selection: Selection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = write_manifest(selection, tmp_path / "m.parquet")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(table: pa.Table, where: Path, **kwargs: object) -> None:
        Path(where).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    other = select(selection.manifest.assign(stratum="europe"), "europe", 10, 1)
    with pytest.raises(OSError, match="disk full"):
        write_manifest(other, path)
    with pytest.raises(OSError, match="disk full"):
        write_manifest(other, tmp_path / "new.parquet")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == {**before, "new.parquet.lock": b""}  # only the (free) lock


def test_unwritable_output_directory(selection: Selection, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a directory"):
        write_manifest(selection, blocker / "sub" / "m.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="not writable"):
            write_manifest(selection, locked / "m.parquet")
        assert list(locked.iterdir()) == []
