"""What every jsonargparse command shares: its parser, the call, the error line.

A command builds its parser with :func:`command_parser` (``--config`` plus the
typed arguments of the library function it runs) and runs with
:func:`run_command`, which parses, instantiates the classes given on the command
line or in the config, calls the function with its arguments and shows the
result; bad input ends with one ``<prog>: error: <message>`` line and exit code 2.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from jsonargparse import (  # type: ignore[attr-defined]
    ActionConfigFile,
    ArgumentParser,
    Namespace,
)

__all__ = ["INPUT_ERRORS", "command_parser", "fail", "run_command"]

#: Exceptions that mean bad input: reported as one error line, exit code 2.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    FileNotFoundError,
    PermissionError,
    NotADirectoryError,
    IsADirectoryError,
)

T = TypeVar("T")


def command_parser(
    prog: str,
    description: str,
    function: Callable[..., Any] | None = None,
    skip: Iterable[str] = (),
) -> ArgumentParser:
    """Return a parser taking ``--config`` and the typed arguments of ``function``.

    Args:
        prog: Program name shown in help and error lines.
        description: One-paragraph description shown by ``--help``.
        function: Library function whose typed parameters become arguments.
        skip: Parameters of ``function`` the caller adds itself (or omits).

    Returns:
        The parser (more arguments can be added to it).
    """
    parser = ArgumentParser(prog=prog, description=description, exit_on_error=True)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config file")
    if function is not None:
        parser.add_function_arguments(function, fail_untyped=True, skip=set(skip))
    return parser


def fail(prog: str, err: BaseException) -> int:
    """Print ``<prog>: error: <err>`` to stderr.

    Args:
        prog: Program name.
        err: The error.

    Returns:
        2, the exit code of bad input.
    """
    print(f"{prog}: error: {err}", file=sys.stderr)
    return 2


def run_command(
    parser: ArgumentParser,
    function: Callable[..., T],
    argv: Sequence[str],
    show: Callable[[T], int | None],
    prepare: Callable[[ArgumentParser, Namespace], Namespace] | None = None,
) -> int:
    """Parse ``argv``, call ``function`` with its arguments and show the result.

    Args:
        parser: The command's parser (see :func:`command_parser`).
        function: Called with the parsed values of its own parameters, classes
            instantiated.
        argv: Command-line arguments after the command name.
        show: Prints the result; may return an exit code (``None`` means 0).
        prepare: Adjusts the parsed config before instantiation (e.g. merges
            values read from another file); may raise an input error.

    Returns:
        The exit code: that of ``show``, or 2 after an input error (printed as one
        line; see :data:`INPUT_ERRORS`).
    """
    cfg = parser.parse_args(list(argv))
    try:
        if prepare is not None:
            cfg = prepare(parser, cfg)
        # ``instantiate`` replaces ``instantiate_classes`` in jsonargparse >= 4.49.
        instantiate = getattr(parser, "instantiate", None) or parser.instantiate_classes
        init = instantiate(cfg)
        names = inspect.signature(function).parameters
        result = function(**{k: v for k, v in vars(init).items() if k in names})
    except INPUT_ERRORS as err:
        return fail(parser.prog, err)
    code = show(result)
    return 0 if code is None else code
