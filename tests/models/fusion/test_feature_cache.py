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


def _corrupt_pickle(path: Path) -> None:
    # an object array: reading it would need allow_pickle=True
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


@pytest.mark.parametrize(
    ("file", "damage", "match"),
    [
        ("meta.json", lambda p: p.write_text("{not json"), "is not the JSON object"),
        ("meta.json", lambda p: p.unlink(), "is not the JSON object"),
        ("features.npy", lambda p: p.write_bytes(b"junk"), "is not a numeric .npy"),
        ("digests.npy", _corrupt_pickle, "is not a numeric .npy"),
        (
            "features.npy",
            lambda p: np.save(p, np.zeros((5, 4), dtype=np.float32)),
            r"has shape \(5, 4\); expected \(5, 5\)",
        ),
    ],
)
def test_broken_entry_is_named_and_rebuilt(
    tmp_path: Path, file: str, damage: object, match: str
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    digests = sample_digests(torch.rand(5, 2, 4, 4))
    key = cache.key("bb", "train", dataset_fingerprint(digests))
    feats = [torch.arange(10.0).view(5, 2), torch.ones(5, 3)]
    cache.write(key, digests, feats, {})
    damage(tmp_path / "cache" / key / file)  # type: ignore[operator]
    with pytest.warns(UserWarning, match=match) as record:
        assert cache.load(key) is None  # a miss: the caller recomputes
    assert str(tmp_path / "cache" / key / file) in str(record[0].message)
    assert not (tmp_path / "cache" / key).exists()
    entry = cache.write(key, digests, feats, {})
    assert entry.lookup(digests[:1])[1] == [True]
    assert not list((tmp_path / "cache").glob(".*"))  # nothing left aside
