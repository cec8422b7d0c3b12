"""The ``torchgeo-composition`` command line.

``fit | validate | test | predict`` are a :class:`~lightning.pytorch.cli.LightningCLI`
(:class:`CompositionCLI`) whose model and datamodule are any
:class:`torchgeo.trainers.BaseTask` and :class:`torchgeo.datamodules.BaseDataModule`
(ours, TorchGeo's or a plugin's), chosen in subclass mode. The other commands
(``compose`` ...) are listed in :data:`COMMANDS` and take their own arguments.

Bad input ends with one ``error: ...`` line on stderr and exit code 2; ``--debug``
(or ``TORCHGEO_COMPOSITION_DEBUG=1``) shows the traceback instead. A ``fit``
stopped by SIGTERM exits with 143 (128 + 15).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence

from jsonargparse import ArgumentError, DefaultHelpFormatter
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .. import __version__
from ..compat import UnsupportedTorchGeoError, check_torchgeo_version
from ..plugins import load_plugins
from .checkpoint import ResumableCheckpoint
from .errors import (
    DEBUG_ENV,
    INPUT_ERRORS,
    debug_requested,
    error_line,
    unknown_command,
)
from .lightning import CompositionCLI, end_distributed
from .quiet import quiet_lightning
from .resume import ResumeState

__all__ = [
    "COMMANDS",
    "LIGHTNING_COMMANDS",
    "PROG",
    "CompositionCLI",
    "ResumableCheckpoint",
    "ResumeState",
    "lightning_main",
    "main",
    "resolve_command",
]

#: Name of the console script.
PROG = "torchgeo-composition"

#: Commands besides Lightning's, as ``name -> (module:function, one-line help)``.
#: Each function takes the remaining argument list and returns an exit code.
COMMANDS: dict[str, tuple[str, str]] = {
    "compose": (
        "torchgeo_composition.commands.compose:main",
        "build a stratified pretraining set: manifest, summary, map",
    ),
    "pack": (
        "torchgeo_composition.commands.pack:main",
        "write a manifest's samples as a streamable pack (folder or s3://)",
    ),
    "diversity": (
        "torchgeo_composition.commands.diversity:main",
        "spectral-entropy report of a pretraining set: JSON, Markdown, plots",
    ),
    "correlate": (
        "torchgeo_composition.commands.correlate:main",
        "correlate diversity measures with downstream results: rho/p table, plots",
    ),
    "cka": (
        "torchgeo_composition.commands.cka:main",
        "linear CKA between backbones' features: heat-map PNG and table",
    ),
    "study": (
        "torchgeo_composition.commands.study:main",
        "run a comparative study: compose, pretrain, probe, correlate (resumable)",
    ),
}

LIGHTNING_COMMANDS = ("fit", "validate", "test", "predict")
_ALL_COMMANDS = (*LIGHTNING_COMMANDS, *COMMANDS)

#: Parser errors and input errors: one line, exit code 2.
_INPUT: tuple[type[Exception], ...] = (ArgumentError, *INPUT_ERRORS)

#: Exit code of a run stopped by SIGTERM (128 + signal number), as a shell reports it.
SIGTERM_EXIT = 143

# As in TorchGeo's own CLI: sensible GDAL settings for reading many small rasters.
_RASTERIO_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_MAX_RAW_BLOCK_CACHE_SIZE": "200000000",
    "GDAL_SWATH_SIZE": "200000000",
}


def _description() -> str:
    lines = [
        "torchgeo-composition: geographically stratified pretraining sets, SatMAE, "
        "backbone fusion and spectral diversity for TorchGeo.",
        "",
        "Lightning commands: " + ", ".join(LIGHTNING_COMMANDS),
        "Other commands (run 'torchgeo-composition COMMAND --help'):",
    ]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += [
        "",
        "Bad input ends with one 'error:' line; --debug (or "
        "TORCHGEO_COMPOSITION_DEBUG=1) shows the traceback.",
    ]
    return "\n".join(lines)


class _HelpFormatter(DefaultHelpFormatter):
    """Keeps the line breaks of the description (the list of commands)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "".join(indent + line for line in text.splitlines(keepends=True))


def resolve_command(target: str) -> Callable[[list[str]], int | None]:
    """Import the function of a command.

    Args:
        target: ``module:function``, as in :data:`COMMANDS`.

    Returns:
        The function.
    """
    module_name, _, func_name = target.partition(":")
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int | None] = getattr(module, func_name)
    return func


def lightning_main(args: Sequence[str] | None = None) -> CompositionCLI:
    """Run the Lightning commands (``fit``, ``validate``, ``test``, ``predict``).

    Errors propagate (:func:`main` turns them into one line).

    Args:
        args: Command-line arguments (without the program name); ``None`` reads
            :data:`sys.argv`.

    Returns:
        The :class:`CompositionCLI` instance, with ``trainer``, ``model`` and
        ``datamodule`` attributes.
    """
    quiet_lightning()
    sub = {"exit_on_error": False}
    return CompositionCLI(
        args,
        parser_kwargs={
            "prog": PROG,
            "version": __version__,
            "description": _description(),
            "formatter_class": _HelpFormatter,
            "exit_on_error": False,
            **{name: dict(sub) for name in LIGHTNING_COMMANDS},
        },
    )


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _run_lightning(argv: list[str] | None, debug: bool) -> int:
    try:
        lightning_main(argv)
    except SIGTERMException:
        end_distributed(barrier=False)  # every rank stops after the same step
        print("stopped by SIGTERM; continue with --ckpt_path last", file=sys.stderr)
        return SIGTERM_EXIT
    except _INPUT as err:
        # no end_distributed here: the other ranks may be inside a collective,
        # and destroying the group then can wait for them forever
        if debug:
            traceback.print_exc()
        choice = re.search(r"subcommand: invalid choice: '([^']*)'", str(err))
        if choice:
            return _fail(unknown_command(choice.group(1), _ALL_COMMANDS))
        if 'expected "subcommand"' in str(err):
            commands = ", ".join(_ALL_COMMANDS)
            return _fail(f"no command given (commands: {commands}); see {PROG} --help")
        return _fail(error_line(err))
    return 0


def main(args: Sequence[str] | None = None) -> int:
    """Entry point of the ``torchgeo-composition`` console script.

    Loads every ``torchgeo_composition.plugins`` entry point first, so that short
    class names resolve in configs, then dispatches to a command.

    Args:
        args: Command-line arguments (without the program name); ``None`` reads
            :data:`sys.argv`.

    Returns:
        The process exit code: 0, 2 for bad input (one ``error:`` line), 143
        after SIGTERM.
    """
    argv = list(sys.argv[1:] if args is None else args)
    debug = debug_requested(argv)
    previous = os.environ.get(DEBUG_ENV)
    if debug:
        os.environ[DEBUG_ENV] = "1"  # for the other ranks of a distributed run
    try:
        return _dispatch(argv, args is None, debug)
    finally:  # an in-process call leaves the environment as it found it
        if previous is None:
            os.environ.pop(DEBUG_ENV, None)
        else:
            os.environ[DEBUG_ENV] = previous


def _dispatch(argv: list[str], from_sys_argv: bool, debug: bool) -> int:
    for key, value in _RASTERIO_ENV.items():
        os.environ.setdefault(key, value)
    try:
        check_torchgeo_version()
    except UnsupportedTorchGeoError as err:
        return _fail(str(err))
    load_plugins()
    if argv and argv[0] in COMMANDS:
        code = resolve_command(COMMANDS[argv[0]][0])(argv[1:])
        return int(code or 0)
    if argv and not argv[0].startswith("-") and argv[0] not in LIGHTNING_COMMANDS:
        return _fail(unknown_command(argv[0], _ALL_COMMANDS))
    if from_sys_argv:
        # Lightning's DDP launcher starts the other ranks with sys.argv
        sys.argv[1:] = argv
    return _run_lightning(None if from_sys_argv else argv, debug)
