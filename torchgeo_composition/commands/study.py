r"""``torchgeo-composition study``: run a comparative study from one YAML file.

Composes every pretraining set, measures its diversity, pretrains SatMAE on it
(per seed), exports the encoder, probes it on every downstream task (repeated),
and writes ``results.csv`` / ``results.md``, the correlation of each diversity
measure with the mean score (table and scatter plots) and a panel of composition
maps. Reruns skip finished steps. Steps run on this machine (``--jobs N`` at a
time) or as Slurm jobs (``--executor slurm``); ``--plan`` only writes the steps
and their commands::

    torchgeo-composition study --config configs/study/demo.yaml --jobs 2
    torchgeo-composition study --config configs/study/demo.yaml --executor slurm
    torchgeo-composition study --config configs/study/demo.yaml --budget 30 \
        --output-dir /tmp/small --plan
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence

from jsonargparse import ArgumentError, ArgumentParser

from ..cli.errors import debug_requested
from ..study import run_study, study_from_config, study_parser
from ..study.executors.slurm import SlurmOptions
from ..study.runner import StudyExecutor
from .common import INPUT_ERRORS, fail

__all__ = ["build_parser", "main"]

PROG = "torchgeo-composition study"


def build_parser() -> ArgumentParser:
    """Return the argument parser of the ``study`` command.

    Returns:
        A jsonargparse parser taking ``--config``, every study key and the
        command's own options.
    """
    parser = study_parser(
        prog=PROG,
        description=(
            "Run a comparative study: compositions x pretraining seeds x downstream "
            "evaluations, then the results table, correlations and maps. Finished "
            "steps are skipped on a rerun."
        ),
    )
    group = parser.add_argument_group("Running the study")
    group.add_argument(
        "--plan",
        action="store_true",
        help="only write plan.json (steps, dependencies) and plan.sh (one command "
        "per step) into the study directory",
    )
    group.add_argument(
        "--force",
        action="store_true",
        help="reuse a study directory that holds a different study config",
    )
    group.add_argument(
        "--executor",
        type=StudyExecutor,
        default="local",
        help="where steps run: local (default: this machine; pretraining in a new "
        "process, other steps in a warm one), slurm (one Slurm job per step, "
        "submitted with submitit), or locally with every Lightning step in a new "
        "process (subprocess) or in the step's process (inprocess)",
    )
    group.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=1,
        help="steps to run at a time on this machine (independent steps in "
        "parallel, each with its share of the CPU threads and GPUs); capped to "
        "the cores and GPUs",
    )
    slurm = parser.add_argument_group("Slurm jobs (--executor slurm)")
    slurm.add_argument(
        "--slurm_partition",
        type=str | None,
        default=None,
        help="partition of the jobs (default: the cluster's)",
    )
    slurm.add_argument(
        "--slurm_time", type=int, default=240, help="time limit of each job in minutes"
    )
    slurm.add_argument(
        "--slurm_cpus_per_task",
        type=int,
        default=1,
        help="CPUs per task (also the step's OMP_NUM_THREADS)",
    )
    slurm.add_argument(
        "--slurm_mem_gb",
        type=float | None,
        default=None,
        help="memory per node in GB (default: the cluster's)",
    )
    slurm.add_argument(
        "--slurm_account", type=str | None, default=None, help="account to charge"
    )
    slurm.add_argument(
        "--slurm_setup",
        type=list[str],
        default=[],
        help="shell lines each job runs first (e.g. module load ...)",
    )
    slurm.add_argument(
        "--slurm_no_wait",
        action="store_true",
        help="submit and return; run the same command again to watch",
    )
    slurm.add_argument(
        "--slurm_poll",
        type=float,
        default=5.0,
        help="seconds between two looks at the queue while watching",
    )
    group.add_argument(
        "--max_steps",
        "--max-steps",
        type=int | None,
        default=None,
        help="stop after running this many steps (finished steps do not count)",
    )
    return parser


def _config_files(argv: Sequence[str]) -> list[str]:
    files = [b for a, b in itertools.pairwise(argv) if a in ("--config", "-c")]
    return files + [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]


def _yaml_error(err: ArgumentError, argv: Sequence[str]) -> Exception:
    """Say in one line which study file is malformed, and where (line, column)."""
    message = str(err)
    files = _config_files(argv)
    name = repr(files[0]) if len(files) == 1 else "(one of the --config files)"
    if message.startswith("Problems parsing config"):
        detail = " ".join(message.split(":", 1)[1].split())
        detail = detail.replace('"<unicode string>"', name)
        return ValueError(f"study config {name} is not valid YAML: {detail}")
    if message.startswith("Unexpected config"):
        got = message.split(":", 1)[1].strip() or "an empty file"
        return ValueError(
            f"study config {name} must be a mapping of study keys (name, pool, "
            f"compositions ...), got {got}"
        )
    return err


def main(argv: Sequence[str]) -> int:
    """Run the command.

    Args:
        argv: Arguments after ``study``; ``--debug`` anywhere (or
            ``TORCHGEO_COMPOSITION_DEBUG=1``) prints the traceback of bad input
            above its error line.

    Returns:
        0 when the study is complete (or planned, or its Slurm jobs are
        submitted with ``--slurm_no_wait``), 1 when a step failed, 2 on bad
        input (one ``error:`` line on stderr; also when another run holds the
        study directory), 3 when stopped by ``--max-steps``, 130 after Ctrl-C.
        SIGTERM ends the study (and the step it runs) with 143.
    """
    parser = build_parser()
    args = list(argv)
    debug = debug_requested(args)
    try:
        config = parser.parse_args(args)
        report = run_study(
            study_from_config(parser, config),
            executor=config.executor,
            force=config.force,
            max_steps=config.max_steps,
            plan_only=config.plan,
            jobs=config.jobs,
            slurm=SlurmOptions(
                partition=config.slurm_partition,
                time_min=config.slurm_time,
                cpus_per_task=config.slurm_cpus_per_task,
                mem_gb=config.slurm_mem_gb,
                account=config.slurm_account,
                setup=tuple(config.slurm_setup),
                wait=not config.slurm_no_wait,
                poll_s=config.slurm_poll,
            ),
        )
    except ArgumentError as err:  # a value or the YAML file itself
        return fail(PROG, _yaml_error(err, args), debug)
    except INPUT_ERRORS as err:
        return fail(PROG, err, debug)
    except KeyboardInterrupt:
        print(
            "study interrupted; run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    if report.plan is not None:
        json_path, sh_path = report.plan
        print(f"wrote {json_path} and {sh_path}")
        return 0
    if report.failed:
        return 1
    if report.stopped:
        return 3
    return 0
