"""File writes the whole package relies on: atomic replacement and writable folders.

Every file the project writes (manifests, indexes, chips, checkpoints, reports,
figures) goes through these helpers, so a crash or an error never leaves a
half-written file under its final name. Temporary files are hidden
(``.tmp-<token>-<name>``), keep the target's suffix, and get the ordinary
permissions of a new file.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "atomic_path",
    "atomic_paths",
    "ensure_writable_dir",
    "save_figure",
    "write_text",
]


def ensure_writable_dir(path: str | os.PathLike[str], parameter: str = "path") -> Path:
    """Make sure the directory that will hold ``path`` exists and is writable.

    The directory is created if missing; writability is checked by creating and
    removing a probe file, so nothing is written half-way later.

    Args:
        path: the file that is going to be written.
        parameter: name of the argument, for error messages.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        NotADirectoryError: if a component of the directory is a file.
        PermissionError: if the directory cannot be created or written.
    """
    target = Path(path)
    directory = target.parent
    if target.is_dir():
        raise IsADirectoryError(
            f"{parameter}={str(target)!r} is a directory, not a file"
        )
    for ancestor in (directory, *directory.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise NotADirectoryError(
                    f"cannot write {parameter}={str(target)!r}: {str(ancestor)!r} is "
                    "a file, not a directory"
                )
            break
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".{target.name}.{secrets.token_hex(6)}.probe"
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as err:
        raise PermissionError(
            f"cannot write {parameter}={str(target)!r}: output directory "
            f"{str(directory)!r} is not writable ({err.strerror or err})"
        ) from err
    return target


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield temporary paths next to ``paths``; move them into place on success.

    The body writes each temporary path; when it returns, every temporary file is
    renamed onto its target with :func:`os.replace` (atomic on POSIX and
    Windows). If the body raises, the temporary files are removed and the
    targets are left untouched.

    Args:
        *paths: the final file paths (their directories must exist).

    Yields:
        Temporary paths, one per target, in the same directories.
    """
    targets = [Path(p) for p in paths]
    token = f"{os.getpid()}-{secrets.token_hex(4)}"
    temps = [t.with_name(f".tmp-{token}-{t.name}") for t in targets]
    try:
        yield temps
        for temp in temps:
            if not temp.exists():
                raise FileNotFoundError(f"temporary file {str(temp)!r} was not written")
        for temp, target in zip(temps, targets, strict=True):
            os.replace(temp, target)
    finally:
        for temp in temps:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; move it into place on success.

    The folder of ``path`` is created if missing. If the body raises, the
    temporary file is removed and ``path`` is left untouched.

    Args:
        path: The final file path.

    Yields:
        The temporary path to write.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_paths(target) as (temp,):
        yield temp


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: Destination file; its folder is created if missing.
        text: Content.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    with atomic_path(path) as temp:
        temp.write_text(text, encoding="utf-8")
    return Path(path)


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    dpi: int = 120,
    bbox_inches: str | None = "tight",
) -> Path:
    """Save a matplotlib figure atomically (format from the suffix, e.g. ``.png``).

    Args:
        fig: The figure.
        path: Destination file; its folder is created if missing.
        dpi: Resolution.
        bbox_inches: Passed to :meth:`~matplotlib.figure.Figure.savefig`.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    with atomic_path(target) as temp:
        fig.savefig(
            temp, dpi=dpi, bbox_inches=bbox_inches, format=target.suffix[1:] or "png"
        )
    return target
