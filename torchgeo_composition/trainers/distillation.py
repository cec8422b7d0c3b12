"""Knowledge distillation of a trained teacher into a compact student.

The teacher is a trained task checkpoint (a :class:`FusionClassificationTask`
ensemble, or any task such as TorchGeo's ``ClassificationTask``), frozen and run
without gradients. The student is one registry backbone plus a head. The loss is

``alpha * CE(student, y) + beta * T^2 * KL(softmax(teacher / T) || softmax(student / T))``

(BCE and a per-label binary KL for multilabel tasks), plus optionally
``feature_weight * MSE(P(student features), teacher fused features)`` with a
learned projection ``P``.
"""

from __future__ import annotations

import importlib
import inspect
import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters
from torch import Tensor, nn

from ..bands import band_indices
from ..models.fusion.model import InputNormalization
from ..serialization import checkpoint_globals, load_checkpoint, preview
from .fusion import (
    BaseFusionTask,
    FusionClassificationTask,
    check_num_classes,
)

__all__ = ["DistillationTask", "distillation_loss", "load_teacher"]


def distillation_loss(
    student: Tensor,
    teacher: Tensor,
    target: Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    temperature: float = 1.0,
    task: Literal["multiclass", "multilabel"] = "multiclass",
) -> tuple[Tensor, Tensor, Tensor]:
    """Hard-label loss plus temperature-scaled KL to the teacher.

    Args:
        student: Student logits ``(N, K)``.
        teacher: Teacher logits ``(N, K)``.
        target: Class indices ``(N,)`` or multi-hot labels ``(N, K)``.
        alpha: Weight of the hard-label loss.
        beta: Weight of the distillation term.
        temperature: Softmax temperature ``T`` (the KL term is scaled by T^2).
        task: ``"multiclass"`` (CE, softmax KL) or ``"multilabel"`` (BCE, binary
            KL per label averaged over labels).

    Returns:
        ``(total, hard, soft)`` where ``soft`` is the unscaled KL.
    """
    t = temperature
    if task == "multiclass":
        hard = F.cross_entropy(student, target)
        soft = F.kl_div(
            F.log_softmax(student / t, dim=1),
            F.log_softmax(teacher / t, dim=1),
            reduction="batchmean",
            log_target=True,
        )
    else:
        hard = F.binary_cross_entropy_with_logits(student, target.float())
        p_t = torch.sigmoid(teacher / t)
        log_s, log_1s = F.logsigmoid(student / t), F.logsigmoid(-student / t)
        log_t, log_1t = F.logsigmoid(teacher / t), F.logsigmoid(-teacher / t)
        soft = (p_t * (log_t - log_s) + (1 - p_t) * (log_1t - log_1s)).mean()
    return alpha * hard + beta * t * t * soft, hard, soft


#: ``weights_only=True`` for Lightning's own load, where it takes the argument
#: (older versions use torch's default; the same file was just read safely).
_WEIGHTS_ONLY: dict[str, Any] = (
    {"weights_only": True}
    if "weights_only"
    in inspect.signature(LightningModule.load_from_checkpoint).parameters
    else {}
)

#: torch's message for a state-dict entry of another shape.
_SIZE_MISMATCH = re.compile(
    r"size mismatch for ([^:\s]+): copying a param with shape torch\.Size\(\[([^\]]*)"
    r"\]\) from checkpoint, the shape in current model is torch\.Size\(\[([^\]]*)\]\)"
)


def _brief(err: BaseException) -> str:
    """One short line for a failed load: shape mismatches listed, else line one."""
    sizes = _SIZE_MISMATCH.findall(str(err))
    if sizes:
        shown = [f"{k}: checkpoint ({a}) vs model ({b})" for k, a, b in sizes[:3]]
        more = f"; and {len(sizes) - 3} more" if len(sizes) > 3 else ""
        return f"{len(sizes)} shapes differ: " + "; ".join(shown) + more
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def load_teacher(path: str, teacher_class: str | None = None) -> LightningModule:
    """Load a frozen teacher from a Lightning checkpoint.

    The file is read with ``weights_only=True`` and the allow-list of
    :func:`~torchgeo_composition.serialization.load_checkpoint`; nothing in it
    is run.

    Args:
        path: Checkpoint file.
        teacher_class: ``module.Class`` of the task; by default a fusion
            checkpoint (``backbones`` in its hyperparameters) loads as
            :class:`FusionClassificationTask`, others as TorchGeo's
            ``ClassificationTask``.

    Returns:
        The teacher in eval mode with gradients disabled.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a checkpoint, holds a type outside the
            allow-list, is not a Lightning task checkpoint or does not load as the
            class (missing, unexpected or reshaped weights are listed briefly).
    """
    label = f"teacher {str(path)!r}"
    ckpt = load_checkpoint(path, "teacher")
    hparams = ckpt.get("hyper_parameters")
    state = ckpt.get("state_dict")
    lightning = "pytorch-lightning_version" in ckpt
    if not isinstance(hparams, dict) or not isinstance(state, dict) or not lightning:
        raise ValueError(
            f"{label} is not a Lightning task checkpoint (expected 'state_dict', "
            "'hyper_parameters' and 'pytorch-lightning_version'; found keys "
            f"{preview(sorted(map(str, ckpt)))}); train the teacher with 'fit' first"
        )
    overrides: dict[str, Any] = {}
    if teacher_class is None:
        if "backbones" in hparams:
            cls: Any = FusionClassificationTask
        else:
            from ..compat import ClassificationTask as cls
    else:
        module, _, name = teacher_class.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
    if cls is FusionClassificationTask:
        overrides["feature_cache"] = None
        if "input_normalization" not in hparams and "normalization" in hparams:
            # checkpoints written before the argument was renamed
            overrides["input_normalization"] = hparams["normalization"]
    # LightningCLI passes the hyperparameters of the task being built through a
    # context variable; clear it so the teacher records its own.
    token = _given_hyperparameters.set(None)
    try:
        with checkpoint_globals(), warnings.catch_warnings():
            # strict=False: missing and unexpected keys are reported below, briefly
            warnings.filterwarnings("ignore", "Found keys that are")
            teacher: LightningModule = cls.load_from_checkpoint(
                path, map_location="cpu", strict=False, **_WEIGHTS_ONLY, **overrides
            )
    except Exception as err:
        writer = hparams.get("_class_path")
        hint = f" (it was written by {writer})" if isinstance(writer, str) else ""
        raise ValueError(
            f"{label} does not load as {cls.__name__}{hint}: {_brief(err)}"
        ) from err
    finally:
        _given_hyperparameters.reset(token)
    expected = teacher.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ValueError(
            f"{label} does not load as {cls.__name__}: a checkpoint of another "
            f"architecture? missing {preview(missing, 3)}, unexpected "
            f"{preview(unexpected, 3)}"
        )
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


class DistillationTask(BaseFusionTask):
    """Distil a teacher checkpoint into one registry backbone plus a head."""

    def __init__(
        self,
        teacher: str,
        student: str | dict[str, Any],
        bands: Sequence[str],
        task: Literal["multiclass", "multilabel"] = "multiclass",
        num_classes: int | None = None,
        teacher_class: str | None = None,
        alpha: float = 1.0,
        beta: float = 1.0,
        temperature: float = 4.0,
        feature_weight: float = 0.0,
        freeze_student: bool = False,
        head: Literal["linear", "mlp"] = "linear",
        input_normalization: InputNormalization = "datamodule",
        input_mean: Sequence[float] | None = None,
        input_std: Sequence[float] | None = None,
        lr: float = 1e-3,
        patience: int = 10,
    ) -> None:
        """Initialise a new DistillationTask.

        Args:
            teacher: Teacher checkpoint file.
            student: Student backbone (registry name or spec mapping).
            bands: Band names of the data's images, in order.
            task: ``"multiclass"`` or ``"multilabel"``; must match the teacher.
            num_classes: Number of classes (labels); must match the teacher.
            teacher_class: ``module.Class`` of the teacher task (see
                :func:`load_teacher`).
            alpha: Weight of the hard-label loss.
            beta: Weight of the distillation term.
            temperature: Distillation temperature ``T > 0``.
            feature_weight: Weight of the feature-distillation MSE (needs a
                fusion teacher); 0 disables it.
            freeze_student: Freeze the student backbone (distil into the head).
            head: Student head, ``"linear"`` or ``"mlp"``.
            input_normalization: See :class:`FusionClassificationTask`.
            input_mean: The data's normalisation mean.
            input_std: The data's normalisation std.
            lr: Learning rate.
            patience: Patience of the learning-rate scheduler.

        Raises:
            FileNotFoundError: If the teacher checkpoint does not exist.
            ValueError: If the teacher does not fit (classes, task, bands or
                output shape) or an argument is invalid.
        """
        super().__init__()

    def configure_models(self) -> None:
        """Build the student, load and check the teacher."""
        hp = self.hparams
        num = check_num_classes(hp["num_classes"], "DistillationTask")
        if hp["temperature"] <= 0:
            raise ValueError(f"temperature={hp['temperature']} must be > 0")
        self._build(
            num,
            None,
            backbones=[hp["student"]],
            fusion="concat",
            freeze=hp["freeze_student"],
            projection_dim=None,
        )
        teacher = load_teacher(hp["teacher"], hp["teacher_class"])
        self._check_teacher(teacher, num)
        self.__dict__["teacher"] = teacher  # not a submodule: not saved, not trained
        if hp["feature_weight"] > 0:
            fused = getattr(getattr(teacher, "model", None), "fused_features", None)
            if fused is None:
                raise ValueError(
                    "feature_weight > 0 needs a fusion teacher "
                    "(FusionClassificationTask checkpoint); got "
                    f"{type(teacher).__name__}"
                )
            teacher_dim = int(teacher.model.feature_dim)  # type: ignore[union-attr,arg-type]
            self.projector = nn.Linear(self.model.feature_dim, teacher_dim)

    def _check_teacher(self, teacher: LightningModule, num: int) -> None:
        hp, thp = self.hparams, teacher.hparams
        t_classes = thp.get("num_classes") or thp.get("num_labels")
        t_task = thp.get("task", "multiclass")
        if t_classes != num or t_task != hp["task"]:
            raise ValueError(
                f"teacher={hp['teacher']!r} predicts {t_classes} classes "
                f"({t_task}) but the student is configured for {num} "
                f"({hp['task']}); set num_classes/task to match the teacher"
            )
        t_bands = thp.get("bands")
        if t_bands is not None:
            band_indices(hp["bands"], t_bands)  # names any band the data lacks
            if list(t_bands) != list(hp["bands"]):
                raise ValueError(
                    f"teacher={hp['teacher']!r} takes bands {list(t_bands)} but "
                    f"the data's bands are {list(hp['bands'])}; use the same bands"
                )
        elif thp.get("in_channels", len(hp["bands"])) != len(hp["bands"]):
            raise ValueError(
                f"teacher={hp['teacher']!r} takes {thp.get('in_channels')} channels "
                f"but bands has {len(hp['bands'])}"
            )
        size = self.model.get_backbone(0).input_size or 64
        with torch.no_grad():
            out = teacher(torch.zeros(1, len(hp["bands"]), size, size))
        if tuple(out.shape) != (1, num):
            raise ValueError(
                f"teacher={hp['teacher']!r} returns logits of shape "
                f"{tuple(out.shape)} for one image; expected (1, {num})"
            )

    @property
    def teacher(self) -> LightningModule:
        """The frozen teacher (not part of this task's state dict)."""
        teacher: LightningModule = self.__dict__["teacher"]
        return teacher

    def _step(self, batch: Any, split: str) -> Tensor:
        hp = self.hparams
        x, y = batch["image"], batch["label"]
        teacher = self.teacher
        if teacher.device != x.device:
            teacher.to(x.device)
        with torch.no_grad():
            t_logits = teacher(x)
        feats = self.model.fused_features(x)
        s_logits = self.model.head(feats)
        loss, hard, soft = distillation_loss(
            s_logits,
            t_logits,
            y,
            hp["alpha"],
            hp["beta"],
            hp["temperature"],
            hp["task"],
        )
        if hp["feature_weight"] > 0:
            with torch.no_grad():
                t_feats = teacher.model.fused_features(x)  # type: ignore[union-attr,operator]
            feat_loss = F.mse_loss(self.projector(feats), t_feats)
            loss = loss + hp["feature_weight"] * feat_loss
            self.log(f"{split}_feature_loss", feat_loss, batch_size=x.shape[0])
        self.log(f"{split}_hard_loss", hard, batch_size=x.shape[0])
        self.log(f"{split}_kd_loss", soft, batch_size=x.shape[0])
        self.log(f"{split}_loss", loss, batch_size=x.shape[0])
        metrics = getattr(self, f"{split}_metrics")
        metrics(s_logits, y)
        self.log_dict(metrics, batch_size=x.shape[0])
        return loss
