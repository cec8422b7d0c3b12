"""Lightning callbacks that record the diversity and composition of pretraining data.

:class:`SpectralEntropyMonitor` logs the spectral entropy of the training batches;
:class:`CompositionSummary` logs the composition of the pretraining set and stores
it in every checkpoint.
"""

from .composition import CHECKPOINT_KEY, CompositionSummary, read_checkpoint_composition
from .entropy_monitor import SpectralEntropyMonitor

__all__ = [
    "CHECKPOINT_KEY",
    "CompositionSummary",
    "SpectralEntropyMonitor",
    "read_checkpoint_composition",
]
