"""k-NN probe of frozen encoders: :class:`KNNClassificationTask`.

No optimiser step is taken. ``fit`` collects the training split's features once
(at the start, from the feature cache when ``feature_cache`` is set, the same
entries a linear probe uses); validation and test classify each batch by its
``k`` most cosine-similar training features
(:func:`torchgeo_composition.evaluation.knn_predict`). ``test`` without a
preceding ``fit`` (a separate ``torchgeo-composition test`` run) collects the
training features itself, so ``max_epochs: 1`` is all a k-NN ``fit`` needs.

With several backbones, each backbone's features are L2-normalised before they
are concatenated, so each counts equally in the cosine similarity. Training
features are computed with the datamodule's evaluation transform (``aug``), never
its random training augmentation. Test outputs and per-region metrics: see
:mod:`torchgeo_composition.trainers.regional`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..evaluation import check_k, knn_predict
from ..models.fusion.cache import FeatureCache, split_batches
from ..models.fusion.model import InputNormalization
from ._fusion_cache import CacheMixin
from .fusion import BaseFusionTask, check_num_classes
from .regional import RegionalTestMixin

__all__ = ["KNNClassificationTask"]

_VOTES = ("majority", "weighted")


def _eval_batches(datamodule: Any, split: str, device: torch.device) -> Iterator[Any]:
    """Every sample of a split once, in order, through the evaluation ``aug``."""
    base = getattr(datamodule, f"{split}_dataloader")()
    loader = DataLoader(
        base.dataset,
        batch_size=base.batch_size or 1,
        shuffle=False,
        num_workers=base.num_workers,
        collate_fn=base.collate_fn,
    )
    aug = getattr(datamodule, "aug", None)
    for batch in loader:
        batch = {
            k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()
        }
        yield aug(batch) if aug is not None else batch


class KNNClassificationTask(CacheMixin, RegionalTestMixin, BaseFusionTask):
    """k-nearest-neighbour classification on frozen backbone features."""

    monitor = "val_OverallAccuracy"
    mode = "max"

    def __init__(
        self,
        backbones: Sequence[str | dict[str, Any]],
        bands: Sequence[str],
        task: Literal["multiclass", "multilabel"] = "multiclass",
        num_classes: int | None = None,
        k: int = 20,
        vote: Literal["majority", "weighted"] = "weighted",
        temperature: float = 0.07,
        block_size: int = 1024,
        input_normalization: InputNormalization = "datamodule",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        feature_cache: str | None = None,
        regions: str | None = None,
        region_attribute: str | None = None,
        min_region_samples: int = 10,
    ) -> None:
        """Initialise a new KNNClassificationTask.

        Args:
            backbones: Registry names or spec mappings (see
                :class:`FusionClassificationTask`); all are frozen.
            bands: Band names of the data's images, in order.
            task: ``"multiclass"`` or ``"multilabel"`` (neighbour voting per label).
            num_classes: Number of classes (labels for multilabel), >= 2.
            k: Number of neighbours, at most the training set's size.
            vote: ``"majority"`` or ``"weighted"`` (``exp(similarity / T)``).
            temperature: ``T`` of the weighted vote.
            block_size: Test rows per similarity matrix multiply.
            input_normalization: See :class:`FusionClassificationTask`.
            input_mean: The data's normalisation mean (default: datamodule's).
            input_std: The data's normalisation std (default: datamodule's).
            feature_cache: Directory of the frozen-feature cache, or ``None``.
            regions: ``"continent"``, a polygon file (with
                ``region_attribute``) or ``None``: per-region test metrics.
            region_attribute: Column of the polygon file naming the regions.
            min_region_samples: Regions with fewer test samples are reported
                (count) without a metric.

        Raises:
            ValueError: On an invalid argument (the message names it).
        """
        super().__init__()

    def configure_models(self) -> None:
        """Build the frozen backbones, check the options, open the cache."""
        hp = self.hparams
        if hp["task"] not in ("multiclass", "multilabel"):
            raise ValueError(
                f"task={hp['task']!r} is invalid; valid choices: "
                "('multiclass', 'multilabel')"
            )
        if hp["vote"] not in _VOTES:
            raise ValueError(f"vote={hp['vote']!r} is invalid; valid choices: {_VOTES}")
        check_k(hp["k"], hp["k"])  # >= 1 here; against the training set at fit
        if not hp["temperature"] > 0:
            raise ValueError(f"temperature={hp['temperature']!r} is invalid; give > 0")
        num = check_num_classes(hp["num_classes"], "KNNClassificationTask")
        self._build(
            num, None, fusion="concat", projection_dim=None, freeze=True, head="linear"
        )
        self.automatic_optimization = False
        self.cache = None
        if hp["feature_cache"] is not None:
            self.cache = FeatureCache(hp["feature_cache"])
        self.configure_regions()
        self.bank: tuple[Tensor, Tensor] | None = None

    def configure_optimizers(self) -> Any:
        """No optimiser: k-NN has nothing to train."""
        return None

    def _features(self, x: Tensor, split: str) -> Tensor:
        if self.cache is not None and split in self.cached:
            feats = self.cached_features(x, split)
        else:
            feats = self.model.backbone_features(x)
        normed = [torch.nn.functional.normalize(f.float(), dim=1) for f in feats]
        return torch.cat(normed, dim=1)

    @torch.no_grad()
    def collect_train_features(self) -> tuple[Tensor, Tensor]:
        """Features and targets of the whole training split (the k-NN bank).

        Returns:
            ``(M, D)`` features and ``(M,)`` or ``(M, L)`` targets.

        Raises:
            ValueError: If the training split has fewer than ``k`` samples.
        """
        dm = self.trainer.datamodule
        if getattr(dm, "train_dataset", None) is None:
            dm.setup("fit")
        if self.cache is not None:
            self.open_cached_split("train")
            batches: Iterator[Any] = split_batches(dm, "train", self.device)
        else:
            batches = _eval_batches(dm, "train", self.device)
        feats, targets = [], []
        for batch in batches:
            feats.append(self._features(batch["image"], "train"))
            targets.append(batch["label"])
        features, labels = torch.cat(feats), torch.cat(targets)
        check_k(self.hparams["k"], int(features.shape[0]))
        return features, labels

    def on_fit_start(self) -> None:
        """Open the cache entries and collect the training features."""
        super().on_fit_start()
        self.bank = self.collect_train_features()

    def on_validation_start(self) -> None:
        """Collect the training features when validating outside fitting."""
        super().on_validation_start()
        if self.bank is None:
            self.bank = self.collect_train_features()

    def on_test_start(self) -> None:
        """Collect the training features when testing outside fitting."""
        super().on_test_start()
        if self.bank is None:
            self.bank = self.collect_train_features()

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Nothing to train: the bank was collected at the start of fitting.

        Returns:
            A zero that Lightning ignores (manual optimisation, no step).
        """
        return torch.zeros((), device=self.device)

    def _classify(self, batch: Any, split: str) -> Tensor:
        assert self.bank is not None
        x = batch["image"]
        hp = self.hparams
        result = knn_predict(
            self.bank[0],
            self.bank[1],
            self._features(x, split),
            k=hp["k"],
            num_classes=hp["num_classes"],
            task=hp["task"],
            vote=hp["vote"],
            temperature=hp["temperature"],
            block_size=hp["block_size"],
        )
        metrics = getattr(self, f"{split}_metrics")
        metrics(result.scores, batch["label"])
        self.log_dict(metrics, batch_size=x.shape[0])
        return result.prediction

    def _step(self, batch: Any, split: str) -> Tensor:
        self._classify(batch, split)
        return torch.zeros((), device=self.device)

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Classify a test batch and record it for the per-region outputs."""
        self.record_test(batch, self._classify(batch, "test"))

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Return the vote shares of each class (or label)."""
        if self.bank is None:
            self.bank = self.collect_train_features()
        hp = self.hparams
        return knn_predict(
            self.bank[0],
            self.bank[1],
            self._features(batch["image"], "predict"),
            k=hp["k"],
            num_classes=hp["num_classes"],
            task=hp["task"],
            vote=hp["vote"],
            temperature=hp["temperature"],
            block_size=hp["block_size"],
        ).scores
