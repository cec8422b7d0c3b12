"""Keep Lightning's adverts and known-harmless warnings off the console."""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["quiet_lightning"]

#: Log lines of Lightning that advertise other products.
_ADVERTS = ("💡 Tip:", "litlogger", "litmodels", "LitServe", "lightning.ai/")


class _NoAdverts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _ADVERTS)


_FILTER = _NoAdverts()
#: The loggers that print the tips (a logger's filter sees only its own records,
#: a handler's those of its children too).
_LOGGERS = (
    "lightning.pytorch",
    "lightning.fabric",
    "pytorch_lightning",
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)


def quiet_lightning() -> None:
    """Drop Lightning's adverts and warnings that need no action.

    * product tips ("💡 Tip: For seamless cloud ...") from Lightning's loggers;
    * the warning that ``srun`` exists but was not used, outside a Slurm job
      (inside one it points at a real mistake and is kept);
    * a deprecation inside Lightning's own tree utilities (``LeafSpec``);
    * "Checkpoint directory ... exists and is not empty": the command line
      refuses to start a fresh run over an earlier run's ``last.ckpt`` instead.
    """
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    if "SLURM_JOB_ID" not in os.environ:
        warnings.filterwarnings("ignore", message=r"The `srun` command is available")
    # in-process runs (tests, a study's in-process executor) pass their arguments
    warnings.filterwarnings(
        "ignore", message=r"LightningCLI's args parameter is intended"
    )
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
    warnings.filterwarnings(
        "ignore", message=r"Checkpoint directory .* exists and is not empty"
    )
