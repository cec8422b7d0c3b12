"""Run a whole study: resumable, idempotent, failures isolated, one run at a time.

:func:`run_study` builds the steps, checks that the study directory can be
written, locks it (a second study on the same directory fails at once, naming
the run that holds it), claims it (refusing one that holds another study unless
``force``), builds every model and datamodule once
(:func:`~torchgeo_composition.study.lightning.preflight`), then runs every step
that is not done yet, in dependency order. A failed step is reported with its
log path; steps that depend on it are blocked, independent ones go on;
``collect`` then summarises what finished (marked partial, so a rerun completes
it). Steps run on this machine, ``jobs`` at a time
(:func:`~torchgeo_composition.study.executors.run_local`), or as Slurm jobs
(:func:`~torchgeo_composition.study.executors.slurm.run_slurm`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO, get_args

import yaml

from ..files import file_lock, write_text
from .executors.local import run_local
from .executors.slurm import SlurmOptions, check_slurm, run_slurm
from .lightning.preflight import preflight
from .plan import build_steps, write_plan
from .records import Step, is_done, read_json
from .schema import StudyConfig
from .steps import StepResult

__all__ = [
    "STUDY_EXECUTORS",
    "STUDY_FILE",
    "StudyExecutor",
    "StudyReport",
    "check_output_dir",
    "claim_study_dir",
    "lock_study_dir",
    "run_study",
]

#: File in the study directory identifying the study it holds.
STUDY_FILE = "study.json"

StudyExecutor = Literal["local", "slurm", "subprocess", "inprocess"]

#: Where a study's steps run: ``local`` (this machine; pretraining in a new
#: process, other steps in a warm one), ``slurm`` (one Slurm job per step), or
#: on this machine with every Lightning step in a new process (``subprocess``)
#: or in the step's process (``inprocess``).
STUDY_EXECUTORS: tuple[str, ...] = get_args(StudyExecutor)


@dataclass
class StudyReport:
    """What a run of a study did.

    Attributes:
        root: The study directory.
        results: Outcome of each step considered, in running order.
        stopped: True if the run stopped early (``max_steps``).
        plan: Paths of ``plan.json`` and ``plan.sh`` when only planning.
    """

    root: Path
    results: list[StepResult] = field(default_factory=list)
    stopped: bool = False
    plan: tuple[Path, Path] | None = None

    @property
    def failed(self) -> list[StepResult]:
        """Failed steps."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def complete(self) -> bool:
        """True if every step is done."""
        return (
            bool(self.results)
            and all(r.status in ("done", "skipped") for r in self.results)
            and not self.stopped
        )


def check_output_dir(path: str | Path) -> Path:
    """Create the study directory if needed and check that it can be written.

    Args:
        path: The study directory (``output_dir``).

    Returns:
        The directory.

    Raises:
        NotADirectoryError: If it, or a folder above it, is a file.
        PermissionError: If it cannot be created or written.
    """
    root = Path(path)
    for folder in (root, *root.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(
                    f"output_dir {str(root)!r} cannot be a study directory: "
                    f"{str(folder)!r} is a file; choose another output_dir"
                )
            break
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        raise PermissionError(
            f"output_dir {str(root)!r} is not writable ({err.strerror or err}); "
            "choose a writable folder"
        ) from err
    return root


def lock_study_dir(root: str | Path) -> AbstractContextManager[object]:
    """Return the lock of a study directory (the file ``<output_dir>.lock``).

    While one process holds it, another fails at once with a
    :class:`~torchgeo_composition.files.FileLockedError` (a ``ValueError``)
    naming the holder: pid, host, command and start time. The operating system
    releases the lock when its holder ends, however it ends.

    Args:
        root: The study directory.

    Returns:
        A context manager holding the lock.
    """
    folder = Path(root).resolve()
    if not folder.name:  # the file system's root: lock inside it
        folder = folder / ".study"
    return file_lock(folder, what="study directory", timeout=0)


def _check_claim(study: StudyConfig, root: Path, force: bool) -> None:
    record = read_json(root / STUDY_FILE)
    identity = study.identity()
    if force:
        return
    if record is not None and record.get("identity") != identity:
        raise ValueError(
            f"output_dir {str(root)!r} holds results of a different study config "
            f"(study {record.get('name')!r}, identity {record.get('identity')}); "
            "choose another output_dir, or pass --force to reuse it (finished "
            "steps whose configuration did not change are kept)"
        )
    if record is None and any(root.iterdir()):
        raise ValueError(
            f"output_dir {str(root)!r} is not empty and holds no {STUDY_FILE}; "
            "choose an empty or new folder, or pass --force"
        )


def claim_study_dir(study: StudyConfig, force: bool = False) -> Path:
    """Create or check the study directory and record the study in it.

    Call it while holding :func:`lock_study_dir` when other runs may use the
    directory (:func:`run_study` does).

    Args:
        study: The study.
        force: Take over a directory holding another study (or other files);
            finished steps whose hash still matches are kept.

    Returns:
        The study directory.

    Raises:
        ValueError: If the directory holds results of a different study config,
            or files that are not a study, and ``force`` is false.
        NotADirectoryError: If ``output_dir`` or a folder above it is a file.
        PermissionError: If ``output_dir`` cannot be written.
    """
    root = check_output_dir(study.output_dir)
    _check_claim(study, root, force)
    record = read_json(root / STUDY_FILE)
    identity = study.identity()
    if record is None or record.get("identity") != identity:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        data = {"name": study.name, "identity": identity, "claimed": now}
        write_text(root / STUDY_FILE, json.dumps(data, indent=2) + "\n")
    write_text(root / "study.yaml", yaml.safe_dump(study.to_dict(), sort_keys=False))
    return root


def _line(i: int, n: int, result: StepResult) -> str:
    step = result.step
    head = f"[{i:>3}/{n}] {step.id:<40}"
    if result.status == "skipped":
        return f"{head} already done"
    if result.status == "done":
        return f"{head} done in {result.seconds:.1f} s"
    if result.status == "blocked":
        return f"{head} blocked ({result.error})"
    if result.status == "partial":
        return f"{head} partial ({result.error}); log: {step.log}"
    return f"{head} FAILED: {result.error}\n{'':>8}log: {step.log}"


def _check_options(executor: str, jobs: int, max_steps: int | None) -> None:
    if executor not in STUDY_EXECUTORS:
        raise ValueError(
            f"executor must be one of {', '.join(STUDY_EXECUTORS)}, got {executor!r}"
        )
    if jobs < 1:
        raise ValueError(
            f"jobs must be >= 1, got {jobs}; give the steps to run at once"
        )
    if max_steps is not None and max_steps < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")


def run_study(
    study: StudyConfig,
    executor: StudyExecutor = "local",
    force: bool = False,
    max_steps: int | None = None,
    plan_only: bool = False,
    stream: TextIO | None = None,
    jobs: int = 1,
    slurm: SlurmOptions | None = None,
) -> StudyReport:
    """Run (or plan) a study.

    Args:
        study: The study.
        executor: Where steps run (:data:`STUDY_EXECUTORS`): ``local`` (default:
            pretraining in a new ``fit`` process, other steps in this process or
            a warm worker), ``subprocess`` (every Lightning step in a new
            process), ``inprocess`` (every Lightning step in the step's process),
            or ``slurm`` (one Slurm job per step).
        force: Reuse a study directory holding another study config.
        max_steps: Stop after starting this many steps (finished steps that are
            skipped do not count); ``None`` runs all. Local executors only.
        plan_only: Only write ``plan.json`` and ``plan.sh``.
        stream: Where progress lines go (default standard output).
        jobs: Steps to run at a time on this machine (local executors); capped
            to the CPU cores (and GPUs) with a note.
        slurm: Job settings of the ``slurm`` executor (default settings if
            ``None``).

    Returns:
        The report.

    Raises:
        ValueError: If ``executor``, ``jobs`` or ``max_steps`` is invalid, the
            ``slurm`` executor finds no ``sbatch``, the study directory holds
            another study (see :func:`claim_study_dir`), another run holds its
            lock (:class:`~torchgeo_composition.files.FileLockedError`), a model
            or datamodule cannot be built (see
            :func:`~torchgeo_composition.study.lightning.preflight`) or two
            steps share a name.
        NotADirectoryError: If ``output_dir`` or a folder above it is a file.
        PermissionError: If ``output_dir`` cannot be written.
    """
    _check_options(executor, jobs, max_steps)
    if executor == "slurm" and not plan_only:
        check_slurm()
    out = stream or sys.stdout
    steps = build_steps(study)
    root = check_output_dir(study.output_dir)
    with lock_study_dir(root):
        _check_claim(study, root, force)
        if not plan_only and any(not is_done(s) for s in steps if s.kind != "collect"):
            preflight(study)
        claim_study_dir(study, force=force)
        report = StudyReport(root=root)
        plan = write_plan(steps, root)
        if plan_only:
            report.plan = plan
            return report
        if executor == "slurm":
            report.results = run_slurm(steps, root, slurm or SlurmOptions(), out, _line)
        else:
            report.results, report.stopped = run_local(
                steps, executor, jobs, max_steps, out, _line
            )
    _summary(report, steps, out)
    return report


def _summary(report: StudyReport, steps: list[Step], out: TextIO) -> None:
    counts: dict[str, int] = {}
    for r in report.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    text = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"study {report.root}: {len(steps)} steps: {text}", file=out)
    for r in report.failed:
        print(f"  failed: {r.step.id}: {r.error}\n    log: {r.step.log}", file=out)
    if report.complete:
        print(f"results: {report.root / 'results.md'}", file=out)
