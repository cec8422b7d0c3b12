"""Read a step's score from the metrics its Lightning run logged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["last_metric"]


def last_metric(metrics_csv: Path, metric: str) -> float:
    """Return the last logged value of ``metric`` in a CSVLogger file.

    Args:
        metrics_csv: ``metrics.csv`` of a :class:`~lightning.pytorch.loggers.CSVLogger`.
        metric: Column name.

    Returns:
        The last non-missing value.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If the metric was never logged (the message lists the
            logged ones).
    """
    if not metrics_csv.is_file():
        raise FileNotFoundError(f"no metrics file {str(metrics_csv)!r}")
    table = pd.read_csv(metrics_csv)
    if metric not in table.columns or table[metric].dropna().empty:
        logged = [c for c in table.columns if c not in ("epoch", "step")]
        raise ValueError(
            f"metric {metric!r} was not logged in {str(metrics_csv)!r}; logged "
            f"metrics are {logged}"
        )
    return float(table[metric].dropna().iloc[-1])
