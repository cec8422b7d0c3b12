"""The study's Lightning steps: their configs, their checks, running them, scores.

- :mod:`.configs`: the resolved ``fit`` configs of pretraining and probe steps;
- :mod:`.checks`: parsing every model and datamodule of a study up front;
- :mod:`.preflight`: building each of them once, cheaply, before any step runs;
- :mod:`.run`: running ``torchgeo-composition`` for a step (subprocess or
  in-process) and telling a finished run from an interrupted one;
- :mod:`.metrics`: the score a run logged.
"""

from .checks import check_lightning_configs, instantiate
from .configs import pretrain_config, probe_config, selection_of, write_yaml
from .metrics import last_metric
from .preflight import preflight
from .run import EXECUTORS, Executor, run_cli

__all__ = [
    "EXECUTORS",
    "Executor",
    "check_lightning_configs",
    "instantiate",
    "last_metric",
    "preflight",
    "pretrain_config",
    "probe_config",
    "run_cli",
    "selection_of",
    "write_yaml",
]
