"""ResumableDataLoader: a loaded position resumes the same epoch's next batch."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from torchgeo_composition.datamodules import ResumableDataLoader, ShardedManifestSampler


class _Counting(Dataset[int]):
    def __init__(self, n: int) -> None:
        self.n = n
        self.read: list[int] = []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        self.read.append(index)
        return index


def _loader(data: _Counting, num_workers: int = 0) -> ResumableDataLoader[int]:
    sampler = ShardedManifestSampler(data, 4, num_replicas=1, rank=0, seed=7)
    return ResumableDataLoader(
        data, batch_size=4, sampler=sampler, num_workers=num_workers
    )


@pytest.mark.parametrize("num_workers", [0, 1])
def test_resume_mid_epoch_yields_the_rest_of_that_epoch(num_workers: int) -> None:
    full = _loader(_Counting(22))
    full.sampler.set_epoch(2)  # type: ignore[attr-defined]
    expected = [b.tolist() for b in full]
    assert len(full) == len(expected) == 6

    first = _loader(_Counting(22))
    first.sampler.set_epoch(2)  # type: ignore[attr-defined]
    it = iter(first)
    seen = [next(it).tolist() for _ in range(2)]
    state = first.state_dict()
    assert state == {"batches": 2, "epoch": 2}

    data = _Counting(22)
    resumed = _loader(data, num_workers)
    resumed.load_state_dict(state)
    rest = [b.tolist() for b in resumed]
    assert seen + rest == expected
    if num_workers == 0:  # skipped samples are never read
        assert sorted(data.read) == sorted(i for b in rest for i in b)
    assert len(resumed) == 6
    # the pass after that is a whole epoch again
    resumed.sampler.set_epoch(3)  # type: ignore[attr-defined]
    assert len([b for b in resumed]) == 6


def test_a_finished_epoch_saves_the_start_of_the_next() -> None:
    loader = _loader(_Counting(8))
    assert [b.shape[0] for b in loader] == [4, 4]
    assert loader.state_dict() == {"batches": 0, "epoch": 1}


def test_a_position_past_the_epoch_is_refused() -> None:
    loader = _loader(_Counting(8))
    with pytest.raises(ValueError, match=r"batches.*\[0, 2\).*got 5"):
        loader.load_state_dict({"batches": 5, "epoch": 0})
    assert torch.cat(list(loader)).numel() == 8
