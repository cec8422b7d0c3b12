"""trainers."""

from .distillation import DistillationTask
from .fusion import FusionClassificationTask, FusionSegmentationTask
from .satmae import SatMAETask

__all__ = [
    "DistillationTask",
    "FusionClassificationTask",
    "FusionSegmentationTask",
    "SatMAETask",
]
