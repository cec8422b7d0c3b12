"""Atomic writes of text and figures (temporary file in the same folder, then rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

__all__ = ["save_figure", "write_text"]


def _temp_path(target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    return Path(name)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically.

    Args:
        path: Destination file; its folder is created if missing.
        text: Content (UTF-8).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    tmp = _temp_path(target)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, e.g. ``.png``).

    Args:
        fig: The figure.
        path: Destination file; its folder is created if missing.
        dpi: Resolution.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    tmp = _temp_path(target)
    try:
        fig.savefig(
            tmp, dpi=dpi, bbox_inches="tight", format=target.suffix[1:] or "png"
        )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
