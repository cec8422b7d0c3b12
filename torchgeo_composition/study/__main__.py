"""Run one study step from its folder: ``python -m torchgeo_composition.study STEP_DIR``.

These are the commands of a study's ``plan.sh``; a scheduler runs each once the
steps it depends on are done.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from jsonargparse import ArgumentParser

from .lightning.run import Executor
from .records import STEP_FILE, Step, read_json
from .steps import run_step


def main(argv: Sequence[str] | None = None) -> int:
    """Run the step whose folder is given.

    Args:
        argv: Arguments (default :data:`sys.argv`).

    Returns:
        0 if the step is done (now or before), 1 if it failed (also when
        another run holds the step), or its inputs are not done, 2 if the folder
        holds no step, 130 after Ctrl-C; SIGTERM ends it (and the Lightning run
        it supervises) with 143.
    """
    parser = ArgumentParser(
        prog="python -m torchgeo_composition.study",
        description="Run one step of a study (a line of its plan.sh).",
    )
    parser.add_argument("step_dir", type=str, help="the step's folder (step.json)")
    parser.add_argument(
        "--executor",
        type=Executor,
        default="subprocess",
        help="run Lightning steps as subprocesses of the CLI or in this process",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    data = read_json(Path(args.step_dir) / STEP_FILE)
    if data is None:
        print(
            f"error: {args.step_dir!r} holds no readable {STEP_FILE}", file=sys.stderr
        )
        return 2
    try:
        result = run_step(Step.from_dict(data), args.executor)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    print(
        f"{result.step.id}: {result.status}"
        + (f" ({result.error})" if result.error else "")
    )
    if result.status in ("failed", "blocked"):
        print(f"log: {result.step.log}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
