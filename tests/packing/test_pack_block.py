"""The writer's block reader: order kept, rows read ahead in one other thread."""

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from torchgeo_composition.packing.sample import PackBlock, PackSample, blocks


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class _Pool:
    """A pool that records which thread read each position."""

    def __init__(self, bad: int | None = None) -> None:
        self.bad = bad
        self.threads: dict[int, str] = {}

    def __getitem__(self, position: int) -> dict[str, Any]:
        self.threads[position] = threading.current_thread().name
        if position == self.bad:
            raise OSError("unreadable")
        return {"image": np.full((2, 3, 3), position, dtype=np.uint16)}


def _sample(pool: _Pool, tmp_path: Path, n: int) -> PackSample:
    rows = [(i, f"s{i}", float(i), 0.0) for i in range(n)]
    return PackSample(
        pool,  # type: ignore[arg-type]
        rows, "europe", "uint16", (2, 3, 3), str(tmp_path), _Counter(),
    )  # fmt: skip


def test_block_yields_its_rows_in_order_read_by_one_other_thread(
    tmp_path: Path,
) -> None:
    pool = _Pool()
    sample = _sample(pool, tmp_path, 20)
    got = list(PackBlock(sample, depth=3)((5, 17)))
    assert [item["sample_id"] for item in got] == [f"s{i}" for i in range(5, 17)]
    assert [int(item["image"][0, 0, 0]) for item in got] == list(range(5, 17))
    assert sorted(pool.threads) == list(range(5, 17))  # nothing outside the block
    names = set(pool.threads.values())
    assert len(names) == 1 and names != {threading.current_thread().name}
    assert sample.progress.value == 12


def test_failed_row_is_left_out_and_recorded(tmp_path: Path) -> None:
    pool = _Pool(bad=3)
    got = list(PackBlock(_sample(pool, tmp_path, 8))((0, 8)))
    assert [item["sample_id"] for item in got] == ["s0", "s1", "s2"]  # then stops
    (error,) = tmp_path.glob("*.txt")
    assert "'s3'" in error.read_text() and "unreadable" in error.read_text()


@pytest.mark.parametrize(
    ("count", "workers"), [(1, 1), (7, 1), (64, 1), (1000, 1), (1000, 4), (5, 8)]
)
def test_blocks_cover_every_row_once_in_order(count: int, workers: int) -> None:
    parts = blocks(count, workers)
    assert [row for start, stop in parts for row in range(start, stop)] == list(
        range(count)
    )
    assert all(0 < stop - start <= 64 for start, stop in parts)
    assert len(parts) >= min(count, 4 * workers)


def test_depth_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="depth must be >= 1, got 0"):
        PackBlock(_sample(_Pool(), tmp_path, 1), depth=0)
