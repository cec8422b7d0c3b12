"""The synthetic land-cover task used as the demo study's downstream evaluation."""

from __future__ import annotations

import pytest
import torch

from torchgeo_composition.datasets import SyntheticLandCover


def test_dataset_is_reproducible_labelled_and_band_selectable() -> None:
    a = SyntheticLandCover(num_samples=24, size=8, seed=3)
    b = SyntheticLandCover(num_samples=24, size=8, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    sample = a[0]
    assert sample["image"].shape == (13, 8, 8)
    assert sample["image"].dtype == torch.float32
    assert sample["label"].dtype == torch.int64
    assert set(a.labels.tolist()) <= set(range(len(SyntheticLandCover.classes)))
    assert len(set(a.labels.tolist())) >= 4  # classes are (nearly) balanced
    c = SyntheticLandCover(num_samples=24, size=8, seed=3, bands=["B4", "B8"])
    assert torch.equal(c.images, a.images[:, [3, 7]])
    assert not torch.equal(SyntheticLandCover(24, 8, seed=4).images, a.images)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_samples": 3}, "num_samples must be >= 6"),
        ({"size": 2}, "size must be >= 4"),
        ({"bands": ["B99"]}, "B99"),
    ],
)
def test_dataset_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticLandCover(**kwargs)  # type: ignore[arg-type]
