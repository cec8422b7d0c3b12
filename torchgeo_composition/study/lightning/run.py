"""Run ``torchgeo-composition`` commands for the study's Lightning steps.

A step runs the real CLI on the config written to its folder, as a subprocess by
default (so every step uses whatever strategy, devices and nodes its config
gives) or in the current process (faster for small studies).

A subprocess never outlives its study unsupervised. It runs in its own process
group, which the study stops (SIGTERM, then SIGKILL after
:data:`STOP_GRACE_S` seconds) when the study ends for any reason while the step
runs: an error, Ctrl-C, or SIGTERM, which the study turns into an exit with
code 143 while it waits for a step. On Linux the child also asks the kernel for
SIGTERM when the study process dies (``prctl(PR_SET_PDEATHSIG)``), so even a
SIGKILL'd study stops it; Lightning then ends the run after the current batch.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Literal, TextIO

from ..completion import completion_path

__all__ = [
    "EXECUTORS",
    "LAUNCHER_ENV",
    "STOP_GRACE_S",
    "Executor",
    "die_with_parent",
    "last_error_line",
    "run_cli",
    "run_supervised",
    "sigterm_exits",
]

Executor = Literal["subprocess", "inprocess"]

#: How Lightning steps run: a ``python -m torchgeo_composition.cli`` subprocess
#: (default) or the CLI called in the current process (faster for small studies).
EXECUTORS: tuple[str, ...] = ("subprocess", "inprocess")

#: Environment variable holding a command that launches a subprocess step's CLI
#: (e.g. ``srun --ntasks=4``: one task per device inside a Slurm job).
LAUNCHER_ENV = "TORCHGEO_COMPOSITION_LAUNCHER"

#: Seconds a step's process group has to end after SIGTERM before SIGKILL.
STOP_GRACE_S = 30.0

#: ``prctl`` option asking for a signal when the parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1

#: A line that reports an error: ``error: ...`` or ``SomeError: ...``.
_ERROR_LINE = re.compile(
    r"^(?:[\w.-]*:?\s*error: |(?:[\w.]+\.)?\w*(?:Error|Exception|Interrupt)\b)"
)


def last_error_line(log: Path, offset: int = 0) -> str | None:
    """Return the last line of ``log`` (from byte ``offset``) that reports an error.

    That is a ``error: ...`` line of the CLI, or the last line of a traceback
    (``ValueError: ...``); without such a line, the last non-empty line.

    Args:
        log: The log file.
        offset: Where the output of the run of interest starts.

    Returns:
        The line, or ``None`` when the run wrote nothing.
    """
    try:
        with log.open("rb") as file:
            file.seek(offset)
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else None


def run_cli(args: list[str], log: Path, executor: Executor = "subprocess") -> None:
    """Run ``torchgeo-composition ARGS``, appending its output to ``log``.

    The step folder is ``log``'s folder; the run counts as finished only if the
    trainer wrote its ``completed_<stage>.json`` there
    (:class:`~torchgeo_composition.study.completion.RunCompletionMarker`), since a
    run stopped by SIGTERM may also exit with code 0.

    Args:
        args: Command-line arguments (e.g. ``["fit", "--config", path]``).
        log: Log file.
        executor: ``subprocess`` or ``inprocess``.

    Raises:
        RuntimeError: If the command fails (the message ends with the last
            error line of its output) or was interrupted.
    """
    marker = completion_path(log.parent, args[0])
    marker.unlink(missing_ok=True)
    _flush()  # in-process, standard output and error may be the log
    offset = log.stat().st_size if log.is_file() else 0
    code = _run_cli(args, log, executor)
    _flush()
    if code:
        reason = last_error_line(log, offset)
        raise RuntimeError(
            f"torchgeo-composition {args[0]} exited with {code}"
            + (f": {reason}" if reason else "")
        )
    if not marker.is_file():
        raise RuntimeError(
            f"torchgeo-composition {args[0]} ended without completing (interrupted, "
            f"e.g. by SIGTERM); no {marker.name} was written"
        )


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


def _run_cli(args: list[str], log: Path, executor: Executor) -> int:
    if executor == "subprocess":
        launcher = shlex.split(os.environ.get(LAUNCHER_ENV, ""))
        command = [*launcher, sys.executable, "-m", "torchgeo_composition.cli", *args]
        with log.open("a") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            return run_supervised(command, out)
    from ...cli import main

    print(f"$ torchgeo-composition {' '.join(args)}", flush=True)
    try:
        with _log_handlers_to(sys.stderr):
            return main(args)
    except SystemExit as err:  # argument errors of the CLI
        return err.code if isinstance(err.code, int) else 1


#: Loggers whose console handlers an in-process run points at the step's log.
_LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric", "lightning")


@contextlib.contextmanager
def _log_handlers_to(stream: TextIO) -> Iterator[None]:
    """Point Lightning's console log handlers at ``stream`` for the body.

    They hold the standard error of when Lightning was imported, so an
    in-process run's "GPU available" lines would reach the console instead of
    the step's log.
    """
    changed: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
    for name in _LIGHTNING_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                changed.append((handler, handler.setStream(stream) or stream))
    try:
        yield
    finally:
        for handler, previous in changed:
            handler.setStream(previous)


def die_with_parent(parent: int) -> Callable[[], None]:
    """Return a function that makes the calling process get SIGTERM when ``parent`` dies.

    Call the function in the child (e.g. as a ``preexec_fn``, or first thing in
    a worker process). On Linux it asks the kernel for the signal
    (``prctl(PR_SET_PDEATHSIG)``); if ``parent`` already died, it sends the
    signal at once.

    Args:
        parent: The pid of the parent process.

    Returns:
        The function.
    """
    libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None

    def preexec() -> None:
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _signal_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def sigterm_exits() -> Iterator[None]:
    """Turn SIGTERM into ``SystemExit(143)`` (so cleanup runs) in the main thread.

    Yields:
        Nothing; outside the main thread it changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _signal_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _has_exited(process: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for ``process`` to exit, without reaping it (its pid stays reserved).

    While it is not reaped, its process group id cannot be reused, so
    ``killpg`` cannot reach an unrelated group.
    """
    if not hasattr(os, "waitid"):  # pragma: no cover
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    if timeout is None:
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        return True
    deadline = time.monotonic() + timeout
    flags = os.WEXITED | os.WNOWAIT | os.WNOHANG
    while os.waitid(os.P_PID, process.pid, flags) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _kill_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def run_supervised(command: list[str], out: TextIO, grace: float = STOP_GRACE_S) -> int:
    """Run ``command`` in its own process group; stop the group if we stop first.

    The command gets SIGTERM when this process dies (Linux). If this function is
    left by an exception (SIGTERM, which it turns into ``SystemExit(143)`` in the
    main thread, Ctrl-C ...), the command's process group gets SIGTERM, then
    SIGKILL after ``grace`` seconds. Whatever the command leaves in its group
    when it exits (e.g. data-loader workers) is killed.

    Args:
        command: The command.
        out: A file object taking the command's standard output and error.
        grace: Seconds between SIGTERM and SIGKILL when the group is stopped.

    Returns:
        The command's exit code.
    """
    process = subprocess.Popen(
        command,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_parent(os.getpid()),
    )
    try:
        try:
            with sigterm_exits():
                _has_exited(process, None)
        except BaseException:
            _kill_group(process, signal.SIGTERM)
            if not _has_exited(process, grace):
                _kill_group(process, signal.SIGKILL)
                _has_exited(process, None)
            raise
    finally:
        _kill_group(process, signal.SIGKILL)  # the group's leftovers
        process.wait()
    return process.returncode
