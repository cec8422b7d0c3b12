"""GEO-Bench v1 task names, partitions and task folders."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = [
    "GEOBENCH_CLASSIFICATION",
    "GEOBENCH_NUM_CLASSES",
    "GEOBENCH_PARTITIONS",
    "GEOBENCH_SEGMENTATION",
    "GEOBENCH_SPLITS",
    "GEOBENCH_TASKS",
    "find_task_folder",
    "read_json",
]

#: The six GEO-Bench v1 classification tasks.
GEOBENCH_CLASSIFICATION: tuple[str, ...] = (
    "m-bigearthnet",
    "m-brick-kiln",
    "m-eurosat",
    "m-forestnet",
    "m-pv4ger",
    "m-so2sat",
)

#: The six GEO-Bench v1 segmentation tasks.
GEOBENCH_SEGMENTATION: tuple[str, ...] = (
    "m-pv4ger-seg",
    "m-chesapeake",
    "m-cashew-plant",
    "m-SA-crop-type",
    "m-nz-cattle",
    "m-NeonTree",
)

#: Every GEO-Bench v1 task this package reads.
GEOBENCH_TASKS: tuple[str, ...] = GEOBENCH_CLASSIFICATION + GEOBENCH_SEGMENTATION

#: Classes of each task (labels of the multi-label m-bigearthnet), used when a
#: task folder has no ``task_specs.pkl``.
GEOBENCH_NUM_CLASSES: dict[str, int] = {
    "m-bigearthnet": 43,
    "m-brick-kiln": 2,
    "m-eurosat": 10,
    "m-forestnet": 12,
    "m-pv4ger": 2,
    "m-so2sat": 17,
    "m-pv4ger-seg": 2,
    "m-chesapeake": 7,
    "m-cashew-plant": 7,
    "m-SA-crop-type": 10,
    "m-nz-cattle": 2,
    "m-NeonTree": 2,
}

#: GEO-Bench v1's partitions: the full one and the few-shot training subsets.
GEOBENCH_PARTITIONS: tuple[str, ...] = (
    "default",
    "0.01x_train",
    "0.02x_train",
    "0.05x_train",
    "0.10x_train",
    "0.20x_train",
    "0.50x_train",
    "1.00x_train",
)

#: The splits of a partition file.
GEOBENCH_SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Folders of a GEO-Bench v1 download that hold the task folders.
_BENCHMARKS = ("classification_v1.0", "segmentation_v1.0")


def find_task_folder(root: str | os.PathLike[str], task: str) -> Path:
    """Find a task's folder under ``root``.

    Args:
        root: The GEO-Bench folder (holding ``classification_v1.0`` and
            ``segmentation_v1.0``) or a folder of task folders.
        task: One of :data:`GEOBENCH_TASKS`.

    Returns:
        The task folder.

    Raises:
        ValueError: For an unknown task, or a folder without the task.
    """
    if task not in GEOBENCH_TASKS:
        raise ValueError(
            f"task {task!r} is not a GEO-Bench v1 task; valid choices are "
            f"{list(GEOBENCH_TASKS)}"
        )
    base = Path(root)
    places = [base / task, *(base / b / task for b in _BENCHMARKS)]
    for place in places:
        if place.is_dir():
            return place
    raise ValueError(
        f"root {str(base)!r} holds no folder of task {task!r} (looked for "
        f"{[str(p) for p in places]}); set root to the GEO-Bench folder (the one "
        "holding classification_v1.0 and segmentation_v1.0)"
    )


def read_json(path: Path, what: str) -> Any:
    """Read a JSON file of a task folder.

    Args:
        path: The file.
        what: What it is, for messages.

    Returns:
        Its content.

    Raises:
        ValueError: If it cannot be read as JSON (names the file).
    """
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{what} {str(path)!r} cannot be read as JSON: {err}") from err
