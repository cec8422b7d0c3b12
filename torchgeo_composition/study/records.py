"""Step folders and their markers: ``step.json``, ``STARTED.json``, ``DONE.json``.

A step folder holds ``step.json`` (what the step is: kind, hash, parameters,
dependencies), ``log.txt``, its outputs, ``STARTED.json`` while (or since) it runs,
and ``DONE.json`` once it finished, written atomically as the very last action and
carrying the step's hash. A step whose ``DONE.json`` carries its current hash is
finished and never recomputed; one that started under the same hash but never
finished continues where it stopped (e.g. from the last pretraining checkpoint);
one that started under another hash is cleared and run afresh.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..files import write_text

__all__ = [
    "DONE",
    "STARTED",
    "STEP_FILE",
    "Step",
    "is_done",
    "mark_done",
    "mark_started",
    "read_json",
]

STEP_FILE = "step.json"
STARTED = "STARTED.json"
DONE = "DONE.json"
LOG = "log.txt"


def read_json(path: Path) -> dict[str, Any] | None:
    """Read a JSON object, or ``None`` if the file is missing or unreadable.

    Args:
        path: The file.

    Returns:
        The object or ``None``.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Step:
    """One node of the study's graph.

    Attributes:
        id: Unique name, also the folder name (e.g. ``pretrain-europe-s0``).
        kind: ``compose``, ``diversity``, ``pretrain``, ``export``, ``probe`` or
            ``collect``.
        dir: The step folder.
        hash: Identity: hash of the step's resolved configuration and of its
            inputs' hashes.
        params: Everything needed to run the step (JSON-compatible).
        depends_on: Ids of the steps whose outputs it reads.
        inputs: Folder and hash of each dependency.
    """

    id: str
    kind: str
    dir: Path
    hash: str
    params: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        """The step's log file."""
        return self.dir / LOG

    def to_dict(self) -> dict[str, Any]:
        """Return the content of ``step.json``.

        Returns:
            Plain data.
        """
        return {
            "id": self.id,
            "kind": self.kind,
            "dir": str(self.dir),
            "hash": self.hash,
            "depends_on": list(self.depends_on),
            "inputs": self.inputs,
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        """Rebuild a step from ``step.json`` content.

        Args:
            data: Output of :meth:`to_dict`.

        Returns:
            The step.
        """
        return cls(
            id=data["id"],
            kind=data["kind"],
            dir=Path(data["dir"]),
            hash=data["hash"],
            params=data["params"],
            depends_on=tuple(data["depends_on"]),
            inputs=data["inputs"],
        )

    def write(self) -> None:
        """Write ``step.json`` (only when its content changed)."""
        text = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        path = self.dir / STEP_FILE
        if not path.is_file() or path.read_text() != text:
            write_text(path, text)


def is_done(step: Step) -> bool:
    """Return whether the step finished under its current hash.

    Args:
        step: The step.

    Returns:
        True if ``DONE.json`` carries ``step.hash``.
    """
    marker = read_json(step.dir / DONE)
    return marker is not None and marker.get("hash") == step.hash


def mark_started(step: Step) -> bool:
    """Prepare the folder of a step about to run.

    If the folder holds outputs of another configuration (a different hash), they
    are removed first; outputs of an interrupted run of the same configuration are
    kept so that the step can continue.

    Args:
        step: The step.

    Returns:
        True if an interrupted run of the same configuration is continued.
    """
    step.dir.mkdir(parents=True, exist_ok=True)
    started = read_json(step.dir / STARTED)
    resume = started is not None and started.get("hash") == step.hash
    if not resume:
        (step.dir / DONE).unlink(missing_ok=True)
        for child in step.dir.iterdir():
            if child.name == STEP_FILE:
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    write_text(
        step.dir / STARTED,
        json.dumps({"hash": step.hash, "started": _now(), "resumed": resume}) + "\n",
    )
    return resume


def mark_done(step: Step, outputs: dict[str, Any], duration_s: float) -> None:
    """Write ``DONE.json`` atomically: the step is finished.

    Args:
        step: The step.
        outputs: What the step produced (paths, scores ...).
        duration_s: Wall time of the run in seconds.
    """
    marker = {
        "id": step.id,
        "kind": step.kind,
        "hash": step.hash,
        "finished": _now(),
        "duration_s": round(duration_s, 3),
        "outputs": outputs,
    }
    write_text(step.dir / DONE, json.dumps(marker, indent=2, default=str) + "\n")


def done_outputs(step_dir: Path) -> dict[str, Any]:
    """Return the ``outputs`` recorded in a finished step's ``DONE.json``.

    Args:
        step_dir: The step folder.

    Returns:
        The outputs.

    Raises:
        FileNotFoundError: If the step has not finished.
    """
    marker = read_json(step_dir / DONE)
    if marker is None:
        raise FileNotFoundError(f"step {str(step_dir)!r} has not finished (no {DONE})")
    outputs: dict[str, Any] = marker.get("outputs", {})
    return outputs
