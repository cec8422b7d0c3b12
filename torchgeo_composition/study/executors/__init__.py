"""Where a study's steps run: on this machine (``jobs`` at a time) or on Slurm.

- :mod:`.local`: a dependency-ordered scheduler with warm worker processes;
- :mod:`.resources`: CPU threads and devices of each parallel slot;
- :mod:`.slurm`: one Slurm job per step through ``submitit``, with
  dependencies between the jobs;
- :mod:`.jobs`: what a step's Slurm job runs, and the resources it asks for.
"""

from .local import (
    LOCAL_MODES,
    LocalMode,
    critical_order,
    hidden_slurm_env,
    lightning_mode,
    run_local,
)
from .resources import Slot, available_cores, plan_slots, uses_gpus

__all__ = [
    "LOCAL_MODES",
    "LocalMode",
    "Slot",
    "available_cores",
    "critical_order",
    "hidden_slurm_env",
    "lightning_mode",
    "plan_slots",
    "run_local",
    "uses_gpus",
]
