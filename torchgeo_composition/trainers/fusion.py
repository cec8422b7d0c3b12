"""Tasks training a :class:`~torchgeo_composition.models.FeatureFusion`.

:class:`FusionClassificationTask` (multiclass or multilabel; one frozen backbone
and a linear head is a linear probe) and :class:`FusionSegmentationTask` work with
any TorchGeo datamodule (batches with ``image`` and ``label`` or ``mask``) and
with ours; the data's band names are the ``bands`` hyperparameter. With
``freeze_backbones: false`` and ``layer_decay`` the classification task is the
fine-tuning protocol (layer-wise learning-rate decay,
:mod:`~torchgeo_composition.trainers.finetune`); its test step writes per-sample
predictions and, with ``regions``, per-region metrics
(:mod:`~torchgeo_composition.trainers.regional`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import Accuracy, FBetaScore, JaccardIndex

from ..compat import BaseTask
from ..models.fusion.cache import FeatureCache
from ..models.fusion.model import FeatureFusion, InputNormalization
from ._fusion_cache import CacheMixin
from .finetune import check_layer_decay, layer_decay_param_groups
from .regional import RegionalTestMixin

__all__ = [
    "BaseFusionTask",
    "FusionClassificationTask",
    "FusionSegmentationTask",
    "check_num_classes",
]


def check_num_classes(num_classes: int | None, task: str) -> int:
    """Validate ``num_classes``.

    Args:
        num_classes: The value given.
        task: Task name for the message.

    Returns:
        ``num_classes``.

    Raises:
        ValueError: If missing or < 2.
    """
    if num_classes is None or int(num_classes) < 2:
        raise ValueError(
            f"num_classes={num_classes!r} is invalid for {task}: give the number of "
            "classes (or labels for multilabel), an integer >= 2"
        )
    return int(num_classes)


class BaseFusionTask(BaseTask):
    """Shared parts of the fusion tasks: model, input statistics, steps, optimiser."""

    model: FeatureFusion

    def _build(
        self,
        num_outputs: int,
        decoder: Literal["upernet"] | None,
        **fixed: Any,
    ) -> None:
        hp = dict(self.hparams) | fixed
        if not hp["bands"]:
            raise ValueError("bands is empty; give the data's band names in order")
        self.model = FeatureFusion(
            backbones=hp["backbones"],
            bands=hp["bands"],
            num_classes=num_outputs,
            fusion=hp["fusion"],
            freeze=bool(hp.get("freeze", hp.get("freeze_backbones", True))),
            projection_dim=hp["projection_dim"],
            head=hp.get("head", "linear"),
            head_hidden_dim=hp.get("head_hidden_dim", 256),
            dropout=hp.get("dropout", 0.0),
            decoder=decoder,
            decoder_channels=hp.get("decoder_channels", 64),
            input_normalization=hp["input_normalization"],
        )
        if hp["input_mean"] is not None or hp["input_std"] is not None:
            if hp["input_mean"] is None or hp["input_std"] is None:
                raise ValueError("input_mean and input_std must be given together")
            self.model.set_input_stats(hp["input_mean"], hp["input_std"])

    def setup(self, stage: str) -> None:
        """Take the datamodule's ``mean``/``std`` for ``input_normalization: backbone``.

        Args:
            stage: Lightning stage.
        """
        hp = self.hparams
        dm = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if hp["input_normalization"] == "backbone" and hp["input_mean"] is None:
            mean, std = getattr(dm, "mean", None), getattr(dm, "std", None)
            if mean is not None and std is not None:
                self.model.set_input_stats(mean, std)

    def configure_metrics(self) -> None:
        """Overall and average accuracy, Jaccard index, F1 (as TorchGeo).

        Classification metrics of ``task`` (multiclass or multilabel) with
        ``num_classes`` classes or labels; segmentation overrides them.
        """
        kwargs: dict[str, Any] = {"task": self.hparams["task"]}
        if self.hparams["task"] == "multiclass":
            kwargs["num_classes"] = self.hparams["num_classes"]
        else:
            kwargs["num_labels"] = self.hparams["num_classes"]
        metrics = MetricCollection(
            {
                "OverallAccuracy": Accuracy(average="micro", **kwargs),
                "AverageAccuracy": Accuracy(average="macro", **kwargs),
                "JaccardIndex": JaccardIndex(**kwargs),
                "F1Score": FBetaScore(beta=1.0, average="micro", **kwargs),
            }
        )
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")

    def _step(self, batch: Any, split: str) -> Tensor:
        """Compute and log the loss and metrics of one batch of ``split``."""
        raise NotImplementedError

    def training_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Compute the training loss and metrics."""
        return self._step(batch, "train")

    def validation_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        """Compute the validation loss and metrics."""
        self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Compute the test loss and metrics."""
        self._step(batch, "test")

    def predict_step(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> Tensor:
        """Return class probabilities (sigmoid for multilabel, else softmax)."""
        y_hat: Tensor = self.model(batch["image"])
        if self.hparams.get("task") == "multilabel":
            return y_hat.sigmoid()
        return y_hat.softmax(dim=1)

    def configure_optimizers(self) -> Any:
        """AdamW on trainable parameters and ReduceLROnPlateau, as TorchGeo.

        With a ``layer_decay`` hyperparameter, the parameters are grouped by
        depth with layer-wise learning rates (:func:`layer_decay_param_groups`).
        """
        hp = self.hparams
        decay = hp.get("weight_decay", 0.01)
        params: Any = [p for p in self.parameters() if p.requires_grad]
        if hp.get("layer_decay") is not None:
            params = layer_decay_param_groups(
                self.model, hp["lr"], decay, hp["layer_decay"]
            )
        optimizer = torch.optim.AdamW(params, lr=hp["lr"], weight_decay=decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, patience=self.hparams["patience"]
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor},
        }


class FusionClassificationTask(CacheMixin, RegionalTestMixin, BaseFusionTask):
    """Image classification with fused backbone features."""

    def __init__(
        self,
        backbones: Sequence[str | dict[str, Any]],
        bands: Sequence[str],
        task: Literal["multiclass", "multilabel"] = "multiclass",
        num_classes: int | None = None,
        fusion: Literal["concat", "mean", "weighted", "attention"] = "concat",
        freeze_backbones: bool = True,
        projection_dim: int | None = None,
        head: Literal["linear", "mlp"] = "linear",
        head_hidden_dim: int = 256,
        dropout: float = 0.0,
        input_normalization: InputNormalization = "datamodule",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        feature_cache: str | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        weight_decay: float = 0.01,
        layer_decay: float | None = None,
        regions: str | None = None,
        region_attribute: str | None = None,
        min_region_samples: int = 10,
    ) -> None:
        """Initialise a new FusionClassificationTask.

        Args:
            backbones: Registry names or spec mappings (``name``, ``frozen``,
                ``weights``, ``input_size``, ``normalize``, factory arguments).
            bands: Band names of the data's images, in order.
            task: ``"multiclass"`` (cross-entropy) or ``"multilabel"`` (BCE).
            num_classes: Number of classes (labels for multilabel), >= 2.
            fusion: ``"concat"``, ``"mean"``, ``"weighted"`` or ``"attention"``.
            freeze_backbones: Default ``frozen`` of each backbone.
            projection_dim: Per-backbone projection size before fusion.
            head: ``"linear"`` or ``"mlp"``.
            head_hidden_dim: Hidden width of the MLP head.
            dropout: Head dropout.
            input_normalization: ``"datamodule"`` (use inputs as delivered) or
                ``"backbone"`` (undo the datamodule's ``mean``/``std``, apply
                each backbone's own normalisation).
            input_mean: The data's normalisation mean (default: datamodule's).
            input_std: The data's normalisation std (default: datamodule's).
            feature_cache: Directory of the frozen-feature cache, or ``None``.
                Needs all backbones frozen and train augmentation off.
            lr: Learning rate (of the head, with ``layer_decay``).
            patience: Patience of the learning-rate scheduler.
            weight_decay: AdamW weight decay.
            layer_decay: Layer-wise learning-rate decay in (0, 1] for
                fine-tuning (SatMAE uses 0.75), or ``None`` for one rate.
            regions: ``"continent"``, a polygon file (with
                ``region_attribute``) or ``None``: per-region test metrics.
            region_attribute: Column of the polygon file naming the regions.
            min_region_samples: Regions with fewer test samples are reported
                (count) without a metric.

        Raises:
            ValueError: On an invalid argument (see :class:`FeatureFusion`),
                ``num_classes`` missing or < 2, a cache with trainable
                backbones, or an unwritable cache directory.
        """
        super().__init__()

    def configure_models(self) -> None:
        """Build the fusion model (and open the feature cache)."""
        hp = self.hparams
        if hp["task"] not in ("multiclass", "multilabel"):
            raise ValueError(
                f"task={hp['task']!r} is invalid; valid choices: "
                "('multiclass', 'multilabel')"
            )
        num = check_num_classes(hp["num_classes"], "FusionClassificationTask")
        self._build(num, None)
        check_layer_decay(hp["layer_decay"])
        self.configure_regions()
        self.cache: FeatureCache | None = None
        if hp["feature_cache"] is not None:
            trainable = [
                s["name"] for s in self.model.specs if not s["frozen"]
            ]  # validated before touching the disk
            if trainable:
                raise ValueError(
                    f"feature_cache needs every backbone frozen; {trainable} are "
                    "trainable (set freeze_backbones: true or feature_cache: null)"
                )
            self.cache = FeatureCache(hp["feature_cache"])

    def configure_losses(self) -> None:
        """Cross-entropy (multiclass) or BCE with logits (multilabel)."""
        if self.hparams["task"] == "multiclass":
            self.criterion: nn.Module = nn.CrossEntropyLoss()
        else:
            self.criterion = nn.BCEWithLogitsLoss()

    def _logits(self, x: Tensor, split: str) -> Tensor:
        if self.cache is not None and split in self.cached:
            return self.model.head_from_features(self.cached_features(x, split))
        return self.model(x)

    def _step(self, batch: Any, split: str) -> Tensor:
        x, y = batch["image"], batch["label"]
        y_hat = self._logits(x, split)
        metrics: MetricCollection = getattr(self, f"{split}_metrics")
        metrics(y_hat, y)
        self.log_dict(metrics, batch_size=x.shape[0])
        target = y.float() if self.hparams["task"] == "multilabel" else y
        loss: Tensor = self.criterion(y_hat, target)
        self.log(f"{split}_loss", loss, batch_size=x.shape[0])
        if split == "test":
            multilabel = self.hparams["task"] == "multilabel"
            pred = (y_hat > 0).long() if multilabel else y_hat.argmax(dim=1)
            self.record_test(batch, pred)
        return loss


class FusionSegmentationTask(RegionalTestMixin, BaseFusionTask):
    """Semantic segmentation with a UPerNet decoder over fused backbone maps."""

    def __init__(
        self,
        backbones: Sequence[str | dict[str, Any]],
        bands: Sequence[str],
        num_classes: int | None = None,
        fusion: Literal["concat", "mean", "weighted", "attention"] = "concat",
        freeze_backbones: bool = True,
        projection_dim: int | None = None,
        decoder: Literal["upernet"] = "upernet",
        decoder_channels: int = 64,
        input_normalization: InputNormalization = "datamodule",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        ignore_index: int | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        regions: str | None = None,
        region_attribute: str | None = None,
        min_region_samples: int = 10,
    ) -> None:
        """Initialise a new FusionSegmentationTask.

        Args:
            backbones: Registry names or spec mappings (see
                :class:`FusionClassificationTask`).
            bands: Band names of the data's images, in order.
            num_classes: Number of classes, >= 2.
            fusion: Fusion of the per-level maps.
            freeze_backbones: Default ``frozen`` of each backbone.
            projection_dim: Per-backbone 1x1-conv projection before fusion.
            decoder: ``"upernet"``.
            decoder_channels: Decoder width.
            input_normalization: See :class:`FusionClassificationTask`.
            input_mean: The data's normalisation mean (default: datamodule's).
            input_std: The data's normalisation std (default: datamodule's).
            ignore_index: Mask value ignored by loss and metrics.
            lr: Learning rate.
            patience: Patience of the learning-rate scheduler.
            regions: Per-region test metrics (see
                :class:`FusionClassificationTask`).
            region_attribute: Column of a polygon file naming the regions.
            min_region_samples: Smallest region scored.

        Raises:
            ValueError: On an invalid argument or ``num_classes`` missing or < 2.
        """
        super().__init__()

    def configure_models(self) -> None:
        """Build the fusion model with its decoder."""
        num = check_num_classes(self.hparams["num_classes"], "FusionSegmentationTask")
        self._build(num, self.hparams["decoder"])
        self.configure_regions()

    def configure_losses(self) -> None:
        """Cross-entropy, ignoring ``ignore_index``."""
        ignore = self.hparams["ignore_index"]
        self.criterion = nn.CrossEntropyLoss(
            ignore_index=-1000 if ignore is None else ignore
        )

    def configure_metrics(self) -> None:
        """Pixel accuracy and Jaccard index (micro), as TorchGeo."""
        kwargs = {
            "task": "multiclass",
            "num_classes": self.hparams["num_classes"],
            "ignore_index": self.hparams["ignore_index"],
        }
        metrics = MetricCollection(
            {
                "Accuracy": Accuracy(
                    multidim_average="global", average="micro", **kwargs
                ),
                "JaccardIndex": JaccardIndex(average="micro", **kwargs),
            }
        )
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")

    def _step(self, batch: Any, split: str) -> Tensor:
        x, y = batch["image"], batch["mask"]
        if y.ndim == 4:
            y = y.squeeze(1)
        y = y.long()
        y_hat = self.model(x)
        metrics: MetricCollection = getattr(self, f"{split}_metrics")
        metrics(y_hat, y)
        self.log_dict(metrics, batch_size=x.shape[0])
        loss: Tensor = self.criterion(y_hat, y)
        self.log(f"{split}_loss", loss, batch_size=x.shape[0])
        if split == "test":
            ignore = self.hparams["ignore_index"]
            self.record_test(batch, y_hat.argmax(dim=1), y, ignore)
        return loss
