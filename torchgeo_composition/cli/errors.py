"""One ``error:`` line for bad input on the command line.

Lightning's command line reports bad input in many shapes: jsonargparse's parser
errors (several lines, often a dump of every type a value could have had), the
``ValueError`` of a class's ``__init__`` wrapped in jsonargparse's "Does not
validate against any of the Union subtypes", or an exception raised by a
datamodule's ``setup``. :func:`error_line` turns each into one line that keeps
the parameter, the bad value and the remedy given by the original message.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable, Sequence
from types import TracebackType

from jsonargparse import ArgumentError
from lightning.fabric.utilities.exceptions import MisconfigurationException
from torchgeo.datamodules.utils import (
    MisconfigurationException as DataModuleMisconfiguration,
)

__all__ = [
    "DEBUG_ENV",
    "INPUT_ERRORS",
    "debug_requested",
    "error_line",
    "parser_message",
    "unknown_command",
]

#: Environment variable that, set to ``1``, shows the traceback of every error.
DEBUG_ENV = "TORCHGEO_COMPOSITION_DEBUG"

#: Exceptions that mean bad input on the Lightning path: one line, exit code 2.
INPUT_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    OSError,  # a file or folder that is missing, in the way or not writable
    MisconfigurationException,
    DataModuleMisconfiguration,
)

#: Packages whose frames never name the origin of an error.
_LIBRARIES = frozenset(
    {"jsonargparse", "lightning", "pytorch_lightning", "torch", "typing_extensions"}
)
_CLI = "torchgeo_composition.cli"
_KEY_LINE = re.compile(r'Parser key "([^"]+)":\s*(.*)$')
#: List items of jsonargparse's union dumps that only say "it was not None either".
_NOISE = re.compile(r"^- Expected a <class '(NoneType|bool)'>")


def debug_requested(argv: list[str]) -> bool:
    """Remove ``--debug`` from ``argv``; return whether tracebacks are wanted.

    Args:
        argv: Command-line arguments; changed in place.

    Returns:
        Whether ``--debug`` was given or :data:`DEBUG_ENV` is set to a true value.
    """
    flag = "--debug" in argv
    while "--debug" in argv:
        argv.remove("--debug")
    env = os.environ.get(DEBUG_ENV, "").strip().lower()
    return flag or env not in ("", "0", "false", "no")


def _items(lines: list[str]) -> list[list[str]]:
    """Split the lines below ``Errors:`` into its ``- ...`` items."""
    items: list[list[str]] = []
    indent = None
    for line in lines:
        stripped = line.lstrip()
        width = len(line) - len(stripped)
        if stripped.startswith("- ") and (indent is None or width <= indent):
            indent = width
            items.append([stripped])
        elif indent is not None and width > indent:
            items[-1].append(line)
        else:
            break
    return items


def _tidy(detail: str) -> str:
    """Say jsonargparse's type complaints in plain words."""
    detail = re.sub(r"\s+", " ", detail).strip()
    detail = re.sub(r"<class '([\w.]+)'>", r"\1", detail)
    detail = detail.replace("typing.Literal[", "one of [")
    detail = re.sub(r"^Expected an? ", "expected ", detail)
    return re.sub(r"\. Got value: (.*)$", r", got '\1'", detail)


def _reduce(lines: list[str]) -> tuple[list[str], str]:
    """Return the keys a parser message concerns and its innermost complaint."""
    keys: list[str] = []
    match = _KEY_LINE.match(lines[0].strip()) if lines else None
    if match:
        keys.append(match.group(1))
        lines = [match.group(2), *lines[1:]] if match.group(2) else lines[1:]
    given = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in lines
            if ln.strip().startswith("Given value:")
        ),
        None,
    )
    for i, line in enumerate(lines):
        if line.strip() != "Errors:":
            continue
        items = [it for it in _items(lines[i + 1 :]) if not _NOISE.match(it[0])]
        if not items:
            break
        first, *rest = items[0]
        head = first[2:].strip()
        problem = re.match(r"Problem with given class_path '([^']+)':", head)
        if problem and rest:
            inner_keys, detail = _reduce([ln.strip() for ln in rest])
            if inner_keys:
                return [*keys, "init_args", *inner_keys], detail
            return keys, f"class_path {problem.group(1)!r}: {detail}"
        inner_keys, detail = _reduce([head, *rest])
        if given is not None and "got" not in detail.lower():
            detail = f"{detail}, got {given!r}"
        return [*keys, *inner_keys], detail
    text = [ln.strip() for ln in lines if ln.strip()]
    text = [ln for ln in text if not ln.startswith(("Given value", "Subtypes:"))]
    return keys, _tidy(" ".join(text[:1]) if text else "")


def parser_message(message: str) -> str:
    """Reduce a (multi-line) jsonargparse error message to one line.

    The innermost meaningful error of a union dump is kept (the alternatives that
    only say that the value is not ``None`` are dropped), prefixed with the full
    key it concerns (e.g. ``model.init_args.masking``).

    Args:
        message: The parser's message.

    Returns:
        One line.
    """
    lines = [line for line in message.splitlines() if line.strip()]
    if not lines:
        return message.strip()
    keys, detail = _reduce(lines)
    detail = _tidy(detail) or _tidy(lines[0])
    key = ".".join(keys)
    return f"{key}: {detail}" if key and not detail.startswith(key) else detail


def _origin(tb: TracebackType | None) -> str | None:
    """Return the class of the deepest method in a traceback that is not library code."""
    found = None
    while tb is not None:
        local = tb.tb_frame.f_locals.get("self")
        module = type(local).__module__ if local is not None else ""
        root = module.split(".")[0]
        library = root in _LIBRARIES or root in sys.stdlib_module_names
        library = library or module.startswith(_CLI)
        if local is not None and not library:
            found = type(local).__name__
        tb = tb.tb_next
    return found


def _raised_by_parser(err: BaseException) -> bool:
    """Whether ``err`` is jsonargparse's (or Lightning's) wrapper of another error."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return str(module).split(".")[0] in ("jsonargparse", "lightning")


def error_line(err: BaseException) -> str:
    """Return the one-line message of an input error.

    Exceptions wrapped by jsonargparse or Lightning are unwrapped to the one that
    was raised first (``__cause__``); its class is named when the error came
    from a class of the configuration (e.g. ``SatMAETask: mask_ratio ...``).

    Args:
        err: The error.

    Returns:
        The message, on one line.
    """
    if isinstance(err, ArgumentError):  # the parser's own message names the key
        return parser_message(str(err))
    inner = err
    while inner.__cause__ is not None and _raised_by_parser(inner):
        inner = inner.__cause__
    text = str(inner)
    if isinstance(inner, OSError) and inner.filename is not None and inner.strerror:
        text = f"{inner.strerror}: {str(inner.filename)!r}"
    message = parser_message(text) if "\n" in text.strip() else text.strip()
    if not message:
        message = type(inner).__name__
    origin = _origin(inner.__traceback__)
    if origin and not message.startswith(origin):
        message = f"{origin}: {message}"
    return message


def unknown_command(name: str, commands: Iterable[str]) -> str:
    """Return the message for an unknown command, with the closest match.

    Args:
        name: What was typed.
        commands: Every command.

    Returns:
        One line naming every command (and the closest one, if any is close).
    """
    names: Sequence[str] = list(commands)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown command {name!r}{hint} (commands: {', '.join(names)})"
