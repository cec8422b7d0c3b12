"""File writes the whole package relies on: atomic replacement, writable folders, locks.

Every file the project writes (manifests, indexes, chips, checkpoints, reports,
figures) goes through these helpers, so a crash or an error never leaves a
half-written file under its final name. Temporary files are hidden
(``.tmp-<pid>-<token>-<name>``), keep the target's suffix, and get the ordinary
permissions of a new file; :func:`remove_stale_temps` removes those of killed
writers. Where two writers can meet, :func:`file_lock` serialises them and names
the holder to the one that waits.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "FileLockedError",
    "LockHolder",
    "atomic_path",
    "atomic_paths",
    "ensure_writable_dir",
    "file_lock",
    "lock_path",
    "remove_stale_temps",
    "save_figure",
    "write_text",
]

#: Name of a temporary file of :func:`atomic_paths`: pid, token, target name.
_TEMP_NAME = re.compile(r"^\.tmp-(\d+)-[0-9a-f]+-(.+)$")


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


class FileLockedError(ValueError):
    """Another process holds the lock of a file and did not release it in time."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock (written to ``<path>.lock.info`` while it is held).

    Attributes:
        pid: Process id of the holder.
        host: Host name of the holder.
        command: The holder's command line.
        started: When the holder took the lock (local time, ISO 8601).
        acquired: The same moment as a POSIX timestamp.
    """

    pid: int
    host: str
    command: str
    started: str
    acquired: float

    def describe(self) -> str:
        """Return ``pid <pid> on <host> (command: <command>, since <started>)``.

        Returns:
            A one-line description for messages.
        """
        return (
            f"pid {self.pid} on {self.host} (command: {self.command!r}, since "
            f"{self.started})"
        )


def lock_path(path: str | os.PathLike[str]) -> Path:
    """Return the lock file guarding ``path``: ``<path>.lock``.

    Args:
        path: The guarded file.

    Returns:
        The lock file's path.
    """
    target = Path(path)
    return target.with_name(f"{target.name}.lock")


def _info_path(lock: Path) -> Path:
    return lock.with_name(f"{lock.name}.info")


def _read_holder(lock: Path) -> LockHolder | None:
    """Read who holds ``lock`` (None when unknown or unreadable)."""
    try:
        data = json.loads(_info_path(lock).read_text(encoding="utf-8"))
        return LockHolder(
            int(data["pid"]),
            str(data["host"]),
            str(data["command"]),
            str(data["started"]),
            float(data["acquired"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _new_holder() -> LockHolder:
    now = time.time()
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else ""
    return LockHolder(
        os.getpid(),
        socket.gethostname(),
        command[:300],
        datetime.fromtimestamp(now).astimezone().isoformat(timespec="seconds"),
        now,
    )


#: Seconds a waiter waits before it says whom it waits for.
_QUIET_WAIT_S = 1.0

#: Locks this process holds: (lock path, thread id) -> [lock, depth, holder].
_HELD: dict[tuple[str, int], list[Any]] = {}


@contextlib.contextmanager
def file_lock(
    path: str | os.PathLike[str],
    what: str = "file",
    timeout: float | None = 600.0,
) -> Iterator[LockHolder | None]:
    """Hold the lock of ``path`` (the file ``<path>.lock``) for the body.

    A second writer of the same path, in another process or thread, waits for
    the lock (after a second, it says once on stderr whom it waits for) at most
    ``timeout`` seconds, then fails with :class:`FileLockedError` naming the holder: its
    pid, host, command and start time, which the holder writes to
    ``<path>.lock.info`` while it holds the lock. The lock is an operating-system
    lock on ``<path>.lock`` (:class:`filelock.FileLock`): it is released when
    the holder exits or is killed, so a crash leaves no stale lock. The lock file
    itself stays (removing it would break the lock for a process waiting on it).
    The lock is re-entrant in the same thread. In a folder this process cannot
    write no lock is taken: nothing can be written there.

    Args:
        path: The guarded file.
        what: What the file is, for messages (e.g. ``"manifest"``).
        timeout: Seconds to wait for the lock; ``None`` waits for ever, 0 fails at
            once (without the waiting line).

    Yields:
        This process's :class:`LockHolder` entry, or ``None`` when no lock was
        taken (read-only folder).

    Raises:
        FileLockedError: If the lock is still held after ``timeout`` seconds.
    """
    lock = lock_path(path)
    key = (str(lock.absolute()), threading.get_ident())
    held = _HELD.get(key)
    if held is not None:
        held[1] += 1
        try:
            yield held[2]
        finally:
            held[1] -= 1
        return
    if not lock.exists() and not os.access(lock.parent, os.W_OK):
        yield None
        return
    flock = FileLock(str(lock))
    quiet = _QUIET_WAIT_S if timeout is None else min(timeout, _QUIET_WAIT_S)
    try:  # a short wait goes unannounced
        flock.acquire(timeout=quiet)
    except Timeout:
        holder = _read_holder(lock)
        who = f"{what} {str(path)!r} is locked by "
        left = None if timeout is None else timeout - quiet
        if left is None or left > 0:  # no waiting line when there is no wait
            wait = "for ever" if left is None else f"up to {left:g} s more"
            name = holder.describe() if holder else "another process"
            print(f"{who}{name}; waiting {wait}", file=sys.stderr, flush=True)
        try:
            flock.acquire(timeout=-1 if left is None else left)
        except Timeout:
            holder = _read_holder(lock) or holder
            name = holder.describe() if holder else "another process"
            waited = f" (waited {timeout:g} s)" if timeout else ""
            raise FileLockedError(
                f"{who}{name}: another run is writing it{waited}. Wait for that run "
                "to finish and try again, or choose another path (lock file "
                f"{str(lock)!r})"
            ) from None
    me = _new_holder()
    _HELD[key] = [flock, 0, me]
    try:
        write_text(_info_path(lock), json.dumps(asdict(me)))
        yield me
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            _info_path(lock).unlink()
        flock.release()


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` may be running on this host (True when unsure)."""
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(*targets: str | os.PathLike[str], before: float) -> list[Path]:
    """Remove temporary files that a killed writer left next to ``targets``.

    :func:`atomic_paths` writes ``.tmp-<pid>-<token>-<name>`` and renames it; a
    writer killed in between leaves it behind. Such a file is removed when it was
    last modified before ``before`` (the moment the caller took the target's
    lock, so no writer that respects the lock can still be writing it) and no
    process ``<pid>`` runs on this host. Call it while holding the lock
    (:func:`file_lock`).

    Args:
        *targets: Final file paths whose orphans to remove.
        before: POSIX timestamp; newer temporary files are kept.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    for target in map(Path, targets):
        if not target.parent.is_dir():
            continue
        for entry in target.parent.glob(f".tmp-*-{glob.escape(target.name)}"):
            match = _TEMP_NAME.match(entry.name)
            if match is None or match.group(2) != target.name:
                continue
            try:
                modified = entry.stat().st_mtime
            except FileNotFoundError:
                continue
            if modified >= before or _alive(int(match.group(1))):
                continue
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry)
    return removed
