"""Run one study step from its folder: ``python -m torchgeo_composition.study STEP_DIR``.

These are the commands of a study's ``plan.sh``; a scheduler runs each once the
steps it depends on are done.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .lightning.run import EXECUTORS
from .records import STEP_FILE, Step, read_json
from .steps import run_step


def main(argv: list[str] | None = None) -> int:
    """Run the step whose folder is given.

    Args:
        argv: Arguments (default :data:`sys.argv`).

    Returns:
        0 if the step is done (now or before), 1 if it failed or its inputs are
        not done, 2 if the folder holds no step.
    """
    parser = argparse.ArgumentParser(
        prog="python -m torchgeo_composition.study",
        description="Run one step of a study (a line of its plan.sh).",
    )
    parser.add_argument("step_dir", help="the step's folder (holding step.json)")
    parser.add_argument("--executor", choices=EXECUTORS, default="subprocess")
    args = parser.parse_args(argv)
    data = read_json(Path(args.step_dir) / STEP_FILE)
    if data is None:
        print(
            f"error: {args.step_dir!r} holds no readable {STEP_FILE}", file=sys.stderr
        )
        return 2
    result = run_step(Step.from_dict(data), args.executor)
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
