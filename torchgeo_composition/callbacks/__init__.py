"""Lightning callbacks that record the diversity and composition of pretraining data.

:class:`DiversityMonitor` logs diversity measures of the training batches
(:class:`SpectralEntropyMonitor`: the spectral entropy, under its historical names);
:class:`CompositionSummary` logs the composition of the pretraining set and stores
it in every checkpoint.
"""

from .composition import CHECKPOINT_KEY, CompositionSummary, read_checkpoint_composition
from .diversity_monitor import DiversityMonitor
from .entropy_monitor import SpectralEntropyMonitor

__all__ = [
    "CHECKPOINT_KEY",
    "CompositionSummary",
    "DiversityMonitor",
    "SpectralEntropyMonitor",
    "read_checkpoint_composition",
]
