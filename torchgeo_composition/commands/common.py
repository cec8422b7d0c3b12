"""What every jsonargparse command shares: its parser, the call, the error line.

A command builds its parser with :func:`command_parser` (``--config`` plus the
typed arguments of the library function it runs) and runs with
:func:`run_command`, which parses, checks that the output folders can be
written, instantiates the classes given on the command line or in the config,
calls the function with its arguments and shows the result.

Bad input (a parser error, an input error of :data:`INPUT_ERRORS`, or an
:class:`OSError` such as an unwritable or full output folder) ends with one line
``error: <message>`` on stderr and exit code 2; the message names the parameter,
the bad value and the valid choices or the remedy. ``--debug`` anywhere on the
command line (or the environment variable ``TORCHGEO_COMPOSITION_DEBUG=1``) also
prints the traceback, above that line.
"""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from jsonargparse import (  # type: ignore[attr-defined]
    ActionConfigFile,
    ArgumentError,
    ArgumentParser,
    Namespace,
)

from ..cli.errors import DEBUG_ENV, debug_requested, error_line
from ..files import ensure_writable_dir

__all__ = [
    "DEBUG_ENV",
    "INPUT_ERRORS",
    "check_output_dir",
    "command_parser",
    "fail",
    "run_command",
]

#: Exceptions that mean bad input: reported as one error line, exit code 2.
#: :class:`OSError` covers a missing, unreadable or unwritable file or folder and
#: a full disk.
INPUT_ERRORS: tuple[type[Exception], ...] = (ArgumentError, ValueError, OSError)

T = TypeVar("T")


def command_parser(
    prog: str,
    description: str,
    function: Callable[..., Any] | None = None,
    skip: Iterable[str] = (),
) -> ArgumentParser:
    """Return a parser taking ``--config`` and the typed arguments of ``function``.

    Parse errors are raised (as :class:`jsonargparse.ArgumentError`) for
    :func:`run_command` to report on one line; ``--help`` still exits 0.

    Args:
        prog: Program name shown in help and error lines.
        description: One-paragraph description shown by ``--help``.
        function: Library function whose typed parameters become arguments.
        skip: Parameters of ``function`` the caller adds itself (or omits).

    Returns:
        The parser (more arguments can be added to it).
    """
    parser = ArgumentParser(
        prog=prog,
        description=description
        + " Bad input ends with one 'error:' line (exit code 2); --debug shows the "
        "traceback.",
        exit_on_error=False,
    )
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config file")
    if function is not None:
        parser.add_function_arguments(function, fail_untyped=True, skip=set(skip))
    return parser


def _debugging() -> bool:
    value = os.environ.get(DEBUG_ENV, "").strip().lower()
    return value not in ("", "0", "false", "no")


def _class_keys(cfg: Namespace | None) -> dict[str, str]:
    """Class name -> argument key, for the classes given by ``class_path``."""
    found: dict[str, list[str]] = {}
    if cfg is None:
        return {}
    for key in cfg.keys():
        if key.endswith(".class_path") and isinstance(cfg.get(key), str):
            name = str(cfg.get(key)).rsplit(".", 1)[-1]
            found.setdefault(name, []).append(key[: -len(".class_path")])
    return {name: keys[0] for name, keys in found.items() if len(keys) == 1}


def _message(
    err: BaseException, cfg: Namespace | None, hints: Mapping[str, str]
) -> str:
    """The one-line message: the key of the class that failed, and a hint."""
    line = " ".join(error_line(err).split())
    name, sep, rest = line.partition(": ")
    key = _class_keys(cfg).get(name) if sep else None
    if key is not None:
        line = f"{key} ({name}): {rest}"
    for prefix, hint in hints.items():
        if line.startswith((f"{prefix}:", f"{prefix} (", f"{prefix}.")):
            line = f"{line}; {hint}"
    return line


def fail(prog: str, err: BaseException, debug: bool | None = None) -> int:
    """Print ``error: <message>`` (one line) to stderr; the traceback when debugging.

    Args:
        prog: Program name (shown above the traceback when debugging).
        err: The error; jsonargparse's multi-line messages and wrapped errors
            are reduced to the line that names the parameter and the remedy.
        debug: Print the traceback first; ``None`` reads the environment
            variable ``TORCHGEO_COMPOSITION_DEBUG``.

    Returns:
        2, the exit code of bad input.
    """
    return _report(prog, err, _message(err, None, {}), debug)


def _report(prog: str, err: BaseException, line: str, debug: bool | None) -> int:
    if debug if debug is not None else _debugging():
        print(f"{prog}: traceback (--debug):", file=sys.stderr)
        traceback.print_exception(err, file=sys.stderr)
    print(f"error: {line}", file=sys.stderr)
    return 2


def check_output_dir(path: str | os.PathLike[str], parameter: str, first: str) -> Path:
    """Make sure an output folder exists (or can be made) and is writable.

    Called before any work, so that a run never computes for hours and then
    fails to write.

    Args:
        path: The output folder.
        parameter: Its argument name, for the message.
        first: Name of the first file that will be written into it.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        NotADirectoryError: If ``path`` or a folder above it is a file.
        PermissionError: If the folder cannot be created or written.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"{parameter}={str(folder)!r} is a file, not a folder; give a folder path"
        )
    ensure_writable_dir(folder / first, parameter)
    return folder


def _missing_folders(folder: Path) -> list[Path]:
    """Return the folders of ``folder``'s path that do not exist yet, deepest first."""
    return [p for p in (folder, *folder.parents) if not p.exists()]


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove the output folders a failed command created, if still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            continue


def run_command(
    parser: ArgumentParser,
    function: Callable[..., T],
    argv: Sequence[str],
    show: Callable[[T], int | None],
    prepare: Callable[[ArgumentParser, Namespace], Namespace] | None = None,
    outputs: Mapping[str, str] | None = None,
    hints: Mapping[str, str] | None = None,
) -> int:
    """Parse ``argv``, call ``function`` with its arguments and show the result.

    Args:
        parser: The command's parser (see :func:`command_parser`).
        function: Called with the parsed values of its own parameters, classes
            instantiated.
        argv: Command-line arguments after the command name; ``--debug``
            anywhere prints the traceback of an error.
        show: Prints the result; may return an exit code (``None`` means 0).
        prepare: Adjusts the parsed config before instantiation (e.g. merges
            values read from another file); may raise an input error.
        outputs: Output-folder arguments -> the first file written there; each
            folder given (not ``None``) is checked to be writable before any
            class is instantiated (see :func:`check_output_dir`).
        hints: Argument key -> remedy appended to an error about that argument
            (e.g. the valid choices jsonargparse does not list).

    Returns:
        The exit code: that of ``show``, or 2 after bad input (printed as one
        line; see :data:`INPUT_ERRORS`).
    """
    args = list(argv)
    debug = debug_requested(args)
    cfg = None
    made: list[Path] = []
    try:
        cfg = parser.parse_args(args)
        if prepare is not None:
            cfg = prepare(parser, cfg)
        for key, first in (outputs or {}).items():
            if cfg.get(key) is not None:
                made += _missing_folders(Path(cfg[key]))
                check_output_dir(cfg[key], key, first)
        # ``instantiate`` replaces ``instantiate_classes`` in jsonargparse >= 4.49.
        instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
        init = instantiate(cfg)
        names = inspect.signature(function).parameters
        result = function(**{k: v for k, v in vars(init).items() if k in names})
    except INPUT_ERRORS as err:
        _remove_empty(made)
        return _report(parser.prog, err, _message(err, cfg, hints or {}), debug)
    code = show(result)
    return 0 if code is None else code
