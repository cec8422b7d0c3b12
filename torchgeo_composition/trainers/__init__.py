"""trainers."""

from .distillation import DistillationTask
from .finetune import layer_decay_param_groups
from .fusion import FusionClassificationTask, FusionSegmentationTask
from .knn import KNNClassificationTask
from .protocols import PROTOCOLS, check_protocol, protocol_model
from .satmae import SatMAETask

__all__ = [
    "PROTOCOLS",
    "DistillationTask",
    "FusionClassificationTask",
    "FusionSegmentationTask",
    "KNNClassificationTask",
    "SatMAETask",
    "check_protocol",
    "layer_decay_param_groups",
    "protocol_model",
]
