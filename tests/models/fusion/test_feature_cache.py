from pathlib import Path

import numpy as np
import pytest
import torch

from torchgeo_composition.models import FeatureCache
from torchgeo_composition.models.fusion.cache import (
    dataset_fingerprint,
    sample_digests,
    split_batches,
)


def test_feature_cache_roundtrip(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "cache")
    images = torch.rand(5, 2, 4, 4)
    digests = sample_digests(images)
    key = cache.key("bb", "train", dataset_fingerprint(digests))
    assert cache.load(key) is None  # miss
    feats = [torch.arange(10.0).view(5, 2), torch.ones(5, 3)]
    cache.write(key, digests, feats, {"note": 1})
    entry = cache.load(key)  # hit
    assert entry is not None and len(entry) == 5
    assert isinstance(entry.features, np.memmap)
    got, found = entry.lookup(sample_digests(images[[3, 1]]))
    assert found == [True, True] and got[0].tolist() == [[6.0, 7.0], [2.0, 3.0]]
    changed = images.clone()
    changed[0] += 1  # a change of inputs gives another key
    assert cache.key("bb", "train", dataset_fingerprint(sample_digests(changed))) != key
    _, found = entry.lookup(sample_digests(changed[:1]))
    assert found == [False]
    assert not list(tmp_path.glob("cache/.*"))  # no temporary leftovers


def test_feature_cache_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match=r"feature_cache=.*not a writable"):
        FeatureCache(blocker / "sub")


def test_split_batches_every_sample_in_order_after_aug() -> None:
    from tests.data.fusion_data import SyntheticFusionDataModule

    dm = SyntheticFusionDataModule(length=5, size=4, batch_size=2)
    dm.setup("fit")
    dm.aug = lambda batch: batch | {"image": batch["image"] + 1}  # type: ignore[assignment]
    images = torch.cat([b["image"] for b in split_batches(dm, "train")])
    assert torch.equal(images, dm.train_dataset.images + 1)
