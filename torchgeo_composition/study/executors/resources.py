"""What each parallel slot of a local study gets: CPU threads and devices.

``--jobs N`` runs up to ``N`` steps at a time. Each slot gets its share of the
machine: ``OMP_NUM_THREADS`` (and torch's thread count) = cores // N, and, when
the study's Lightning steps use GPUs, its own GPUs through
``CUDA_VISIBLE_DEVICES``. ``N`` larger than the cores (or than the GPUs, for a
GPU study) is capped, with a note.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..records import Step

__all__ = ["Slot", "available_cores", "plan_slots", "step_trainer", "uses_gpus"]

#: Accelerators that run on CPUs only.
_CPU_ACCELERATORS = ("cpu",)


@dataclass(frozen=True)
class Slot:
    """One of the parallel places a step runs in.

    Attributes:
        index: 0 .. jobs - 1.
        threads: CPU threads of a step in this slot.
        env: Environment variables a step in this slot runs with.
    """

    index: int
    threads: int
    env: dict[str, str] = field(default_factory=dict)


def available_cores() -> int:
    """Return the CPU cores this process may use (its affinity mask).

    Returns:
        At least 1.
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _gpu_count() -> int:
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return 0
    try:
        import torch
    except ImportError:  # pragma: no cover
        return 0
    return int(torch.cuda.device_count())


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def step_trainer(step: Step) -> dict[str, Any]:
    """Return the Lightning ``trainer`` section a step runs with (``{}`` if none).

    A probe's trainer is its evaluation's (``trainer`` or ``config.trainer``)
    updated with its protocol's own settings.

    Args:
        step: A ``pretrain`` or ``probe`` step (others have none).

    Returns:
        The trainer arguments.
    """
    config = _mapping(step.params.get("config"))
    if step.kind == "pretrain":
        return _mapping(_mapping(config.get("pretrain")).get("trainer"))
    if step.kind != "probe":
        return {}
    evaluation = _mapping(config.get("evaluation"))
    trainer = _mapping(evaluation.get("trainer")) or _mapping(
        _mapping(evaluation.get("config")).get("trainer")
    )
    for protocol in evaluation.get("protocols") or ():
        if isinstance(protocol, dict) and protocol.get("name") == config.get(
            "protocol"
        ):
            trainer.update(_mapping(protocol.get("trainer")))
    return trainer


def uses_gpus(steps: Iterable[Step]) -> bool:
    """Return whether any Lightning step may run on GPUs (accelerator not ``cpu``).

    Args:
        steps: The study's steps.

    Returns:
        True if some trainer's accelerator is ``gpu``, ``cuda``, ``auto`` or unset.
    """
    for step in steps:
        if step.kind in ("pretrain", "probe"):
            accelerator = str(step_trainer(step).get("accelerator", "auto"))
            if accelerator not in _CPU_ACCELERATORS:
                return True
    return False


def plan_slots(
    steps: list[Step],
    jobs: int,
    notes: list[str],
    cores: int | None = None,
    gpus: int | None = None,
) -> list[Slot]:
    """Share the machine between ``jobs`` parallel slots.

    Args:
        steps: The study's steps (their trainers say whether GPUs are used).
        jobs: Steps to run at a time (``--jobs``).
        notes: Receives a line for each cap applied.
        cores: CPU cores to share (default: this process's).
        gpus: GPUs to share (default: those torch sees).

    Returns:
        One slot per parallel step (at most ``jobs``).

    Raises:
        ValueError: If ``jobs`` is smaller than 1.
    """
    if jobs < 1:
        raise ValueError(
            f"jobs must be >= 1, got {jobs}; give the steps to run at once"
        )
    cores = available_cores() if cores is None else cores
    gpus = (_gpu_count() if uses_gpus(steps) else 0) if gpus is None else gpus
    if jobs > cores:
        notes.append(
            f"note: --jobs {jobs} is more than the {cores} CPU cores; "
            f"running {cores} steps at a time"
        )
        jobs = cores
    if gpus and jobs > gpus:
        notes.append(
            f"note: --jobs {jobs} is more than the {gpus} GPUs; "
            f"running {gpus} steps at a time"
        )
        jobs = gpus
    threads = max(1, cores // jobs)
    slots = []
    for index in range(jobs):
        env = {
            "OMP_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
        }
        if gpus:
            share = gpus // jobs
            ids = range(index * share, (index + 1) * share)
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in ids)
        slots.append(Slot(index, threads, env))
    return slots
