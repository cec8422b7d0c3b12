"""What a study step's Slurm job runs, and the resources it asks for.

:class:`StepJob` is the function ``submitit`` runs in a step's job: the step in
its folder, with its outcome written to ``slurm_result.json``.
:func:`job_resources` turns a Lightning step's trainer (``devices``,
``num_nodes``, ``accelerator``) into the job's nodes, tasks and GPUs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ...files import write_text
from ..lightning.run import LAUNCHER_ENV
from ..records import STEP_FILE, Step, read_json
from ..steps import run_step
from .local import lightning_mode
from .resources import step_trainer

__all__ = ["RESULT_FILE", "StepJob", "job_resources"]

#: Written by a step's job into the step folder: how the step ended.
RESULT_FILE = "slurm_result.json"


def job_resources(step: Step) -> dict[str, int]:
    """Return the nodes, tasks per node and GPUs per node of a step's job.

    Args:
        step: The step.

    Returns:
        ``nodes``, ``ntasks_per_node``, ``gpus_per_node``.
    """
    trainer = step_trainer(step)
    devices = trainer.get("devices", 1)
    if isinstance(devices, list):
        count = len(devices)
    elif isinstance(devices, int) and devices > 0:
        count = devices
    else:  # "auto", -1: one device per job unless told otherwise
        count = 1
    nodes = int(trainer.get("num_nodes", 1) or 1)
    accelerator = str(trainer.get("accelerator", "auto"))
    # GPUs only for a known trainer that does not ask for CPUs
    gpus = 0 if accelerator == "cpu" or not trainer else count
    return {"nodes": nodes, "ntasks_per_node": count, "gpus_per_node": gpus}


class StepJob:
    """The function a step's Slurm job runs: the step, in its folder.

    It writes ``slurm_result.json`` into the step folder and fails the job when
    the step failed, so that Slurm does not start the steps that depend on it.
    Preempted or timed-out jobs are resubmitted with the same arguments
    (``submitit``'s checkpoint protocol); the step continues from its records.
    """

    def __call__(self, step_dir: str, partial: bool) -> str:
        """Run the step.

        Args:
            step_dir: The step folder (holds ``step.json``).
            partial: Run even though some inputs are not done (``collect``).

        Returns:
            The step's status.

        Raises:
            RuntimeError: If the step failed or its inputs are not done.
        """
        folder = Path(step_dir)
        data = read_json(folder / STEP_FILE)
        if data is None:
            raise RuntimeError(f"{str(folder)!r} holds no readable {STEP_FILE}")
        step = Step.from_dict(data)
        (folder / RESULT_FILE).unlink(missing_ok=True)
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        if cpus:
            os.environ["OMP_NUM_THREADS"] = cpus
        executor = lightning_mode("local", step)
        tasks = int(os.environ.get("SLURM_NTASKS", "1") or 1)
        if tasks > 1:  # one fit task per device, started by srun
            executor = "subprocess"
            os.environ[LAUNCHER_ENV] = f"srun --ntasks={tasks} --kill-on-bad-exit=1"
        result = run_step(step, executor, partial)
        record = {
            "status": result.status,
            "error": result.error,
            "job_id": os.environ.get("SLURM_JOB_ID"),
            "seconds": round(result.seconds, 3),
        }
        write_text(folder / RESULT_FILE, json.dumps(record) + "\n")
        if result.status in ("failed", "blocked"):
            raise RuntimeError(
                f"step {step.id} {result.status}: {result.error}; log: {step.log}"
            )
        return result.status

    def checkpoint(self, step_dir: str, partial: bool) -> Any:
        """Resubmit the same step after a preemption or a timeout.

        Args:
            step_dir: The step folder.
            partial: As for :meth:`__call__`.

        Returns:
            ``submitit``'s delayed submission of this job.
        """
        import submitit

        return submitit.helpers.DelayedSubmission(StepJob(), step_dir, partial)
