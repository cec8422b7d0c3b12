"""Run ``torchgeo-composition`` commands for the study's Lightning steps.

A step runs the real CLI on the config written to its folder, as a subprocess by
default (so every step uses whatever strategy, devices and nodes its config
gives) or in the current process (faster for small studies).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Literal

from ..completion import completion_path

__all__ = ["EXECUTORS", "Executor", "run_cli"]

Executor = Literal["subprocess", "inprocess"]

#: How Lightning steps run: a ``python -m torchgeo_composition.cli`` subprocess
#: (default) or the CLI called in the current process (faster for small studies).
EXECUTORS: tuple[str, ...] = ("subprocess", "inprocess")


def run_cli(args: list[str], log: Path, executor: Executor = "subprocess") -> None:
    """Run ``torchgeo-composition ARGS``, appending its output to ``log``.

    The step folder is ``log``'s folder; the run counts as finished only if the
    trainer wrote its ``completed_<stage>.json`` there
    (:class:`~torchgeo_composition.study.completion.RunCompletionMarker`), since a
    run stopped by SIGTERM also exits with code 0.

    Args:
        args: Command-line arguments (e.g. ``["fit", "--config", path]``).
        log: Log file.
        executor: ``subprocess`` or ``inprocess``.

    Raises:
        RuntimeError: If the command fails or was interrupted.
    """
    marker = completion_path(log.parent, args[0])
    marker.unlink(missing_ok=True)
    _run_cli(args, log, executor)
    if not marker.is_file():
        raise RuntimeError(
            f"torchgeo-composition {args[0]} ended without completing (interrupted, "
            f"e.g. by SIGTERM); no {marker.name} was written"
        )


def _run_cli(args: list[str], log: Path, executor: Executor) -> None:
    if executor == "subprocess":
        with log.open("a") as out:
            out.write(
                f"$ {sys.executable} -m torchgeo_composition.cli {' '.join(args)}\n"
            )
            out.flush()
            code = subprocess.call(
                [sys.executable, "-m", "torchgeo_composition.cli", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if code != 0:
            raise RuntimeError(f"torchgeo-composition {args[0]} exited with {code}")
        return
    from ...cli import main

    print(f"$ torchgeo-composition {' '.join(args)}", flush=True)
    try:
        code = main(args)
    except SystemExit as err:  # argument errors of the CLI
        code = err.code if isinstance(err.code, int) else 1
    if code:
        raise RuntimeError(f"torchgeo-composition {args[0]} exited with {code}")
