"""Run a study on Slurm: one job per step, submitted with ``submitit``.

Each step that is not done becomes a Slurm job running the step in its folder
(:class:`~torchgeo_composition.study.executors.jobs.StepJob`), with an
``afterok`` dependency on the jobs of the steps it reads (``afterany`` for ``collect``, which summarises whatever finished). A
failed job makes Slurm cancel the jobs that depend on it
(``--kill-on-invalid-dep=yes``); independent jobs go on. Jobs are requeued after
a preemption or a node failure (``--requeue``, and ``submitit``'s checkpointing
on its timeout signal); a requeued job runs its step again, which continues from
the step's records (a pretraining from its last checkpoint).

The job of every submitted step is recorded in ``<output_dir>/slurm/jobs.json``.
A study submitted again skips finished steps, attaches to the jobs of steps
that are still queued or running (never submitting a second one), and submits
the rest. Unless told not to wait, the command watches the jobs and prints one
line per finished step, like a local run; a failed or cancelled job is reported
with its step log and its Slurm log.

A Lightning step whose trainer asks for several devices or nodes gets
``nodes = num_nodes`` and ``ntasks-per-node = devices`` (and as many GPUs per
node unless its accelerator is ``cpu``); its ``fit`` is launched with ``srun``,
one task per device, and Lightning's ``SLURMEnvironment`` sets up the ranks.
"""

from __future__ import annotations

import getpass
import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ...files import write_text
from ..records import DONE, Step, is_done, read_json
from ..steps import StepResult
from .jobs import RESULT_FILE, StepJob, job_resources

__all__ = [
    "JOBS_FILE",
    "SlurmOptions",
    "check_slurm",
    "run_slurm",
]

#: The jobs of a study's steps, in ``<output_dir>/slurm/``.
JOBS_FILE = "jobs.json"
#: Failed looks at the queue in a row after which watching gives up.
_QUEUE_RETRIES = 12
#: Slurm job states of jobs that may still run their step.
_ACTIVE = (
    "PENDING",
    "RUNNING",
    "REQUEUED",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "RESIZING",
    "SUSPENDED",
    "CONFIGURING",
    "COMPLETING",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
)


@dataclass(frozen=True)
class SlurmOptions:
    """Job settings of the ``slurm`` executor.

    Attributes:
        partition: Partition (``--partition``); the cluster's default if ``None``.
        time_min: Time limit of each job in minutes.
        cpus_per_task: CPUs per task (``--cpus-per-task``); also the step's
            ``OMP_NUM_THREADS``.
        mem_gb: Memory per node in GB (``--mem``); the cluster's default if ``None``.
        account: Account to charge (``--account``).
        setup: Shell lines run in each job before the step (``module load ...``).
        additional: Further ``sbatch`` options (``{"qos": "high"}``).
        wait: Watch the jobs until they end (print one line per step).
        poll_s: Seconds between two looks at the queue while watching.
    """

    partition: str | None = None
    time_min: int = 240
    cpus_per_task: int = 1
    mem_gb: float | None = None
    account: str | None = None
    setup: tuple[str, ...] = ()
    additional: dict[str, str] = field(default_factory=dict)
    wait: bool = True
    poll_s: float = 5.0


def check_slurm() -> None:
    """Check that Slurm's commands are here.

    Raises:
        ValueError: If ``sbatch`` (or ``squeue``, ``srun``) is not on ``PATH``.
    """
    missing = [c for c in ("sbatch", "squeue", "srun") if shutil.which(c) is None]
    if missing:
        raise ValueError(
            f"executor 'slurm' needs Slurm's {', '.join(missing)}, not found on PATH; "
            "run the study on a Slurm login node, or use --executor local"
        )
    try:
        import submitit  # noqa: F401
    except ImportError as err:  # pragma: no cover - a dependency
        raise ValueError(
            "executor 'slurm' needs the submitit package; pip install submitit"
        ) from err


def _queue() -> dict[str, str]:
    """Return job id -> state of this user's jobs in the queue."""
    command = ["squeue", "-h", "-u", getpass.getuser(), "-o", "%i|%T"]
    try:
        text = subprocess.run(
            command, capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", None) or err
        raise ValueError(
            f"squeue failed ({str(detail).strip()}); is the Slurm controller "
            "reachable from here?"
        ) from err
    states = {}
    for row in text.splitlines():
        job, _, state = row.strip().partition("|")
        if job:
            states[job] = state
    return states


def _active(job: str, queue: dict[str, str]) -> bool:
    return queue.get(job, "") in _ACTIVE


def _submitter(root: Path, options: SlurmOptions) -> Any:
    import submitit

    executor = submitit.SlurmExecutor(folder=root / "slurm" / "%j", max_num_timeout=3)
    executor.update_parameters(
        time=options.time_min,
        cpus_per_task=options.cpus_per_task,
        use_srun=False,
        stderr_to_stdout=True,
        signal_delay_s=120,
        setup=list(options.setup),
    )
    for key, value in (
        ("partition", options.partition),
        ("account", options.account),
        ("mem", None if options.mem_gb is None else f"{int(options.mem_gb * 1024)}M"),
    ):
        if value is not None:
            executor.update_parameters(**{key: value})
    return executor


@dataclass
class _Watch:
    """The jobs of one submission and what became of them."""

    root: Path
    jobs: dict[str, dict[str, Any]]
    status: dict[str, str] = field(default_factory=dict)

    def save(self) -> None:
        path = self.root / "slurm" / JOBS_FILE
        write_text(path, json.dumps(self.jobs, indent=2, sort_keys=True) + "\n")


def _submit(step: Step, executor: Any, deps: list[str], name: str) -> dict[str, Any]:
    kind = "afterany" if step.kind == "collect" else "afterok"
    extra: dict[str, Any] = {"requeue": True, "kill-on-invalid-dep": "yes"}
    if deps:
        extra["dependency"] = f"{kind}:" + ":".join(deps)
    resources = job_resources(step)
    gpus = resources.pop("gpus_per_node")
    executor.update_parameters(
        job_name=f"{name}:{step.id}",
        additional_parameters=extra,
        gpus_per_node=gpus or None,
        **resources,
    )
    try:
        job = executor.submit(StepJob(), str(step.dir), step.kind == "collect")
    except Exception as err:  # sbatch's refusal, e.g. an unknown partition
        raise ValueError(
            f"sbatch refused the job of step {step.id}: {str(err).strip()}"
        ) from err
    return {"job_id": str(job.job_id), "hash": step.hash, "log": str(job.paths.stdout)}


def run_slurm(
    steps: list[Step],
    root: Path,
    options: SlurmOptions,
    out: TextIO,
    line: Callable[[int, int, StepResult], str],
) -> list[StepResult]:
    """Submit the steps that are not done as Slurm jobs and (optionally) watch them.

    Args:
        steps: The study's steps, each after its dependencies (their
            ``step.json`` written).
        root: The study directory.
        options: Job settings.
        out: Where progress lines go.
        line: Formats the line of a finished step (number, total, result).

    Returns:
        The results in the order the steps finished (queued steps are missing
        when ``options.wait`` is false).

    Raises:
        ValueError: If a job still runs a step of another configuration,
            ``sbatch`` refuses a job, or ``squeue`` fails.
    """
    path = root / "slurm" / JOBS_FILE
    recorded = read_json(path) or {}
    queue = _queue()
    watch = _Watch(root, {})
    results: list[StepResult] = []

    def finish(result: StepResult) -> None:
        watch.status[result.step.id] = result.status
        results.append(result)
        print(line(len(results), len(steps), result), file=out, flush=True)

    for step in steps:
        old = recorded.get(step.id)
        if old and _active(old["job_id"], queue) and old.get("hash") != step.hash:
            raise ValueError(
                f"Slurm job {old['job_id']} still runs step {step.id} of another "
                f"configuration; wait for it or cancel it (scancel {old['job_id']})"
            )
    executor = None
    submitted = False
    name = root.name
    for step in steps:
        old = recorded.get(step.id)
        if is_done(step) and (step.kind != "collect" or not submitted):
            finish(StepResult(step, "skipped"))
            continue
        if old and _active(old["job_id"], queue):
            watch.jobs[step.id] = old
            submitted = True
            print(f"attached to Slurm job {old['job_id']} of {step.id}", file=out)
            continue
        bad = [
            d for d in step.depends_on if watch.status.get(d) in ("failed", "blocked")
        ]
        if bad and step.kind != "collect":
            finish(StepResult(step, "blocked", error=f"failed inputs: {bad}"))
            continue
        if step.kind == "collect":
            (step.dir / DONE).unlink(missing_ok=True)
        deps = [watch.jobs[d]["job_id"] for d in step.depends_on if d in watch.jobs]
        executor = executor or _submitter(root, options)
        watch.jobs[step.id] = _submit(step, executor, deps, name)
        submitted = True
        watch.save()
        print(
            f"submitted {step.id} as Slurm job {watch.jobs[step.id]['job_id']}",
            file=out,
        )
    watch.save()
    if not options.wait:
        print(
            f"{len(watch.jobs)} jobs queued; run the same command again to watch "
            "them (finished steps are skipped)",
            file=out,
        )
        return results
    _watch(watch, {s.id: s for s in steps}, options, finish)
    return results


def _outcome(step: Step, info: dict[str, Any], status: dict[str, str]) -> StepResult:
    if is_done(step):
        done = read_json(step.dir / DONE) or {}
        return StepResult(step, "done", float(done.get("duration_s", 0.0)))
    record = read_json(step.dir / RESULT_FILE)
    if record is not None and record.get("job_id") == info["job_id"]:
        error = record.get("error") or record.get("status")
        if record.get("status") == "partial":
            return StepResult(step, "partial", float(record.get("seconds", 0)), error)
        return StepResult(step, "failed", error=f"{error}; Slurm log: {info['log']}")
    bad = [d for d in step.depends_on if status.get(d) in ("failed", "blocked")]
    if bad and step.kind != "collect":
        return StepResult(step, "blocked", error=f"failed inputs: {bad}")
    return StepResult(
        step,
        "failed",
        error=f"Slurm job {info['job_id']} was cancelled or killed before the step "
        f"finished; Slurm log: {info['log']}",
    )


def _watch(
    watch: _Watch,
    steps: dict[str, Step],
    options: SlurmOptions,
    finish: Callable[[StepResult], None],
) -> None:
    waiting = dict(watch.jobs)
    failures = 0
    try:
        while waiting:
            try:
                queue = _queue()
            except ValueError as err:  # a controller busy or restarting: retry
                failures += 1
                if failures >= _QUEUE_RETRIES:
                    raise
                print(f"note: {err}; retrying", flush=True)
                time.sleep(options.poll_s)
                continue
            failures = 0
            ended = [
                s for s, info in waiting.items() if not _active(info["job_id"], queue)
            ]
            # report in dependency order: a step's inputs before the step
            for step_id in [s for s in steps if s in ended]:
                info = waiting.pop(step_id)
                finish(_outcome(steps[step_id], info, watch.status))
            if waiting:
                time.sleep(options.poll_s)
    except KeyboardInterrupt:
        jobs = " ".join(shlex.quote(i["job_id"]) for i in waiting.values())
        print(f"stopped watching; the Slurm jobs go on ({jobs})", flush=True)
        raise
