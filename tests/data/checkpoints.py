"""Bad checkpoint files for the loading tests, each with the error it must give.

``crafted_*`` files are real ``torch.save`` archives whose pickle would run code
when loaded without restriction: it creates the file ``marker``. A safe loader
refuses them and ``marker`` never appears.
"""

from __future__ import annotations

import os
import pathlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


class TouchWithSystem:
    """Unpickling calls ``os.system("touch <marker>")``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


class TouchWithPath:
    """Unpickling calls ``pathlib.Path.touch(marker)`` (through ``getattr``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@dataclass(frozen=True)
class BadFile:
    """A bad checkpoint file and what its error must say.

    Attributes:
        path: The file.
        error: The exception type.
        match: A regex the message must match (besides the file's path).
    """

    path: Path
    error: type[Exception]
    match: str


def crafted(path: Path, marker: Path, lightning: bool = False) -> Path:
    """Write a checkpoint whose unpickling would create ``marker``.

    Args:
        path: Destination (``.pth`` or ``.ckpt``).
        marker: The file the payload would create.
        lightning: Shape it like a Lightning checkpoint (payload in the
            hyperparameters) rather than a reference SatMAE one (in ``args``).

    Returns:
        ``path``.
    """
    payload = TouchWithSystem(marker)
    if lightning:
        ckpt = {
            "state_dict": {"model.w": torch.zeros(1)},
            "hyper_parameters": {"lr": 0.1, "hook": payload},
        }
    else:
        ckpt = {"model": {"w": torch.zeros(1)}, "epoch": 1, "args": payload}
    torch.save(ckpt, path)
    return path


def bad_files(root: Path) -> dict[str, BadFile]:
    """Write every kind of bad checkpoint file under ``root``.

    Args:
        root: An empty directory.

    Returns:
        Case name -> :class:`BadFile`; ``marker`` (``root / "pwned"``) must never
        exist afterwards.
    """
    marker = root / "pwned"
    text = root / "notes.pth"
    text.write_text("these are not weights\n")
    empty = root / "empty.ckpt"
    empty.write_bytes(b"")
    folder = root / "folder.pth"
    folder.mkdir()
    good = root / "good.pth"
    torch.save({"model": {"w": torch.zeros(64, 64)}}, good)
    truncated = root / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other_zip = root / "archive.pth"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("readme.txt", "a zip, but not a checkpoint")
    touch_path = root / "crafted_path.pth"
    torch.save({"model": {}, "args": TouchWithPath(marker)}, touch_path)
    tensor = root / "tensor.pth"
    torch.save(torch.zeros(2), tensor)
    not_torch = "is not a PyTorch checkpoint"
    unsafe = r"was refused: it holds posix\.system, which is not allowed.*was run"
    return {
        "crafted_pth": BadFile(
            crafted(root / "crafted.pth", marker), ValueError, unsafe
        ),
        "crafted_ckpt": BadFile(
            crafted(root / "crafted.ckpt", marker, lightning=True),
            ValueError,
            unsafe,
        ),
        "crafted_path_touch": BadFile(touch_path, ValueError, r"builtins\.getattr"),
        "text": BadFile(text, ValueError, not_torch + r".*text file starting with"),
        "empty": BadFile(empty, ValueError, not_torch + r".*the file is empty"),
        "directory": BadFile(folder, ValueError, "is a directory"),
        "truncated_zip": BadFile(truncated, ValueError, r"truncated or corrupt"),
        "zip_not_torch": BadFile(other_zip, ValueError, "not a readable PyTorch"),
        "not_a_dict": BadFile(tensor, ValueError, "holds a Tensor; expected"),
        "missing": BadFile(root / "missing.pth", FileNotFoundError, "does not exist"),
    }
