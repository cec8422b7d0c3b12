"""Frozen-feature caching for :class:`FusionClassificationTask`.

At the start of fitting (and of validation/testing), each split's features are
looked up in the :class:`~torchgeo_composition.models.FeatureCache`: one pass over
the split's dataloader digests the inputs (as the model receives them, after the
datamodule's transfer augmentation) to form the dataset fingerprint; on a miss a
second pass computes the backbones' features and writes the entry. Steps then read
features by sample digest instead of running the backbones.
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor
from tqdm.auto import tqdm

from ..models.fusion.cache import (
    CachedSplit,
    FeatureCache,
    dataset_fingerprint,
    sample_digests,
    split_batches,
)
from ..models.fusion.model import FeatureFusion

__all__ = ["CacheMixin"]


class CacheMixin:
    """Adds the feature cache to a task with ``model``, ``cache`` and ``trainer``."""

    model: FeatureFusion
    cache: FeatureCache | None
    trainer: Any
    device: torch.device

    @property
    def cached(self) -> dict[str, CachedSplit]:
        """Opened cache entries by split."""
        if not hasattr(self, "_cached"):
            self._cached: dict[str, CachedSplit] = {}
        return self._cached

    def _check_cacheable(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None:
            raise ValueError(
                "feature_cache needs a datamodule (trainer.fit(model, datamodule=...))"
            )
        train_aug = getattr(dm, "train_aug", None)
        if hasattr(dm, "augment"):  # our datamodules say it explicitly
            augmented = bool(dm.augment)
        else:  # TorchGeo's: a train_aug of its own means random augmentation
            augmented = train_aug is not None and train_aug is not getattr(
                dm, "aug", None
            )
        if augmented:
            raise ValueError(
                f"feature_cache needs train augmentation off, but "
                f"{type(dm).__name__} has train_aug/augment set; disable it or "
                "set feature_cache: null"
            )

    def _open_split(self, split: str) -> None:
        if self.cache is None or split in self.cached:
            return
        dm = self.trainer.datamodule
        if getattr(dm, f"{split}_dataloader", None) is None:
            return
        batches = split_batches(dm, split, self.device)
        digests = [
            d
            for batch in tqdm(batches, desc=f"digest {split}", disable=None)
            for d in sample_digests(batch["image"])
        ]
        if not digests:
            return
        key = self.cache.key(
            self.model.backbone_fingerprint(), split, dataset_fingerprint(digests)
        )
        entry = self.cache.load(key)
        if entry is None:
            entry = self._compute_split(key, split)
        self.cached[split] = entry

    @torch.no_grad()
    def _compute_split(self, key: str, split: str) -> CachedSplit:
        assert self.cache is not None
        digests: list[bytes] = []
        parts: list[list[Tensor]] = []
        batches = split_batches(self.trainer.datamodule, split, self.device)
        for batch in tqdm(batches, desc=f"cache {split}", disable=None):
            digests += sample_digests(batch["image"])
            parts.append(
                [f.cpu() for f in self.model.backbone_features(batch["image"])]
            )
        features = [torch.cat(col) for col in zip(*parts, strict=True)]
        meta = {"split": split, "backbones": self.model.specs}
        return self.cache.write(key, digests, features, meta)

    def open_cached_split(self, split: str) -> None:
        """Open (or build) the cache entry of ``split`` (no-op without a cache).

        Args:
            split: ``"train"``, ``"val"``, ``"test"`` or ``"predict"``.

        Raises:
            ValueError: If the datamodule augments its training batches.
        """
        if self.cache is not None:
            self._check_cacheable()
            self._open_split(split)

    def on_fit_start(self) -> None:
        """Open (or build) the train and val cache entries."""
        if self.cache is None:
            return
        self._check_cacheable()
        self._open_split("train")
        self._open_split("val")

    def on_validation_start(self) -> None:
        """Open the val entry when validating outside fitting."""
        if self.cache is not None and "val" not in self.cached:
            self._check_cacheable()
            self._open_split("val")

    def on_test_start(self) -> None:
        """Open (or build) the test entry."""
        if self.cache is not None:
            self._check_cacheable()
            self._open_split("test")

    def cached_features(self, x: Tensor, split: str) -> list[Tensor]:
        """Per-backbone features of ``x`` from the cache (misses recomputed).

        Args:
            x: Input batch as the model receives it.
            split: ``"train"``, ``"val"`` or ``"test"``.

        Returns:
            One ``(N, D_b)`` tensor per backbone.
        """
        feats, found = self.cached[split].lookup(sample_digests(x))
        feats = [f.to(x.device) for f in feats]
        if not all(found):
            miss = torch.tensor([not f for f in found], device=x.device)
            rank_zero_warn(
                f"feature cache: {int(miss.sum())} {split} samples were not in the "
                "cache (inputs changed or are augmented); computing them",
            )
            fresh = self.model.backbone_features(x[miss])
            for f, new in zip(feats, fresh, strict=True):
                f[miss] = new.to(f.dtype)
        return feats
