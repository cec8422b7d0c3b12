"""Run a study's steps on this machine, one at a time or ``jobs`` at a time.

Steps run in dependency order; with ``jobs > 1`` independent steps run in
parallel, the ready step with the longest expected chain of work behind it
first (:func:`critical_order`: a composition's ``compose`` before another's
``diversity``, so that every pretraining can start early), each in a warm
worker process (started once, torch and Lightning
already imported) with its own share of the CPU threads and devices
(:func:`~torchgeo_composition.study.executors.resources.plan_slots`). Results do
not depend on ``jobs``: every step reads only its inputs' outputs and seeds its
own run.

How a Lightning step runs depends on ``mode``:

- ``local``: pretraining in a new ``fit`` process (isolated: any strategy,
  devices, its own memory), every other step (probes included) in the
  process that runs the step, which saves the start-up of a new Python;
- ``subprocess``: every Lightning step in a new process;
- ``inprocess``: every Lightning step in the process that runs the step.

A study running inside a Slurm allocation (``sbatch`` of the whole study) runs
its steps as ordinary local runs: the ``SLURM_*`` variables are hidden from the
steps, so Lightning neither takes a step for a Slurm task nor warns about
``srun``.

Workers never outlive the study: they get SIGTERM when it dies (Linux), and the
study stops them (SIGTERM, then SIGKILL) when it ends early for any reason.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any, Literal, TextIO

from ..lightning.run import STOP_GRACE_S, Executor, die_with_parent, sigterm_exits
from ..records import Step, is_done
from ..steps import StepResult, run_step
from .resources import Slot, plan_slots

__all__ = [
    "LOCAL_MODES",
    "LocalMode",
    "critical_order",
    "hidden_slurm_env",
    "lightning_mode",
    "run_local",
]

LocalMode = Literal["local", "subprocess", "inprocess"]

#: How a local study runs its Lightning steps (see the module docstring).
LOCAL_MODES: tuple[str, ...] = ("local", "subprocess", "inprocess")

#: Seconds between checks that busy workers are still alive.
_POLL_S = 0.5

#: Expected cost of a step by kind, relative to a light step (for the order only).
_COST = {"pretrain": 10.0, "probe": 3.0}


def critical_order(steps: list[Step]) -> list[Step]:
    """Order steps by the expected work on their longest path to the end.

    A step's priority is its own expected cost (by kind: a pretraining 10, a
    probe 3, any other step 1) plus the largest priority among the steps that
    read its outputs. Taking ready steps in this order starts long chains
    (compose, pretrain, probes) before short ones (a diversity step, which only
    ``collect`` reads). Ties keep the given order, so the order is
    deterministic; results never depend on it.

    Args:
        steps: The steps, each after its dependencies.

    Returns:
        The same steps, highest priority first.
    """
    readers: dict[str, list[str]] = {step.id: [] for step in steps}
    for step in steps:
        for dep in step.depends_on:
            if dep in readers:
                readers[dep].append(step.id)
    rank: dict[str, float] = {}
    for step in reversed(steps):
        after = max((rank[r] for r in readers[step.id]), default=0.0)
        rank[step.id] = _COST.get(step.kind, 1.0) + after
    place = {step.id: i for i, step in enumerate(steps)}
    return sorted(steps, key=lambda step: (-rank[step.id], place[step.id]))


def lightning_mode(mode: LocalMode, step: Step) -> Executor:
    """Return how one step's Lightning runs go: in a new process or in this one.

    Args:
        mode: The study's local mode.
        step: The step.

    Returns:
        ``subprocess`` or ``inprocess``.
    """
    if mode == "local":
        return "subprocess" if step.kind == "pretrain" else "inprocess"
    return mode


@contextlib.contextmanager
def hidden_slurm_env() -> Iterator[None]:
    """Hide the ``SLURM_*`` environment variables for the body (then restore them)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("SLURM_")}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


@dataclass
class _State:
    """Progress of a run: statuses, results in completion order, counters."""

    total: int
    max_steps: int | None
    line: Callable[[int, int, StepResult], str]
    out: TextIO
    status: dict[str, str] = field(default_factory=dict)
    results: list[StepResult] = field(default_factory=list)
    started: int = 0
    stopped: bool = False

    def finish(self, result: StepResult) -> None:
        self.status[result.step.id] = result.status
        self.results.append(result)
        print(
            self.line(len(self.results), self.total, result), file=self.out, flush=True
        )


def _ready(step: Step, state: _State) -> StepResult | bool | None:
    """Decide what to do with a pending step.

    Returns:
        ``False`` if it must wait for its inputs, ``None`` if it can run, or its
        result when it needs no run (blocked, already done).
    """
    if any(d not in state.status for d in step.depends_on):
        return False
    bad = [d for d in step.depends_on if state.status[d] in ("failed", "blocked")]
    if bad and step.kind != "collect":
        return StepResult(step, "blocked", error=f"failed inputs: {bad}")
    if step.kind == "collect" and state.started:
        # inputs were (re)computed in this run: always refresh the results
        (step.dir / "DONE.json").unlink(missing_ok=True)
    if is_done(step):
        return StepResult(step, "skipped")
    if state.max_steps is not None and state.started >= state.max_steps:
        if not state.stopped:
            state.stopped = True
            print(
                f"stopped after {state.started} steps (max_steps={state.max_steps})",
                file=state.out,
            )
        return False
    return None


def _partial(step: Step, state: _State) -> bool:
    return any(state.status.get(d) in ("failed", "blocked") for d in step.depends_on)


def run_local(
    steps: list[Step],
    mode: LocalMode,
    jobs: int,
    max_steps: int | None,
    out: TextIO,
    line: Callable[[int, int, StepResult], str],
) -> tuple[list[StepResult], bool]:
    """Run the steps that are not done, ``jobs`` at a time, in dependency order.

    A failed step blocks the steps that depend on it; independent steps go on;
    ``collect`` runs on whatever finished (partial).

    Args:
        steps: The study's steps, each after its dependencies.
        mode: How Lightning steps run (``local``, ``subprocess``, ``inprocess``).
        jobs: Steps to run at a time; capped to the cores (and GPUs) with a note.
        max_steps: Start at most this many steps (``None``: all).
        out: Where progress lines go.
        line: Formats the line of a finished step (number, total, result).

    Returns:
        The results in the order the steps finished, and whether the run stopped
        early because of ``max_steps``.
    """
    notes: list[str] = []
    slots = plan_slots(steps, jobs, notes)
    for note in notes:
        print(note, file=out, flush=True)
    state = _State(len(steps), max_steps, line, out)
    with hidden_slurm_env():
        if len(slots) == 1:
            _serial(steps, mode, state)
        else:
            _parallel(steps, mode, slots, state)
    return state.results, state.stopped


def _serial(steps: list[Step], mode: LocalMode, state: _State) -> None:
    pending = list(steps)
    while pending:
        for step in pending:
            decision = _ready(step, state)
            if decision is not False:
                break
        else:
            return  # stopped by max_steps
        pending.remove(step)
        if decision is None:
            state.started += 1
            decision = run_step(step, lightning_mode(mode, step), _partial(step, state))
        assert isinstance(decision, StepResult)
        state.finish(decision)


def _parallel(
    steps: list[Step], mode: LocalMode, slots: list[Slot], state: _State
) -> None:
    pending = critical_order(steps)
    with _Workers(slots) as workers, sigterm_exits():
        while pending or workers.busy:
            moved = False
            for step in list(pending):
                if not workers.idle:
                    break
                decision = _ready(step, state)
                if decision is False:
                    continue
                pending.remove(step)
                moved = True
                if decision is None:
                    state.started += 1
                    partial = _partial(step, state)
                    workers.submit(step, lightning_mode(mode, step), partial)
                else:
                    assert isinstance(decision, StepResult)
                    state.finish(decision)
            if workers.busy:
                result = workers.next_result()
                if result is not None:
                    state.finish(result)
            elif not moved:
                return  # nothing runs and nothing can start: stopped by max_steps


class _Workers:
    """Warm worker processes, one per slot; each runs one step at a time."""

    def __init__(self, slots: list[Slot]) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.slots = slots
        self.results: Any = self.context.Queue()
        self.tasks: list[Any] = [self.context.Queue() for _ in slots]
        self.processes: list[BaseProcess] = [self._start(slot) for slot in slots]
        self.running: dict[int, Step] = {}

    def _start(self, slot: Slot) -> BaseProcess:
        process = self.context.Process(
            target=_work,
            args=(
                slot.index,
                slot.threads,
                slot.env,
                os.getpid(),
                self.tasks[slot.index],
                self.results,
            ),
            name=f"study-worker-{slot.index}",
        )
        process.start()
        return process

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(stop=exc[0] is not None)

    @property
    def idle(self) -> list[int]:
        return [i for i in range(len(self.processes)) if i not in self.running]

    @property
    def busy(self) -> bool:
        return bool(self.running)

    def submit(self, step: Step, executor: Executor, partial: bool) -> None:
        index = self.idle[0]
        self.running[index] = step
        self.tasks[index].put((step, executor, partial))

    def next_result(self) -> StepResult | None:
        try:
            index, result = self.results.get(timeout=_POLL_S)
        except queue.Empty:
            for index, step in list(self.running.items()):
                process = self.processes[index]
                if process.exitcode is not None:
                    del self.running[index]
                    process.join()
                    self.processes[index] = self._start(self.slots[index])
                    return StepResult(
                        step,
                        "failed",
                        error=f"the worker running it ended with {process.exitcode}",
                    )
            return None
        del self.running[index]
        assert isinstance(result, StepResult)
        return result

    def close(self, stop: bool) -> None:
        if not stop:
            for tasks in self.tasks:
                tasks.put(None)
        else:
            for process in self.processes:
                if process.exitcode is None and process.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join(STOP_GRACE_S + 5 if stop else None)
            if process.exitcode is None:
                process.kill()
                process.join()
        for tasks in [*self.tasks, self.results]:
            tasks.close()
            tasks.join_thread()


def _work(
    index: int,
    threads: int,
    env: dict[str, str],
    parent: int,
    tasks: Any,
    results: Any,
) -> None:  # pragma: no cover - runs in the worker processes
    """The loop of a worker: run the steps it is given until told to stop."""
    die_with_parent(parent)()
    signal.signal(signal.SIGTERM, lambda signum, frame: _exit(signum))
    for key in [k for k in os.environ if k.startswith("SLURM_")]:
        del os.environ[key]
    os.environ.update(env)
    import torch

    torch.set_num_threads(threads)
    from ...cli import main  # noqa: F401  (warm: Lightning and the tasks imported)

    while True:
        item = tasks.get()
        if item is None:
            return
        step, executor, partial = item
        results.put((index, run_step(step, executor, partial)))


def _exit(signum: int) -> None:  # pragma: no cover - runs in the worker processes
    raise SystemExit(128 + signum)
