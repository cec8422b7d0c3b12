"""The logs of earlier, interrupted attempts of a step, kept in ``attempts/<n>/``.

A Lightning step that runs again after an interruption (a killed study, a
failed probe) would lose the training history of the earlier attempt: Lightning's
CSV logger deletes ``metrics.csv`` when a run starts in the same folder. Before
the step's run starts, :func:`keep_attempt` keeps the earlier attempt's logs as
``attempts/1/logs/...``, ``attempts/2/...``; the step's own ``logs/`` folder,
from which its results are read, is the final attempt's.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ATTEMPTS", "attempt_dirs", "keep_attempt"]

#: Folder of a step holding the logs of its earlier attempts.
ATTEMPTS = "attempts"


def attempt_dirs(step_dir: Path) -> list[Path]:
    """Return the kept attempts of a step, oldest first.

    Args:
        step_dir: The step folder.

    Returns:
        ``attempts/1``, ``attempts/2`` ... (those that exist).
    """
    root = step_dir / ATTEMPTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    return sorted(found, key=lambda p: int(p.name))


def keep_attempt(step_dir: Path, names: Sequence[str], move: bool) -> Path | None:
    """Keep the files of an earlier attempt as ``attempts/<n>/`` (n = 1, 2 ...).

    The copy is written under a temporary name and renamed, so a kill leaves
    either a whole attempt or none. Call it while holding the step's lock.

    Args:
        step_dir: The step folder.
        names: Files or folders of the step folder to keep (those missing are
            skipped).
        move: Move them (the next run starts afresh) instead of copying them
            (the next run continues them).

    Returns:
        The attempt folder, or ``None`` when there was nothing to keep.
    """
    present = [step_dir / name for name in names if (step_dir / name).exists()]
    if not present:
        return None
    done = attempt_dirs(step_dir)
    number = int(done[-1].name) + 1 if done else 1
    target = step_dir / ATTEMPTS / str(number)
    for stale in (step_dir / ATTEMPTS).glob(".tmp-*"):  # of a killed copy
        shutil.rmtree(stale, ignore_errors=True)
    partial = step_dir / ATTEMPTS / f".tmp-{os.getpid()}-{number}"
    partial.mkdir(parents=True)
    for path in present:
        if path.is_dir():
            shutil.copytree(path, partial / path.name, symlinks=True)
        else:
            shutil.copy2(path, partial / path.name)
    os.replace(partial, target)
    if move:
        for path in present:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    return target
