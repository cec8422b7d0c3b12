"""``torchgeo-composition study``: run a comparative study from one YAML file.

Composes every pretraining set, measures its diversity, pretrains SatMAE on it
(per seed), exports the encoder, probes it on every downstream task (repeated),
and writes ``results.csv`` / ``results.md``, the correlation of each diversity
measure with the mean score (table and scatter plots) and a panel of composition
maps. Reruns skip finished steps; ``--plan`` only writes the steps and their
commands for a cluster scheduler.
"""

from __future__ import annotations

import argparse
import sys

from ..study import EXECUTORS, load_study, run_study

__all__ = ["build_parser", "main"]

PROG = "torchgeo-composition study"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``study`` command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Run a comparative study: compositions x pretraining seeds x downstream "
            "evaluations, then the results table, correlations and maps. Finished "
            "steps are skipped on a rerun."
        ),
    )
    parser.add_argument("--config", "-c", required=True, help="study YAML file")
    parser.add_argument(
        "--output-dir", default=None, help="study directory (overrides output_dir)"
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="only write plan.json (steps, dependencies) and plan.sh (one command "
        "per step) into the study directory",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reuse a study directory that holds a different study config",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="subprocess",
        help="run Lightning steps as subprocesses of the CLI (default; any "
        "strategy/devices) or in this process",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after running this many steps (finished steps do not count)",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run the command.

    Args:
        argv: Arguments after ``study``.

    Returns:
        0 when the study is complete (or planned), 1 when a step failed, 2 on bad
        input (message on stderr), 3 when stopped by ``--max-steps``.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.max_steps is not None and args.max_steps < 0:
            raise ValueError(f"--max-steps must be >= 0, got {args.max_steps}")
        study = load_study(args.config, output_dir=args.output_dir)
        report = run_study(
            study,
            executor=args.executor,
            force=args.force,
            max_steps=args.max_steps,
            plan_only=args.plan,
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    if report.plan is not None:
        json_path, sh_path = report.plan
        print(f"wrote {json_path} and {sh_path}")
        return 0
    if report.failed:
        return 1
    if report.stopped:
        return 3
    return 0
