"""The pool index cache is checked by content hash: a flipped bit is never trusted."""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.data.chips import make_chip_folder
from torchgeo_composition.datasets import ChipFolder, index_cache
from torchgeo_composition.files import file_lock
from torchgeo_composition.sampling import stratified_index

CONTINENTS = ["europe", "south_america", "oceania"]


def _flip(path: Path, byte: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[byte] ^= 1 << bit
    path.write_bytes(bytes(data))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_chip_folder(tmp_path / "pool", CONTINENTS, per_continent=2)


def _silent_flip(cache: Path, truth: pd.DataFrame) -> int:
    """A bit whose flip Parquet reads without complaint but moves a chip."""
    raw = cache.read_bytes()
    for byte in range(4, len(raw) - 8):
        data = bytearray(raw)
        data[byte] ^= 0x80
        try:
            frame = pq.read_table(pa.BufferReader(bytes(data))).to_pandas()
        except (OSError, ValueError, pa.ArrowException):
            continue
        if not frame[["lon", "lat"]].equals(truth[["lon", "lat"]]):
            return byte
    raise AssertionError("no silent flip found")  # pragma: no cover


def test_flipped_bit_of_a_coordinate_is_detected(root: Path) -> None:
    truth = ChipFolder(root).index()
    cache = root / ".tgc_index.parquet"
    _flip(cache, _silent_flip(cache, truth), 7)  # Parquet alone would move a chip
    with pytest.warns(UserWarning, match="content hash does not match"):
        index = ChipFolder(root).index()
    pd.testing.assert_frame_equal(index, truth)
    strata = stratified_index(ChipFolder(root))["stratum"]
    expected = truth["sample_id"].str.split("/").str[0]
    assert strata.tolist() == expected.tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten cache is intact again
        pd.testing.assert_frame_equal(ChipFolder(root).index(), truth)


@pytest.mark.parametrize("share", [0.05, 0.3, 0.5, 0.7, 0.95])
def test_any_flipped_bit_never_changes_the_index(root: Path, share: float) -> None:
    truth = ChipFolder(root).index()
    cache = root / ".tgc_index.parquet"
    _flip(cache, int(share * (cache.stat().st_size - 1)), 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning or a silent rebuild, never trust
        pd.testing.assert_frame_equal(ChipFolder(root).index(), truth)


def test_unreadable_cache_is_rebuilt_with_a_warning(root: Path) -> None:
    truth = ChipFolder(root).index()
    cache = root / ".tgc_index.parquet"
    cache.write_bytes(cache.read_bytes()[:100])
    with pytest.warns(UserWarning, match="cannot be read"):
        pd.testing.assert_frame_equal(ChipFolder(root).index(), truth)


def test_a_second_indexer_waits_then_indexes_in_memory(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = root / ".tgc_index.parquet"
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:  # another indexer of the same folder
        with file_lock(cache, "pool index"):
            locked.set()
            done.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait()
    monkeypatch.setattr(index_cache, "INDEX_LOCK_TIMEOUT_S", 0.1)
    try:
        with pytest.warns(
            UserWarning, match=rf"is locked by pid {os.getpid()}.*in memory"
        ):
            pool = ChipFolder(root)
    finally:
        done.set()
        holder.join()
    assert len(pool) == 6 and not cache.exists()  # built, but not written
    ChipFolder(root)
    assert cache.exists()  # the next one, alone, writes it
